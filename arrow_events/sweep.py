"""Sweeps: many independent simulations (scenarios x seeds), their metrics, and the spread of those.

Each (scenario, seed) is a path. Paths that can run together (arrow_events.engine.paths: the
same census, years and options, configs differing only in [scenario] values and plan design rules)
are grouped into batches, each simulated as one plan per year (arrow_events.batch), sized to fit
the memory limit (1 GB by default) or ``batch_paths``. Layout of a sweep directory ``out``:

    metrics.parquet                            the report's yearly metrics of every path of the sweep: one row
                                               per scenario, seed, year and plan design (scenario, scenario_id,
                                               seed, then yearly_metrics' columns)
    distribution.parquet                       percentiles over the paths (see ``percentiles``)
    distribution.png                           the fan chart (charts.fan_chart)
    batches/<digest>.parquet                   a finished batch's metrics, its runs' identities in the file's
                                               metadata; written last and whole (temp file + rename)
    runs/<scenario>/seed=<s>/warehouse/        the path's warehouse, for the seeds asked for (keep_warehouses),
                                               the bytes ``arrow-events run`` writes of it
    runs/<scenario>/seed=<s>/run.json          what that run is (scenario, seed, config sha256, years, census)
    census/<sha256 prefix>.arrow               the checked census every batch memory-maps (when one is given),
                                               and beside it the rows set aside with --on-bad-rows skip
    rejects/census_rejects.csv                 those rows, listed once for the sweep

A path is done when a batch file lists it with the same scenario, seed, config, years and census: re-running
a sweep (after a kill, a failure or with more seeds) batches only what is missing (resume works per batch),
and a path whose config changed is done again.

Batches run in worker processes (``executor="local"``, started with "spawn" so that no DataFusion
thread is ever forked) or as Ray tasks (``executor="ray"``). A batch that fails, even by its process
dying, is reported with its paths' seeds; the others go on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.batch import simulate_paths
from arrow_events.census.intake import Census, read_census
from arrow_events.config import Config, Scenario, config_from_dict, for_run, load_config, read_toml, unknown_key
from arrow_events.engine.paths import batch_key
from arrow_events.errors import UserError, error_line, os_reason
from arrow_events.execute.pool import map_jobs
from arrow_events.execute.ray_tasks import import_ray, ray_session
from arrow_events.options import EXECUTORS, OptionError, RunOptions, with_values
from arrow_events.simulation import DEFAULT_EMPLOYEES
from arrow_events.warehouse.report import charts_available
from arrow_events.warehouse.writer import exclusive, replace_atomically, write_json

PERCENTILES = (5, 25, 50, 75, 95)
# the metrics whose spread is computed; employer_cost is match + core (a percentile of a sum is not a sum)
METRICS = ("participation_rate", "mean_deferral_rate", "employer_cost_rate", "employer_cost", "employer_match",
           "employer_core", "employee_deferrals", "actives")
DISTRIBUTION_SCHEMA = pa.schema(
    [("scenario", pa.string()), ("simulation_year", pa.int32()), ("plan_design_id", pa.string()),
     ("metric", pa.string()), ("runs", pa.int64())] + [(f"p{p}", pa.float64()) for p in PERCENTILES])
RUN_FILE, METRICS_FILE = "run.json", "metrics.parquet"
DISTRIBUTION_FILE, CHART_FILE = "distribution.parquet", "distribution.png"
LOCK_FILE, BATCHES = ".sweep.lock", "batches"
SWEEP_ENTRIES = {"runs", "census", "rejects", BATCHES, METRICS_FILE, DISTRIBUTION_FILE, CHART_FILE, LOCK_FILE}
RUNS_KEY = b"arrow_events.runs"  # a batch file's metadata: the identities of the runs it measured
# Batch sizing: what a batch may use unless --memory-limit says otherwise, what a process holds before any
# path (Python, DataFusion, the census), and a path-member's share of a batch-year's peak (measured with
# python -m perf --series sweep: see docs/performance.md)
BATCH_MEMORY = 1 << 30
PROCESS_BYTES = 320 << 20
PATH_MEMBER_BYTES = 1_500  # 95 paths x 6,700 members (5k after 10 years of 3% growth): 1,131 MB peak
DEFAULT_SEEDS = "1-10"
# what a [sweep] grid may vary: the scenario's numbers and dates (the seed comes from the seeds)
GRID_KEYS = [name for name in Scenario.model_fields if name not in ("scenario_id", "seed", "name")]
MAX_RUNS = 100_000  # a typo like 1-1000000 is refused rather than planned
_SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]*")  # safe as one directory name
_SEEDS = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


@dataclass(frozen=True)
class SweepRun:
    """One simulation of a sweep: a scenario's config with the run's seed, and how it runs. Planned with its
    checked census (shared by the runs of a start year); sent to a worker with that census staged as files
    in the sweep directory ``out`` (``staged``), which keeps it small."""

    scenario: str
    seed: int
    cfg: Config  # the scenario's, with the run's seed
    options: RunOptions  # the run's years and seed, and how it runs
    census: Census | StagedCensus | None = field(default=None, repr=False, compare=False)  # None: built-in
    out: Path | None = None  # the sweep directory, once staged
    keep_warehouse: bool = False  # write the run's whole warehouse, not only its metrics

    @property
    def years(self) -> tuple[int, ...]:
        assert self.options.years is not None
        return self.options.years

    def directory_in(self, out: str | Path) -> Path:
        return Path(out) / "runs" / self.scenario / f"seed={self.seed}"

    @property
    def directory(self) -> Path:
        assert self.out is not None, "a run has a directory once staged"
        return self.directory_in(self.out)

    def identity(self) -> dict[str, Any]:
        """What run.json records; a finished run with another identity is done again."""
        census = self.census.sha256 if isinstance(self.census, StagedCensus) else "built-in"
        return {"scenario": self.scenario, "seed": self.seed, "config_sha256": self.cfg.digest(),
                "years": list(self.years), "census_sha256": census, "warehouse": self.keep_warehouse}


@dataclass(frozen=True)
class StagedCensus:
    """A checked census as files in the sweep directory, which each run memory-maps instead of re-reading
    (and re-checking) the source; what ``simulate.run`` records of it comes along."""

    file: Path  # the rows kept, Arrow IPC, named by its sha256
    sha256: str
    source: str
    rows_read: int
    rejects_file: Path | None  # the rows set aside, Arrow IPC, when there are any
    members: int = 0  # the actives it starts from (batches are sized by it)

    def load(self) -> Census:
        table = pa.ipc.open_file(pa.memory_map(str(self.file))).read_all()
        census = Census(table, self.source, self.rows_read)
        if self.rejects_file is not None:  # each run's warehouse lists them, as a plain run's does
            census.rejects = pa.ipc.open_file(pa.memory_map(str(self.rejects_file))).read_all()
        return census


@dataclass
class RunResult:
    scenario: str
    seed: int
    seconds: float
    years: int = 0
    error: str | None = None  # one line; None when the run finished

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        """'seed=7 baseline: 5 years in 2.1 s' or 'seed=3 baseline: failed after 0.1 s'."""
        if self.ok:
            years = f"{self.years} year{'s' * (self.years != 1)}"
            return f"seed={self.seed} {self.scenario}: {years} in {self.seconds:.1f} s"
        return f"seed={self.seed} {self.scenario}: failed after {self.seconds:.1f} s"


@dataclass
class SweepReport:
    out: Path
    total: int = 0
    skipped: int = 0  # finished by an earlier sweep with the same identity
    finished: list[RunResult] = field(default_factory=list)
    failed: list[RunResult] = field(default_factory=list)
    distribution_path: Path | None = None  # None when no run has finished
    chart_path: Path | None = None
    distribution_rows: int = 0
    rejects: list[tuple[str, Path]] = field(default_factory=list)  # (census.rejected_summary(), its CSV)
    total_s: float = 0.0

    @property
    def to_run(self) -> int:
        return self.total - self.skipped


# -- planning -------------------------------------------------------------------------------------


def parse_seeds(text: str, option: str = "seeds") -> list[int]:
    """'1-100', '1,5,9' or '1-10,20' -> the sorted seeds, each once."""
    seeds: set[int] = set()
    for part in text.split(","):
        m = _SEEDS.fullmatch(part)
        first, last = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (1, 0)
        if first > last or last >= 2**63:
            raise OptionError(option, "expected seeds like 1-100, 1,5,9 or 1-10,20 (whole numbers, FIRST <= LAST), "
                            f"got {text[:60]!r}")
        if len(seeds) + last - first + 1 > MAX_RUNS:
            raise OptionError(option, f"{text[:60]!r} gives more than {MAX_RUNS:,} seeds; sweep them in parts")
        seeds.update(range(first, last + 1))
    return sorted(seeds)


@dataclass
class SweepConfig:
    """A config file of a sweep: its config, the scenarios its [sweep] grid makes of it, its seeds."""

    path: str | Path | None
    cfg: Config
    grid: list[tuple[str, Config]]  # (label like 'growth=0.02', config); empty without a [sweep] table
    seeds: list[int] | None = None  # [sweep].seeds


def read_sweep_config(path: str | Path | None) -> SweepConfig:
    """A config with its optional [sweep] table: ``seeds = "1-20"`` and lists of [scenario] values
    (``growth = [0.02, 0.03]``), one scenario per combination, each checked like any config."""
    if path is None:
        return SweepConfig(None, load_config(None), [])
    data = read_toml(path)
    table = data.pop("sweep", None)
    cfg = config_from_dict(data, str(path))
    if table is None:
        return SweepConfig(path, cfg, [])
    where = f"{path}: [sweep]"
    if not isinstance(table, dict):
        raise UserError(f"{where}: expected a table")
    grid = dict(table)
    seeds_text = grid.pop("seeds", None)
    if seeds_text is not None and not isinstance(seeds_text, str):
        shown = repr(seeds_text)
        raise UserError(f'{where}.seeds: expected text like "1-100", got {shown[:60]}{"..." * (len(shown) > 60)}')
    for key, values in grid.items():
        if key not in GRID_KEYS:
            raise unknown_key(key, GRID_KEYS, f"{where} ([scenario] keys)")
        if not isinstance(values, list) or not values or any(isinstance(v, (list, dict)) for v in values):
            raise UserError(f"{where}.{key}: expected a list of values, e.g. {key} = [0.02, 0.03]")
    combinations = 1
    for values in grid.values():
        combinations *= len(values)
    if combinations > MAX_RUNS:
        raise UserError(f"{where}: more than {MAX_RUNS:,} combinations of values; sweep them in parts")
    scenarios = []
    for combination in itertools.product(*grid.values()):
        label = ",".join(f"{key}={value}" for key, value in zip(grid, combination))
        point = {**data, "scenario": {**data.get("scenario", {}), **dict(zip(grid, combination))}}
        scenarios.append((label, config_from_dict(point, f"{path} ({label})")))
    return SweepConfig(path, cfg, scenarios, parse_seeds(seeds_text) if seeds_text else None)


def plan_sweep(configs: Sequence[str | Path | None], seeds: Sequence[int] | None = None, census: Any = None,
               years: Sequence[int] | None = None, *, options: RunOptions | None = None,
               keep_warehouses: Collection[int] | str = (), **option_values: Any) -> list[SweepRun]:
    """One run per scenario and seed, everything checked before anything runs.

    ``configs``: TOML paths (None or none at all: the built-in defaults), each one scenario named
    by its [scenario].name, else the file's name ('plan_b' for plan_b.toml; the built-in defaults: their
    scenario_id, 'baseline'), or, with a [sweep] grid, one scenario per combination of values, named
    by them ('growth=0.02', prefixed by the config's name when the sweep has several configs).
    ``seeds``: default each config's [sweep].seeds, else 1-10. ``census``: anything ``read_census``
    reads, or None for the built-in census; it is checked once per start year. ``years``: default
    each config's own; the first is the start year unless the config sets it. ``options`` and
    ``option_values`` (RunOptions) say how each run runs (``years`` is the option of that name; ``seed``
    is the sweep's). ``keep_warehouses``: the seeds whose runs also keep their whole warehouse
    (``"all"``: every run); the others are simulated in memory and only their metrics written.
    """
    options = with_values(options, years=years, **option_values)
    sources = [read_sweep_config(path) for path in (configs or [None])]
    censuses: dict[int, Census] = {}
    runs = []
    for name, source in zip(_scenario_names(sources), sources):
        for scenario, plain in _scenarios(name, source, len(sources)):
            cfg, run_years, run_options = for_run(plain, options, census=census is not None)
            start = cfg.scenario.start_year
            if census is not None and start not in censuses:
                censuses[start] = read_census(census, start, on_bad_rows=options.on_bad_rows,
                                              date_format=options.date_format)
            for seed in seeds or source.seeds or parse_seeds(DEFAULT_SEEDS):
                seeded = run_options.replace(years=run_years, seed=seed)
                keep = keep_warehouses == "all" or seed in keep_warehouses
                runs.append(SweepRun(scenario, seed, cfg.with_scenario(seed=seed), seeded, censuses.get(start),
                                     keep_warehouse=keep))
    return runs


def _scenarios(name: str, source: SweepConfig, configs: int) -> list[tuple[str, Config]]:
    if not source.grid:
        return [(name, source.cfg)]
    named = [(label if configs == 1 else f"{name},{label}", cfg) for label, cfg in source.grid]
    for scenario, _ in named:
        if not _SCENARIO_NAME.fullmatch(scenario):
            raise UserError(f"{source.path}: [sweep] value {scenario!r} cannot name a directory of the sweep; "
                            "use numbers or names of letters, digits and . _ - = , +")
    return named


def _scenario_names(sources: list[SweepConfig]) -> list[str]:
    """Each config's scenario name: its [scenario].name, else the file's name ('plan_b' for plan_b.toml), else
    (the built-in defaults) their scenario_id. Two configs never share a name: they would share runs."""
    names = [s.cfg.scenario.name or (Path(s.path).stem if s.path else s.cfg.scenario.scenario_id) for s in sources]
    for name, source in zip(names, sources):
        if names.count(name) > 1:
            raise UserError(f"configs: {names.count(name)} configs give the scenario {name!r} (is {source.path} "
                            "given twice?); give each its own [scenario].name, or files of other names")
        if not _SCENARIO_NAME.fullmatch(name):
            raise UserError(f"{source.path or 'defaults'}: the scenario name {name!r} (from the file's name) cannot "
                            "name a directory of the sweep; set [scenario].name, of letters, digits and . _ - = , +")
    return names


def refuse_other_configs(runs: Sequence[SweepRun], out: Path, force: bool = False) -> list[Path]:
    """A scenario's paths come from one config: a finished path of that scenario made with another config (the
    seed aside) would be pooled with this sweep's in the distribution. Say where, and how to keep both; with
    ``force``, return the batch files holding such paths, to forget once the sweep runs."""
    configs = {r.scenario: r for r in runs}  # a scenario's runs differ only by seed
    others = []
    found = sorted(_finished_runs(out).values(), key=lambda f: (str(f[1].get("scenario")), str(f[1].get("seed"))))
    for path, identity in found:
        job = configs.get(identity.get("scenario"))
        seed, digest = identity.get("seed"), identity.get("config_sha256")
        if job is None or not isinstance(seed, int) or digest == job.cfg.with_scenario(seed=seed).digest():
            continue
        if force:
            others.append(path)
            continue
        raise UserError(
            f"{out / 'runs' / job.scenario}: holds runs of another config than {job.cfg.source} (e.g. seed={seed}); "
            "give this config a scenario name of its own ([scenario].name, or a file of another name), or "
            "another --out, or --force to replace those runs")
    return others


# -- running --------------------------------------------------------------------------------------


def run_sweep(runs: Sequence[SweepRun], out: str | Path, *, workers: int | None = None, executor: str = "local",  # noqa: PLR0913 (keywords, as flags)
              ray_address: str | None = None, batch_paths: int | None = None,
              on_start: Callable[[SweepReport], None] | None = None,
              on_batch: Callable[[BatchResult], None] | None = None, force: bool = False) -> SweepReport:
    """Run the paths not finished yet, in batches, then write metrics.parquet, distribution.parquet and the fan
    chart from every path of the sweep.

    ``workers``: batches at once (default: the machine's cores; with Ray, the CPUs of the local Ray
    instance, unused with ``ray_address``); each path runs as its ``options`` say. ``batch_paths``: paths
    per batch (default: as many as fit the runs' memory limit, 1 GB without one, and no fewer batches than
    workers). A scenario with paths of another config is refused (``refuse_other_configs``) unless ``force``.
    ``on_start`` is called once the finished runs are known (``report.skipped``, ``report.to_run``),
    ``on_batch`` with each batch's results as it ends. A failed run is in ``report.failed``.
    """
    t0 = time.perf_counter()
    out = _check_out(Path(out))
    workers = workers or len(os.sched_getaffinity(0))
    if batch_paths is not None and batch_paths < 1:
        raise OptionError("batch_paths", f"must be at least 1, got {batch_paths}")
    # Ray missing or unreachable is a bad argument: said before anything is written
    with _executor(executor, workers, ray_address) as execute, _sweep_lock(out):
        replaced = refuse_other_configs(runs, out, force)
        jobs = _jobs(runs, out)
        finished = _finished_runs(out)
        todo = [job for job in jobs if _done_in(job, finished) is None]
        report = SweepReport(out, total=len(jobs), skipped=len(jobs) - len(todo))
        report.rejects = _write_rejects(runs, out)
        if on_start:
            on_start(report)
        for path in replaced:  # forced: the other config's paths are forgotten (and redone, if they are this one's)
            path.unlink(missing_ok=True)
        results = execute(plan_batches(todo, batch_paths, workers))
        with closing(results):  # on Ctrl-C too: the workers are stopped before this returns
            for batch in results:
                for result in batch.runs:
                    (report.finished if result.ok else report.failed).append(result)
                if on_batch:
                    on_batch(batch)
        finished = _finished_runs(out)  # now with this sweep's batches
        unseen_as_failed(report, jobs, finished)
        _write_sweep_metrics(out, jobs, report, finished)
    report.total_s = time.perf_counter() - t0
    return report


def unseen_as_failed(report: SweepReport, jobs: Sequence[SweepRun],
                     finished: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    """A path its batch reported done but whose metrics this sweep cannot find (a Ray node that writes
    ``out`` somewhere this machine does not see) is a failure, not a finished path."""
    by_key = {(job.scenario, job.seed): job for job in jobs}
    seen = []
    for result in report.finished:
        job = by_key.get((result.scenario, result.seed))
        if job is not None and _done_in(job, finished) is None:
            result.error = (f"its batch finished, but its metrics are not in {report.out / BATCHES}; every node "
                            "must see --out at the same path")
            report.failed.append(result)
        else:
            seen.append(result)
    report.finished = seen


def _write_sweep_metrics(out: Path, jobs: Sequence[SweepRun], report: SweepReport,
                         finished: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    """metrics.parquet, distribution.parquet and the chart of this sweep's finished paths (``finished``: the
    batch files' paths; none finished: an earlier sweep's files are removed, they would pass for this one's)."""
    done = [(job, found) for job in jobs if (found := _done_in(job, finished)) is not None]
    if not done:
        for name in (METRICS_FILE, DISTRIBUTION_FILE, CHART_FILE):
            (out / name).unlink(missing_ok=True)
        return
    metrics = sweep_metrics(done)
    replace_atomically(out / METRICS_FILE, lambda tmp: pq.write_table(metrics, tmp))
    table = percentiles(metrics)
    report.distribution_path, report.chart_path = write_distribution(out, table)
    report.distribution_rows = table.num_rows


def sweep_metrics(done: Sequence[tuple[SweepRun, Path]]) -> pa.Table:
    """The metrics of each finished path (a run and the batch file holding it), in scenario, seed, year and
    plan design order."""
    wanted: dict[Path, set[tuple[str, int]]] = {}
    for job, path in done:
        wanted.setdefault(path, set()).add((job.scenario, job.seed))
    parts = []
    for path, keys in wanted.items():
        table = pq.read_table(path)
        mask = [(s, seed) in keys for s, seed in zip(table["scenario"].to_pylist(), table["seed"].to_pylist())]
        parts.append(table.filter(pa.array(mask)))
    order = [("scenario", "ascending"), ("seed", "ascending"), ("simulation_year", "ascending"),
             ("plan_design_id", "ascending")]
    return pa.concat_tables(parts).sort_by(order).replace_schema_metadata(None)


def _check_out(out: Path) -> Path:
    """``out``, unless it is a file, or a directory holding other things than a sweep."""
    if out.exists() and not out.is_dir():
        raise OptionError("out", f"{out} exists and is not a directory")
    if out.is_dir():
        others = sorted(set(os.listdir(out)) - SWEEP_ENTRIES)
        if others and not (out / "runs").is_dir():
            raise UserError(f"{out}: not a sweep directory (it holds {others[0]!r}); choose an empty or new "
                            "directory, or an earlier sweep's")
    return out


@contextmanager
def _sweep_lock(out: Path) -> Iterator[None]:
    """``out``, created, for one sweep at a time: two would redo each other's runs."""
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out / LOCK_FILE, "sweep lock file",
                   lambda pid: f"{out}: another sweep (pid {pid}) is running into this directory; wait for it "
                               "to finish or stop it, then run again"):
        yield


def _jobs(runs: Sequence[SweepRun], out: Path) -> list[SweepRun]:
    """The runs staged in ``out``: each checked census written once, as files its runs memory-map. The runs get
    ``out`` as an absolute path: a Ray task resolves a relative one against its worker's directory, not this
    process's (on a cluster, the one its node's raylet started in)."""
    out = out.absolute()
    staged: dict[int, StagedCensus] = {}  # by id(census): the runs of a start year share one
    for r in runs:
        if isinstance(r.census, Census) and id(r.census) not in staged:
            staged[id(r.census)] = _stage_census(r.census, out)
    return [dataclasses.replace(r, census=staged.get(id(r.census)), out=out) for r in runs]


def _write_rejects(runs: Sequence[SweepRun], out: Path) -> list[tuple[str, Path]]:
    """The census rows set aside, listed once for the sweep (and in each run's warehouse, as by a plain run):
    rejects/census_rejects.csv, or one file per start year when the scenarios start in different years."""
    by_start = {r.cfg.scenario.start_year: r.census for r in runs if r.census is not None and r.census.rows_rejected}
    written = []
    for start, census in by_start.items():
        path = out / "rejects" / ("census_rejects.csv" if len(by_start) == 1 else f"census_rejects-{start}.csv")
        replace_atomically(path, lambda tmp, rejects=census.rejects: pacsv.write_csv(rejects, tmp))
        written.append((census.rejected_summary(), path))
    return written


def _stage_census(census: Census, out: Path) -> StagedCensus:
    """The census's rows (and rejects) as Arrow IPC files named by their sha256: the hash also tells a
    resumed sweep whether the census changed."""
    data = _ipc_bytes(census.table)
    digest = hashlib.sha256(data).hexdigest()
    path = out / "census" / f"{digest[:16]}.arrow"
    rejects = None
    if census.rows_rejected:
        rejects = path.with_suffix(".rejects.arrow")
        _write_once(rejects, _ipc_bytes(census.rejects))
    _write_once(path, data)
    members = pc.sum(census.table["active"]).as_py() or 0
    return StagedCensus(path, digest, census.source, census.rows_read, rejects, members)


def _ipc_bytes(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _write_once(path: Path, data: pa.Buffer) -> None:
    if not path.is_file():
        replace_atomically(path, lambda tmp: tmp.write_bytes(data))


def _identity_key(identity: dict[str, Any]) -> str:
    """A run's identity as a key, whether its warehouse is kept aside."""
    return json.dumps({k: v for k, v in identity.items() if k != "warehouse"}, sort_keys=True)


def _finished_runs(out: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every path a batch file lists as measured: its batch file and identity, by ``_identity_key`` (a path
    measured twice: the batch that kept its warehouse, else the later file)."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    files = sorted((out / BATCHES).glob("*.parquet"), key=lambda f: f.stat().st_mtime_ns) \
        if (out / BATCHES).is_dir() else []
    for path in files:
        try:
            identities = json.loads(pq.read_schema(path).metadata[RUNS_KEY])
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            continue  # not one of ours, or cut short: its paths are done again
        for identity in identities:
            key = _identity_key(identity)
            if key not in found or identity.get("warehouse") or not found[key][1].get("warehouse"):
                found[key] = (path, identity)
    return found


def _done_in(job: SweepRun, finished: dict[str, tuple[Path, dict[str, Any]]]) -> Path | None:
    """The batch file holding ``job`` finished as this sweep wants it (with its warehouse if one is asked for),
    or None."""
    found = finished.get(_identity_key(job.identity()))
    if found is None or (job.keep_warehouse and not found[1].get("warehouse")):
        return None
    return found[0]


@dataclass(frozen=True)
class SweepBatch:
    """Paths run together: one plan per year over all of them (arrow_events.batch)."""

    runs: tuple[SweepRun, ...]

    @property
    def file(self) -> Path:
        """Where its metrics go, named by what it runs."""
        out = self.runs[0].out
        assert out is not None, "a batch of staged runs"
        text = json.dumps([r.identity() for r in self.runs], sort_keys=True)
        return out / BATCHES / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.parquet"


@dataclass
class BatchResult:
    """A batch's runs' results (each run failed with the batch, or alone when its directory could not be made)."""

    runs: list[RunResult]
    seconds: float
    years: int


def plan_batches(todo: Sequence[SweepRun], batch_paths: int | None = None, workers: int = 1) -> list[SweepBatch]:
    """``todo`` in batches: runs that can share a plan (the same census, years and options, configs that differ
    only in [scenario] values and plan design rules), each batch at most ``batch_paths`` runs, by default as
    many as fit the memory limit, and no fewer batches than ``workers`` when there are runs enough."""
    groups: dict[tuple[Any, ...], list[SweepRun]] = {}
    for job in todo:
        census = job.census.sha256 if isinstance(job.census, StagedCensus) else None
        key = (batch_key(job.cfg), job.years, census, job.options.replace(seed=None))
        groups.setdefault(key, []).append(job)
    batches = []
    for jobs in groups.values():
        size = batch_paths or max(1, min(_paths_that_fit(jobs[0]), -(-len(todo) // workers)))
        batches += [SweepBatch(tuple(jobs[i:i + size])) for i in range(0, len(jobs), size)]
    return batches


def _paths_that_fit(job: SweepRun) -> int:
    """Paths of ``job``'s size a batch holds within its memory limit (1 GB without one)."""
    members = job.census.members if isinstance(job.census, StagedCensus) else DEFAULT_EMPLOYEES
    growth = max(job.cfg.scenario.growth, 0.0)
    members = int(members * (1 + growth) ** len(job.years)) + 1  # the largest year's workforce
    budget = (job.options.memory_limit or BATCH_MEMORY) - PROCESS_BYTES
    return max(1, budget // (members * PATH_MEMBER_BYTES))


# A batch's process hands the GIL between Python and DataFusion's threads (which call the NumPy UDFs) many
# times a second, and a thread waiting for it may wait a whole switch interval (5 ms by default). With
# batches in several processes on the same cores those waits left each process idle most of the time:
# two 50-path batches side by side took 16 s each at 5 ms, 6.5 s at 0.2 ms (alone: 6 s either way).
GIL_SWITCH_S = 0.0002


@contextmanager
def _quick_gil_handoffs() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_S)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_batch(batch: SweepBatch) -> BatchResult:
    """Simulate a batch, keep the warehouses asked for and write its metrics; any failure comes back as one
    line for each of its runs (a kept run whose directory cannot be made fails alone)."""
    with _quick_gil_handoffs():
        return _run_batch(batch)


def _run_batch(batch: SweepBatch) -> BatchResult:
    t0 = time.perf_counter()
    failed: dict[int, str] = {}
    keep = {}
    for i, job in enumerate(batch.runs):
        if job.keep_warehouse:
            try:
                keep[i] = _run_directory(job) / "warehouse"
            except UserError as e:
                failed[i] = str(e)
    ok = [i for i in range(len(batch.runs)) if i not in failed]
    try:
        if ok:
            _simulate_batch(SweepBatch(tuple(batch.runs[i] for i in ok)), {ok.index(i): d for i, d in keep.items()
                                                                           if i in ok})
    except Exception as e:  # the sweep goes on without this batch, which the next sweep redoes
        failed.update(dict.fromkeys(ok, error_line(e)))
    seconds = time.perf_counter() - t0
    years = len(batch.runs[0].years)
    return BatchResult([RunResult(job.scenario, job.seed, seconds, 0 if i in failed else years, failed.get(i))
                        for i, job in enumerate(batch.runs)], seconds, years)


def _run_directory(job: SweepRun) -> Path:
    """A kept run's directory, new (anything there before, half-written or stale, removed), with its run.json."""
    d = job.directory
    if d.is_dir():
        shutil.rmtree(d)
    try:
        d.mkdir(parents=True)
    except OSError as e:
        raise UserError(f"{d}: cannot create the run's directory ({os_reason(e)})") from None
    write_json(d / RUN_FILE, job.identity())
    return d


def _simulate_batch(batch: SweepBatch, keep: dict[int, Path]) -> None:
    """The batch's metrics, with each run's scenario and seed, written last and whole: then its runs are done."""
    first = batch.runs[0]
    census = first.census.load() if isinstance(first.census, StagedCensus) else None
    metrics = simulate_paths([job.cfg for job in batch.runs], first.years, census, first.options, keep)
    path = metrics["path"]
    metrics = metrics.drop_columns(["path"])
    scenario_ids = pa.array([job.cfg.scenario.scenario_id for job in batch.runs], pa.string())
    for name, values in (("seed", pa.array([job.seed for job in batch.runs], pa.int64())),
                         ("scenario_id", scenario_ids),
                         ("scenario", pa.array([job.scenario for job in batch.runs], pa.string()))):
        metrics = metrics.add_column(0, name, values.take(path))
    identities = json.dumps([job.identity() for job in batch.runs], sort_keys=True).encode()
    metrics = metrics.replace_schema_metadata({RUNS_KEY: identities})
    replace_atomically(batch.file, lambda tmp: pq.write_table(metrics, tmp))


# -- executors ------------------------------------------------------------------------------------


Execute = Callable[[list[SweepBatch]], Iterator[BatchResult]]  # the batches to do -> their results as they end


@contextmanager
def _executor(executor: str, workers: int, ray_address: str | None) -> Iterator[Execute]:
    """A function from the batches to do to their results as they end, on ``executor``; Ray is connected
    (or started, with ``workers`` CPUs) on entering, and a Ray this started is shut down on leaving."""
    if executor == "local":
        yield lambda todo: map_jobs(run_batch, todo, min(workers, len(todo)), _failed)
        return
    if executor != "ray":
        raise OptionError("executor", f"expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    with ray_session(ray_address, num_cpus=None if ray_address else workers):
        yield lambda todo: _ray_results(import_ray(), todo)


def _failed(batch: SweepBatch, why: str) -> BatchResult:
    return BatchResult([RunResult(job.scenario, job.seed, 0.0, error=why) for job in batch.runs], 0.0,
                       len(batch.runs[0].years))


def _ray_results(ray: Any, batches: list[SweepBatch]) -> Iterator[BatchResult]:
    """Each batch a Ray task of ``threads`` CPUs; the ones not done are cancelled when interrupted."""
    refs: dict[Any, SweepBatch] = {}
    try:
        task = ray.remote(run_batch)
        refs = {task.options(num_cpus=batch.runs[0].options.threads, max_retries=0).remote(batch): batch
                for batch in batches}
        while refs:
            [ref], _ = ray.wait(list(refs), num_returns=1)
            batch = refs.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as e:  # the task could not run (its worker died, run_batch failed to import...)
                result = _failed(batch, f"Ray task failed: {_ray_reason(e)}")
            yield result
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)


def _ray_reason(e: Exception) -> str:
    """The last line of a Ray error, where its cause is ("ModuleNotFoundError: No module named ..."),
    without its terminal colours."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines() if line.strip()]
    return lines[-1] if lines else type(e).__name__


# -- the distribution -----------------------------------------------------------------------------


def distribution(out: str | Path) -> pa.Table:
    """The percentiles over a sweep's paths (its metrics.parquet)."""
    path = Path(out) / METRICS_FILE
    if not path.is_file():
        raise UserError(f"{out}: no finished run (no {METRICS_FILE})")
    return percentiles(pq.read_table(path))


def percentiles(metrics: pa.Table) -> pa.Table:
    """p5, p25, p50, p75 and p95 of each metric over the runs, per scenario, year and plan design.

    ``metrics``: rows of runs' metrics.parquet. Percentiles interpolate linearly between the
    sorted values (NumPy's default, numpy.percentile); amounts are float dollars. ``runs``
    counts the values (a metric that is empty in a run, e.g. no eligible employee, is left out).
    """
    values = {name: _as_float(metrics, name) for name in METRICS}
    keys = zip(metrics["scenario"].to_pylist(), metrics["simulation_year"].to_pylist(),
               metrics["plan_design_id"].to_pylist())
    groups: dict[tuple[str, int, str], list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    rows: dict[str, list[Any]] = {name: [] for name in DISTRIBUTION_SCHEMA.names}
    for (scenario, year, design), index in sorted(groups.items()):
        for name in METRICS:
            sample = values[name][index]
            sample = sample[~np.isnan(sample)]
            qs = np.percentile(sample, PERCENTILES).tolist() if sample.size else [None] * len(PERCENTILES)
            for column, value in zip(DISTRIBUTION_SCHEMA.names, [scenario, year, design, name, sample.size, *qs]):
                rows[column].append(value)
    return pa.table(rows, schema=DISTRIBUTION_SCHEMA)


def _as_float(metrics: pa.Table, name: str) -> np.ndarray:
    """A metric as float64 with NaN for null; employer_cost summed exactly (decimals) before the cast."""
    column = pc.add(metrics["employer_match"], metrics["employer_core"]) if name == "employer_cost" else metrics[name]
    return pc.cast(column, pa.float64()).to_numpy()


def write_distribution(out: str | Path, table: pa.Table) -> tuple[Path, Path | None]:
    """distribution.parquet and its fan chart in ``out``, each appearing whole (no chart without matplotlib,
    the ``charts`` extra: None, and an older one is removed)."""
    out = Path(out)
    parquet, chart = out / DISTRIBUTION_FILE, out / CHART_FILE
    replace_atomically(parquet, lambda tmp: pq.write_table(table, tmp))
    if not charts_available():
        chart.unlink(missing_ok=True)
        return parquet, None
    from arrow_events.warehouse.charts import fan_chart  # matplotlib loads only when a chart is drawn

    replace_atomically(chart, lambda tmp: fan_chart(table, tmp))
    return parquet, chart
