"""Multi-year runs: cohort in, one fused plan per year, single writer out."""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.census.intake import Census, read_census
from arrow_events.census.synthetic import synthetic_census
from arrow_events.config import Config, config_from_toml, dump_toml, for_run
from arrow_events.engine.params import design_ids
from arrow_events.engine.state import CohortState, from_census, from_snapshot
from arrow_events.engine.year import Session, YearTables
from arrow_events.errors import Interrupted, UserError, WarehouseError, kept_text, os_reason
from arrow_events.execute.shards import executor_session, year_shards
from arrow_events.options import OptionError, RunOptions, with_values
from arrow_events.schema import EVENT_TYPES, contract_schemas
from arrow_events.warehouse.manifest import YearManifest, read_manifest
from arrow_events.warehouse.writer import (
    check_warehouse,
    commit_year,
    existing_years,
    lock,
    manifest_path,
    partition_dir,
    prepare_warehouse,
    read_partition,
    recover,
    staged_year,
    write_rejects,
)

DEFAULT_EMPLOYEES = 5000
DEFAULT_CENSUS_SEED = 42
BUILTIN_SOURCE = f"synthetic census ({DEFAULT_EMPLOYEES} employees, seed {DEFAULT_CENSUS_SEED})"


@dataclass
class YearReport:
    year: int
    headcount_start: int
    headcount_end: int
    events_by_type: dict[str, int]
    generate_s: float
    write_s: float
    shards: int = 1
    # per plan design: its events by type (the workforce events repeat under every design)
    events_by_design: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())


@dataclass
class RunReport:
    out: Path | None
    years: list[YearReport] = field(default_factory=list)
    stale_years: list[int] = field(default_factory=list)
    total_s: float = 0.0
    recovered: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    census: Census | None = None  # the census the run started from, with any rows set aside
    rejects_path: Path | None = None


def builtin_census(cfg: Config) -> Census:
    """The built-in census, read and checked: synthetic, 5,000 employees, seed 42."""
    raw = synthetic_census(DEFAULT_EMPLOYEES, DEFAULT_CENSUS_SEED, cfg.scenario.start_year)
    return read_census(raw, cfg.scenario.start_year)


def default_census(cfg: Config) -> pa.Table:
    """The built-in census's rows."""
    return builtin_census(cfg).table


def contract_tables(options: RunOptions, cfg: Config | None = None) -> dict[str, pa.Schema]:
    """The tables a run writes: every contract table, less contributions when turned off (the snapshot with
    scheduled hours when the config requires hours of service)."""
    schemas = contract_schemas(cfg is not None and cfg.hours_of_service)
    return {name: schema for name, schema in schemas.items() if options.contributions or name != "contributions"}


def active_headcount(snapshot: pa.Table) -> int:
    """Actives at the end of the year (the workforce is the same under every plan design)."""
    if not snapshot.num_rows:
        return 0
    first = pc.equal(snapshot["plan_design_id"], snapshot["plan_design_id"][0])
    return pc.sum(pc.and_(first, pc.equal(snapshot["status"], "active"))).as_py() or 0


def events_by_design(events: pa.Table) -> Counter[tuple[str, str]]:
    """The events counted by (plan design, type)."""
    counts = events.group_by(["plan_design_id", "event_type"]).aggregate([([], "count_all")])
    return Counter(dict(zip(zip(counts["plan_design_id"].to_pylist(), counts["event_type"].to_pylist()),
                            counts["count_all"].to_pylist())))


def starting_state(cfg: Config, first_year: int, out: Path, census: pa.Table | None) -> tuple[CohortState, str]:
    """The cohort at the end of first_year - 1: from the census, or from the stored snapshot."""
    start = cfg.scenario.start_year
    if first_year < start:
        raise OptionError("years", f"{first_year} is before the scenario's start_year {start}")
    if first_year == start:
        if census is None:
            census = default_census(cfg)
            source = BUILTIN_SOURCE
        else:
            source = "census"
        return from_census(census, cfg), source
    prior = first_year - 1
    if not (partition_dir(out, "snapshot", prior)).is_dir():
        raise UserError(
            f"{out}: no snapshot for {prior}, which year {first_year} starts from; "
            f"simulate {start}-{prior} into it first (years={start}-{prior})"
        )
    return from_snapshot(read_partition(out, "snapshot", prior)), f"snapshot {prior}"


def _config_drift(cfg: Config, out: Path, first_year: int) -> list[str]:
    """A year started from a stored snapshot made under another config mixes two scenarios: say so. The
    configs are compared as configs (the stored one read back from its manifest), so a manifest written
    by another version, whose digest or TOML layout differ, agrees with the same config."""
    path = manifest_path(out, first_year - 1)
    if first_year == cfg.scenario.start_year or not path.is_file():
        return []
    try:
        before = config_from_toml(read_manifest(path).config_toml or "", "manifest").digest()
    except (ValueError, UserError):
        return [f"{path}: unreadable manifest; cannot tell which config made {first_year - 1}"]
    if before != cfg.digest():
        return [f"{first_year - 1} was simulated with a different config or seed than this run uses "
                f"(config sha256 {before[:12]} vs {cfg.digest()[:12]})"]
    return []


def _versions() -> dict[str, str]:
    v = {name: version(name) for name in ("arrow-events", "datafusion", "pyarrow", "numpy")}
    v["python"] = platform.python_version()
    return v


def run(
    cfg: Config,
    out: str | Path,
    years: Any = None,
    census: Census | Any = None,
    *,
    options: RunOptions | None = None,
    progress: Callable[[YearReport], None] | None = None,
    shard_progress: Callable[[int, int, int], None] | None = None,
    **option_values: Any,
) -> RunReport:
    """Simulate ``years`` (default: the scenario's) and write each year to the warehouse ``out``.

    ``census``: a Census from ``read_census``, or anything ``read_census`` reads (a path, a pyarrow
    Table or RecordBatchReader, an object with ``__arrow_c_stream__``), checked here with the
    ``on_bad_rows`` and ``date_format`` options. With a census, the first of ``years`` is the start
    year unless the config sets one (``census_start``). Rows set aside go to
    ``<out>/rejects/census_rejects.csv``. ``options`` (a RunOptions) and ``option_values`` (any of its
    fields by name, e.g. ``seed=7, threads=1``, values or their text) say how it runs; ``years`` is
    the option of that name. ``progress`` is called with each year as it is committed,
    ``shard_progress`` with (year, shards done, shards in the year) as each shard is written.
    """
    t_start = time.perf_counter()
    options = with_values(options, years=years, **option_values)
    cfg, years, options = for_run(cfg, options, census=census is not None)
    out = Path(out)
    if census is not None:  # a Census is taken as it is, when read for this start year
        census = read_census(census, cfg.scenario.start_year, on_bad_rows=options.on_bad_rows,
                             date_format=options.date_format)
    table = census.table if census is not None else None
    check_warehouse(out)
    # refuse bad arguments before creating anything (a new warehouse starts from the census: the same state
    # inside the lock)
    early = starting_state(cfg, years[0], out, table) if not out.exists() else None
    with executor_session(options):  # a missing Ray, or a cluster not found, is refused before anything is created
        prepare_warehouse(out)
        with lock(out), _what_was_kept(out, years) as report:
            report.recovered = recover(out)
            state, source = early or starting_state(cfg, years[0], out, table)
            report.warnings += _config_drift(cfg, out, years[0])
            census_entry = None
            if years[0] == cfg.scenario.start_year:  # the census is used: replace what an earlier one set aside
                report.rejects_path = write_rejects(out, census.rejects if census and census.rows_rejected else None)
                if census is not None:
                    report.census, source = census, census.source
                    census_entry = _census_entry(census, report.rejects_path, out)
            target = _Run(cfg, out, years, options, progress, shard_progress, report)
            _simulate_into(target, state, source, census_entry)
    report.stale_years = [y for y in existing_years(out) if y > years[-1]]
    report.total_s = time.perf_counter() - t_start
    return report


@contextmanager
def new_warehouse(cfg: Config, out: Path, years: list[int], options: RunOptions,
                  census: Census | None) -> Iterator[PathWriter]:
    """A path's warehouse, new at ``out``, as ``run`` starts one from ``census`` (None: the built-in one) in
    the start year: its writer, for a batch of paths to feed that path's rows."""
    check_warehouse(out)
    prepare_warehouse(out)
    with lock(out), _what_was_kept(out, years) as report:
        rejects = write_rejects(out, census.rejects if census and census.rows_rejected else None)
        source, entry = BUILTIN_SOURCE, None
        if census is not None:
            source, entry = census.source, _census_entry(census, rejects, out)
        yield PathWriter(cfg, out, years, options, source, entry, report)


def _census_entry(census: Census, rejects: Path | None, out: Path) -> dict[str, Any]:
    """What the start year's manifest says of the census it came from."""
    return {
        "source": census.source,
        "rows_read": census.rows_read,
        "rows_kept": census.table.num_rows,
        "rows_rejected": census.rows_rejected,
        "rejects": str(rejects.relative_to(out)) if rejects else None,
    }


@contextmanager
def _what_was_kept(out: Path, years: list[int]) -> Iterator[RunReport]:
    """The run's report; on Ctrl-C or an OS error, the error says which years are complete in ``out``."""
    report = RunReport(out)
    try:
        yield report
    except KeyboardInterrupt:
        kept = [y.year for y in report.years]
        raise Interrupted(out, kept, [y for y in years if y not in kept]) from None
    except OSError as e:  # one the writer did not name: reading the warehouse
        raise WarehouseError(f"{e.filename or out}: {os_reason(e)}; "
                             f"{kept_text([y.year for y in report.years])}") from None
    except WarehouseError as e:
        raise WarehouseError(f"{e}; {kept_text([y.year for y in report.years])}") from None


@dataclass
class _Run:
    """What a run writes, where, how, and whom it tells."""

    cfg: Config
    out: Path
    years: list[int]
    options: RunOptions
    progress: Callable[[YearReport], None] | None
    shard_progress: Callable[[int, int, int], None] | None
    report: RunReport


def _simulate_into(run: _Run, state: CohortState, source: str, census_entry: dict[str, Any] | None) -> None:
    """Each year's shards stream into the writer as they are computed; the next year's cohort is
    read back from the committed snapshot (as ``run --year`` would), so it is never held twice."""
    writer = PathWriter(run.cfg, run.out, run.years, run.options, source, census_entry, run.report)
    session = Session.of(run.options)
    for year in run.years:
        with writer.year(year) as write:
            for shard in year_shards(run.cfg, year, state, run.options, session=session):
                write(shard)
                if run.shard_progress:
                    run.shard_progress(year, shard.shard, shard.shards)
                del shard  # before the next shard is computed: peak memory
        if run.progress:
            run.progress(run.report.years[-1])
        if year != run.years[-1]:
            del state  # this year's cohort, before the next one is read
            state = from_snapshot(read_partition(run.out, "snapshot", year, active_only=True))


@dataclass
class PathWriter:
    """The single writer of one path's warehouse, year by year: a year's shards staged as they come
    (``year``), then its manifest, then the commit. A lone run has one; a batch of paths one per path
    it keeps, each fed that path's rows of the batch's shards."""

    cfg: Config
    out: Path
    years: list[int]
    options: RunOptions
    source: str  # where the first year's cohort came from
    census_entry: dict[str, Any] | None
    report: RunReport
    versions: dict[str, str] = field(default_factory=lambda: _versions())

    @contextmanager
    def year(self, year: int) -> Iterator[Callable[[YearTables], None]]:
        """A function writing a shard's tables (in order); on leaving, the year is committed."""
        t0 = time.perf_counter()
        by_design: Counter[tuple[str, str]] = Counter()
        seen = {"headcount_end": 0, "shards": 0}
        counts: dict[str, int] = {}

        def write(shard: YearTables) -> None:
            seen["shards"] += 1
            for name, table in shard.tables().items():
                stage.write(name, table)
            by_design.update(events_by_design(shard.events))
            seen["headcount_end"] += active_headcount(shard.snapshot)
            counts.update(shard.counts)

        with staged_year(self.out, year, contract_tables(self.options, self.cfg)) as stage:
            yield write
            generate_s = time.perf_counter() - t0
        self._commit(year, stage, by_design, counts, seen, generate_s)
        self.report.years[-1].write_s = time.perf_counter() - t0 - generate_s

    def _commit(self, year: int, stage: Any, by_design: Counter[tuple[str, str]], counts: dict[str, int],
                seen: dict[str, int], generate_s: float) -> None:
        cfg, options = self.cfg, self.options
        by_type: Counter[str] = Counter()
        for (_, event_type), n in by_design.items():
            by_type[event_type] += n
        first = year == self.years[0]
        manifest = YearManifest(
            simulation_year=year,
            scenario_id=cfg.scenario.scenario_id,
            plan_design_ids=[d.plan_design_id for d in cfg.plan_designs],
            seed=cfg.scenario.seed,
            config_sha256=cfg.digest(),
            config_toml=dump_toml(cfg),
            engine=options.engine,
            executor=options.executor,
            threads=options.threads,
            memory_limit_bytes=options.memory_limit,
            shard_rows=options.rows_per_shard,
            shards=seen["shards"],
            input=self.source if first else f"snapshot {year - 1}",
            census=self.census_entry if first else None,
            versions=self.versions,
            workforce_counts=counts,
            events_by_type=dict(sorted(by_type.items())),
            timings_s={"generate": round(generate_s, 4)},
        )
        per_design = {d: {t: by_design[(d, t)] for t in EVENT_TYPES} for d in design_ids(cfg)}
        year_report = YearReport(year, counts["n_active"], seen["headcount_end"], manifest.events_by_type,
                                 generate_s, 0.0, seen["shards"], per_design)
        # counted the moment it is committed: a Ctrl-C then reports it as kept
        commit_year(self.out, year, stage, manifest, on_commit=partial(self.report.years.append, year_report))
