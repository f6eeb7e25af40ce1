"""arrow-events sweep: runs in worker processes or Ray tasks, resume after a kill, a failed run, the distribution."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import SAMPLES, two_design_config

from arrow_events import UserError, dump_toml, load_config, run
from arrow_events.cli import main
from arrow_events.sweep import METRICS, PERCENTILES, parse_seeds, percentiles, plan_sweep, run_sweep
from arrow_events.warehouse.charts import FAN_DPI, FAN_PANEL_SIZE, FAN_PANELS
from arrow_events.warehouse.compare import compare_warehouses
from arrow_events.warehouse.report import yearly_metrics

SEEDS, YEARS = [1, 2, 3, 4, 5], [2025, 2026]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """The 5,000-employee sample census (less the rows born after their hire) and a two-design config."""
    d = tmp_path_factory.mktemp("inputs")
    raw = pq.read_table(SAMPLES / "planalign_census_5k.parquet")
    pq.write_table(raw.filter(pc.less_equal(raw["employee_birth_date"], raw["employee_hire_date"])), d / "c.parquet")
    cfg = two_design_config()
    cfg.scenario.name = "baseline"  # the scenario's folder; without it, the file's name ("two")
    (d / "two.toml").write_text(dump_toml(cfg))
    return d / "c.parquet", d / "two.toml"


@pytest.fixture(scope="module")
def swept(inputs, tmp_path_factory):
    """An uninterrupted sweep: 5 seeds x 2 years x 2 plan designs, two worker processes."""
    census, config = inputs
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    report = run_sweep(plan_sweep([config], SEEDS, census, YEARS, keep_warehouses={2}), out, workers=2)
    return out, report


def cli_args(inputs, out: Path, seeds: str = "1-5", years: str = "2025-2026") -> list[str]:
    census, config = inputs
    return ["sweep", "--seeds", seeds, "--config", str(config), "--census", str(census), "--years", years,
            "--out", str(out), "--workers", "2"]


def run_metrics(out: Path, seeds=SEEDS, year: int | None = None) -> pa.Table:
    """The sweep's metrics.parquet rows of ``seeds`` (and ``year``)."""
    table = pq.read_table(out / "metrics.parquet")
    table = table.filter(pc.is_in(table["seed"], pa.array(seeds, pa.int64())))
    return table if year is None else table.filter(pc.equal(table["simulation_year"], year))


def finished_paths(out: Path) -> int:
    """The paths the sweep's batch files say are done."""
    return sum(len(json.loads(pq.read_schema(f).metadata[b"arrow_events.runs"])) for f in out.glob("batches/*.parquet"))


def test_parse_seeds():
    assert parse_seeds("1-3") == [1, 2, 3]
    assert parse_seeds("1,5,9") == [1, 5, 9]
    assert parse_seeds("1-3,20, 2") == [1, 2, 3, 20]


def test_scenarios_are_named_by_config_and_grid(tmp_path):
    (tmp_path / "a.toml").write_text("[scenario]\ngrowth = 0.02\n")
    (tmp_path / "b.toml").write_text("[scenario]\ngrowth = 0.04\n")
    runs = plan_sweep([tmp_path / "a.toml", tmp_path / "b.toml"], [1, 2])
    assert [(r.scenario, r.seed, r.cfg.scenario.seed) for r in runs] == [
        ("a", 1, 1), ("a", 2, 2), ("b", 1, 1), ("b", 2, 2)]  # named by the file; scenario_id stays baseline
    assert {r.cfg.scenario.scenario_id for r in runs} == {"baseline"}
    (tmp_path / "named.toml").write_text('[scenario]\nname = "richer_match"\n')
    assert {r.scenario for r in plan_sweep([tmp_path / "named.toml"], [1])} == {"richer_match"}
    assert {r.scenario for r in plan_sweep([], [1])} == {"baseline"}  # the built-in defaults: their scenario_id
    (tmp_path / "grid.toml").write_text('[sweep]\nseeds = "7-8"\ngrowth = [0.0, 0.05]\ncola = [0.01, 0.02]\n')
    runs = plan_sweep([tmp_path / "grid.toml"])
    assert [(r.scenario, r.seed) for r in runs][:3] == [("growth=0.0,cola=0.01", 7), ("growth=0.0,cola=0.01", 8),
                                                       ("growth=0.0,cola=0.02", 7)]
    assert len(runs) == 8 and {(r.cfg.scenario.growth, r.cfg.scenario.cola) for r in runs} == {
        (0.0, 0.01), (0.0, 0.02), (0.05, 0.01), (0.05, 0.02)}
    assert {r.scenario for r in plan_sweep([tmp_path / "grid.toml", tmp_path / "a.toml"], [1])} == {
        "a", "grid,growth=0.0,cola=0.01", "grid,growth=0.0,cola=0.02", "grid,growth=0.05,cola=0.01",
        "grid,growth=0.05,cola=0.02"}


@pytest.mark.parametrize(("grid", "needle"), [
    ("growht = [0.02]", "[sweep] ([scenario] keys): unknown key 'growht' (did you mean 'growth'?)"),
    ("growth = 0.02", "[sweep].growth: expected a list of values"),
    ("growth = [0.02, 5.0]", "(growth=5.0): [scenario].growth: |growth| must be <= 1, got 5.0"),
    ("seeds = [1, 2]", '[sweep].seeds: expected text like "1-100"'),
])
def test_a_bad_grid_is_refused_naming_the_key(tmp_path, grid, needle):
    (tmp_path / "grid.toml").write_text(f"[sweep]\n{grid}\n")
    with pytest.raises(UserError) as e:
        plan_sweep([tmp_path / "grid.toml"])
    assert needle in str(e.value)
    with pytest.raises(UserError, match=r"\[sweep\] makes one scenario per value, for arrow-events sweep only"):
        load_config(tmp_path / "grid.toml")


def test_distribution_is_the_percentiles_of_the_runs(swept, inputs, tmp_path):
    out, report = swept
    assert (len(report.finished), report.skipped, report.failed) == (5, 0, [])
    for seed in SEEDS:  # only the warehouse asked for is kept; every run has its metrics
        d = out / "runs" / "baseline" / f"seed={seed}"
        kept = (d / "warehouse" / "manifests" / "simulation_year=2026.json").is_file()
        assert kept == (seed == 2) and kept == d.is_dir()
        assert not kept or json.loads((d / "run.json").read_text())["seed"] == seed
    metrics = pq.read_table(out / "metrics.parquet")  # one row per scenario, seed, year and plan design
    assert metrics.column_names[:3] == ["scenario", "scenario_id", "seed"]
    assert [(r["seed"], r["simulation_year"], r["plan_design_id"]) for r in metrics.to_pylist()] == [
        (s, y, d) for s in SEEDS for y in YEARS for d in ("standard", "voluntary_only")]
    # a sweep's kept run is a plain run with that seed, byte for byte
    census, config = inputs
    run(load_config(config), tmp_path / "plain", YEARS, census, seed=2)
    assert compare_warehouses(tmp_path / "plain", out / "runs" / "baseline" / "seed=2" / "warehouse").identical
    # and a run measured in memory has the metrics `arrow-events report` gives of that run's warehouse
    run(load_config(config), tmp_path / "plain3", YEARS, census, seed=3)
    swept3 = run_metrics(out, [3]).drop_columns(["scenario", "scenario_id", "seed"])
    assert swept3.equals(yearly_metrics(tmp_path / "plain3"))
    rows = [r for s in SEEDS for r in run_metrics(out, [s]).to_pylist()]
    assert {r["seed"] for r in rows} == set(SEEDS) and {r["scenario"] for r in rows} == {"baseline"}
    dist = pq.read_table(out / "distribution.parquet")
    assert dist.num_rows == len(YEARS) * 2 * len(METRICS)
    for d in dist.to_pylist():
        sample = [_metric(r, d["metric"]) for r in rows
                  if (r["simulation_year"], r["plan_design_id"]) == (d["simulation_year"], d["plan_design_id"])]
        assert d["runs"] == len(sample) == 5
        expected = np.percentile(sample, PERCENTILES)  # linear interpolation
        assert [d[f"p{p}"] for p in PERCENTILES] == pytest.approx(expected, rel=1e-12), d
    # the auto-enrolling design's median participation is above the voluntary one's every year
    medians = {(d["simulation_year"], d["plan_design_id"]): d["p50"] for d in dist.to_pylist()
               if d["metric"] == "participation_rate"}
    assert all(medians[(y, "standard")] > medians[(y, "voluntary_only")] for y in YEARS)
    width, height = FAN_PANEL_SIZE
    assert png_size((out / "distribution.png").read_bytes()) == (width * len(FAN_PANELS) * FAN_DPI,
                                                                round((height + 0.9) * FAN_DPI))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _metric(row: dict, metric: str) -> float:
    if metric == "employer_cost":
        return float(Decimal(row["employer_match"]) + Decimal(row["employer_core"]))
    return float(row[metric])


def test_a_rerun_skips_only_runs_finished_with_the_same_identity(swept, inputs):
    out, _ = swept
    census, config = inputs

    class Stop(Exception):
        pass

    def skipped(configs, seeds=SEEDS, years=YEARS, force=False) -> int:
        seen = []

        def stop(report):  # stop before anything runs: only the plan is wanted
            seen.append(report.skipped)
            raise Stop

        with pytest.raises(Stop):
            run_sweep(plan_sweep(configs, seeds, census, years), out, on_start=stop, force=force)
        return seen[0]

    assert skipped([config]) == 5
    assert skipped([config], seeds=[*SEEDS, 6]) == 5
    assert skipped([config], years=[2025]) == 0
    changed = config.with_name("changed.toml")
    changed.write_text(config.read_text().replace("growth = 0.03", "growth = 0.02"))
    with pytest.raises(UserError, match="holds runs of another config"):  # into the same scenario: refused
        skipped([changed])
    assert skipped([changed], force=True) == 0  # forced: every run is done again


def alive(pgid: int) -> list[int]:
    """Processes of the group, zombies left out (orphans are not always reaped at once here)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def test_a_killed_sweep_resumes_to_the_same_distribution(swept, inputs, tmp_path):
    out = tmp_path / "sweep"
    # a path to a batch: five batches for two workers, so that the kill finds some done and some not
    args = [sys.executable, "-m", "arrow_events", *cli_args(inputs, out, years="2025"), "--batch-paths", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("batches/*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10  # the workers end with the sweep that started them
    while alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(proc.pid) == []
    finished = finished_paths(out)  # a worker may finish a batch as it goes
    assert 1 <= finished < len(SEEDS)
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{finished} finished before and skipped" in again.stderr.splitlines()[0]
    assert again.stderr.splitlines()[1].startswith("[") and f"/{len(SEEDS) - finished}] " in again.stderr
    assert f"{len(SEEDS) - finished} run(s) finished, {finished} skipped" in again.stdout
    # as the uninterrupted sweep's first year: the runs redone from scratch are the same bytes
    assert pq.read_table(out / "distribution.parquet").equals(percentiles(run_metrics(swept[0], year=2025)))


def test_a_failed_run_is_reported_and_the_others_finish(swept, inputs, tmp_path):
    out = tmp_path / "sweep"
    (out / "runs" / "baseline").mkdir(parents=True)
    (out / "runs" / "baseline" / "seed=3").write_text("in the way")  # so that run cannot make its directory
    r = CliRunner().invoke(main, [*cli_args(inputs, out, seeds="1-4", years="2025"), "--keep-warehouses", "3"])
    assert r.exit_code == 1, r.output
    failed = [line for line in r.stderr.splitlines() if line.startswith("failed:")]
    assert failed == [f"failed: baseline seed=3: {out}/runs/baseline/seed=3: cannot create the run's directory "
                      "(File exists)"]
    assert "3 run(s) finished, 0 skipped (finished before), 1 failed, of 4" in r.stdout
    dist = pq.read_table(out / "distribution.parquet")
    assert set(dist["runs"].to_pylist()) == {3}
    # the same runs as the uninterrupted sweep's first year, seed 3 left out
    assert dist.equals(percentiles(run_metrics(swept[0], [1, 2, 4], year=2025)))


@pytest.mark.parametrize(("args", "needle"), [
    (["--config", "missing.toml"], "missing.toml: config file not found"),
    (["--seeds", "5-1"], "--seeds: expected seeds like 1-100, 1,5,9 or 1-10,20"),
    (["--seeds", "seven"], "--seeds: expected seeds like"),
    (["--config", "a.toml", "--config", "a.toml"], "2 configs give the scenario 'a'"),
    (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    (["--out", "afile"], "--out: afile exists and is not a directory"),
    (["--out", "other"], "other: not a sweep directory"),
    (["--years", "2027-2025"], "--years: expected YEAR or FIRST-LAST"),
])
def test_bad_arguments_are_one_line_exit_2_nothing_run(tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.toml").write_text("")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    r = CliRunner().invoke(main, ["sweep", *args])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""
    assert not (tmp_path / "sweep").exists()


def test_ray_missing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray then fails
    r = CliRunner().invoke(main, ["sweep", "--executor", "ray"])
    assert r.exit_code == 2
    assert r.stderr == "error: --executor ray needs Ray: pip install 'arrow-events[ray]'\n"
    assert not (tmp_path / "sweep").exists()


def test_ray_tasks_give_the_same_distribution_as_processes(swept, inputs, tmp_path):
    pytest.importorskip("ray")
    census, config = inputs
    report = run_sweep(plan_sweep([config], [1, 2, 3], census, [2025]), tmp_path / "ray", workers=2,
                       executor="ray")
    assert (len(report.finished), report.failed) == (3, [])
    dist = pq.read_table(tmp_path / "ray" / "distribution.parquet")
    assert dist.equals(percentiles(run_metrics(swept[0], [1, 2, 3], year=2025)))


def test_a_different_config_into_an_existing_scenario_is_refused(swept, inputs, tmp_path):
    """Runs of two configs in one scenario folder would be pooled in one distribution: refused, with the fix."""
    out, _ = swept
    census, config = inputs
    other = tmp_path / "two.toml"  # the same [scenario].name, another growth
    other.write_text(config.read_text().replace("growth = 0.03", "growth = 0.05"))
    before = sorted(p.name for p in (out / "runs" / "baseline").iterdir())
    r = CliRunner().invoke(main, ["sweep", "--seeds", "1", "--config", str(other), "--census", str(census), "--years",
                                  "2025-2026", "--out", str(out)])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (f"error: {out}/runs/baseline: holds runs of another config than {other} (e.g. seed=1); give "
                        "this config a scenario name of its own ([scenario].name, or a file of another name), or "
                        "another --out, or --force to replace those runs\n")
    assert sorted(p.name for p in (out / "runs" / "baseline").iterdir()) == before


def test_a_sweep_is_reported_by_its_medians_and_scenarios_are_overlaid(swept, tmp_path):
    from arrow_events.warehouse.charts import fan_chart

    out, _ = swept
    r = CliRunner().invoke(main, ["report", str(out), "--out", str(tmp_path / "report")])
    assert r.exit_code == 0, r.output
    dist = pq.read_table(out / "distribution.parquet")
    table = pq.read_table(tmp_path / "report" / "comparison.parquet")
    assert table["value"].to_pylist() == dist["p50"].to_pylist() and set(table["scenario"].to_pylist()) == {"baseline"}
    assert table["p25"].to_pylist() == dist["p25"].to_pylist()
    # two scenarios share the panels (one colour per scenario and design) instead of a row each
    other = dist.set_column(0, "scenario", pa.array(["richer"] * dist.num_rows))
    fan_chart(pa.concat_tables([dist, other]), tmp_path / "two.png")
    width, height = FAN_PANEL_SIZE
    assert png_size((tmp_path / "two.png").read_bytes()) == (width * 2 * FAN_DPI, round((height * 2 + 1.2) * FAN_DPI))


def test_without_matplotlib_a_sweep_writes_its_distribution_and_no_chart(swept, tmp_path, monkeypatch):
    from arrow_events.sweep import write_distribution

    out, _ = swept
    table = pq.read_table(out / "distribution.parquet")
    (tmp_path / "distribution.png").write_bytes(b"an older chart")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib then fails
    parquet, chart = write_distribution(tmp_path, table)
    assert chart is None and pq.read_table(parquet).equals(table)
    assert not (tmp_path / "distribution.png").exists()  # it would not match the new distribution


def test_a_path_whose_metrics_cannot_be_found_is_failed(swept, inputs, tmp_path):
    # as on a Ray cluster whose nodes write --out where this machine does not see it: the batch says
    # done, the batch file is not there
    from arrow_events.sweep import RunResult, SweepReport, _finished_runs, _jobs, unseen_as_failed

    out, _ = swept
    census, config = inputs
    jobs = _jobs(plan_sweep([config], [1, 99], census, YEARS), out)  # seed 99 was never run
    report = SweepReport(out, finished=[RunResult("baseline", 1, 1.0, 2), RunResult("baseline", 99, 1.0, 2)])
    unseen_as_failed(report, jobs, _finished_runs(out))
    assert [r.seed for r in report.finished] == [1] and [r.seed for r in report.failed] == [99]
    assert report.failed[0].error.startswith(f"its batch finished, but its metrics are not in {out}/batches")
