"""The command line: the main job with no arguments, the other commands, user errors."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from arrow_events import load_config
from arrow_events.cli import main
from tests.conftest import ROOT, SAMPLES


def test_run_with_no_options_writes_five_years(tmp_path):
    # the README's main job, through the installed console script
    proc = subprocess.run(["arrow-events", "run"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for table in ("events", "snapshot"):
        years = sorted(p.name for p in (tmp_path / "warehouse" / table).iterdir())
        assert years == [f"simulation_year={y}" for y in range(2025, 2030)]
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["year", "design", "start", "end"]
    assert [line.split()[0] for line in lines[1:6]] == [str(y) for y in range(2025, 2030)]
    assert lines[1].split()[1:4] == ["standard", "5,000", "5,150"]  # 5,000 x 1.03
    assert proc.stderr == ""  # not a terminal: no progress lines


def invoke(*args: str, cwd: Path):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_sample_census_simulates(tmp_path):
    r = invoke("run", "--census", str(SAMPLES / "invariant_census.csv"), "--years", "2025-2026",
               "--out", "wh", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert "149" in r.output.splitlines()[1]  # 149 actives at Jan 1, 2025


def test_census_command_then_run(tmp_path):
    r = invoke("census", "--employees", "300", "--seed", "5", "--out", "c.csv", cwd=tmp_path)
    assert r.exit_code == 0 and (tmp_path / "c.csv").exists()
    r = invoke("run", "--census", "c.csv", "--years", "2025", "--out", "wh", "--seed", "9", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[1].split()[2] == "300"


def test_config_command_prints_loadable_toml(tmp_path):
    r = invoke("config", cwd=tmp_path)
    assert r.exit_code == 0
    (tmp_path / "c.toml").write_text(r.output)
    assert load_config(tmp_path / "c.toml") == load_config(None)
    assert tomllib.loads(r.output)["scenario"]["growth"] == 0.03


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--census", "missing.csv"], "missing.csv: census file not found"),
        (["run", "--config", "bad.toml"], "unknown key 'growht' (did you mean 'growth'?)"),
        (["run", "--years", "2029-2025"], "--years: expected YEAR or FIRST-LAST"),
        (["run", "--year", "2027"], "no snapshot for 2026"),
        (["run", "--out", "afile"], "afile: output path exists and is not a directory"),
        (["run", "--years", "2020"], "before the scenario's start_year 2025"),
    ],
)
def test_user_errors_are_one_line_exit_2_nothing_written(tmp_path, args, needle):
    (tmp_path / "bad.toml").write_text("[scenario]\ngrowht = 0.1\n")
    (tmp_path / "afile").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "arrow_events", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "warehouse").exists()


def test_bad_option_values_are_usage_errors(tmp_path):
    r = CliRunner().invoke(main, ["run", "--threads", "0"])
    assert r.exit_code == 2 and "--threads" in r.output


def test_rerun_from_a_snapshot_made_under_another_config_warns(tmp_path):
    assert invoke("run", "--years", "2025-2026", "--out", "wh", cwd=tmp_path).exit_code == 0
    same = subprocess.run(["arrow-events", "run", "--year", "2026", "--out", "wh"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert same.returncode == 0 and "different config" not in same.stderr
    other = subprocess.run(["arrow-events", "run", "--year", "2026", "--out", "wh", "--seed", "7"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0
    assert "warning: 2025 was simulated with a different config or seed" in other.stderr


def test_progress_reports_each_shard_as_it_is_written(tmp_path):
    from arrow_events import RunOptions, run

    shards, years = [], []
    run(load_config(None), tmp_path / "wh", [2025, 2026], options=RunOptions(shard_rows=2000),
        progress=lambda y: years.append((y.year, y.shards)), shard_progress=lambda *a: shards.append(a))
    # 5,000 employees and 1,098 hires in 2025, 5,150 and 1,172 in 2026: 4 shards of at most 2,000 each
    assert shards == [(y, i, 4) for y in (2025, 2026) for i in range(1, 5)]
    assert years == [(2025, 4), (2026, 4)]


def test_the_summary_has_a_row_per_design_and_every_event_type(tmp_path):
    """Scripts parse it: the same columns every run (a type nobody had shows 0), each design's own counts."""
    (tmp_path / "two.toml").write_text('[[plan_designs]]\nplan_design_id = "a"\n[[plan_designs]]\n'
                                       'plan_design_id = "b"\nauto_enroll = false\nauto_escalation = false\n')
    r = invoke("run", "wh", "--config", "two.toml", "--census", str(ROOT / "examples" / "census.csv"), "--years",
               "2025", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    header, a, b = (line.split() for line in r.output.splitlines()[:3])
    assert header == ["year", "design", "start", "end", "hire", "eligibility", "enrollment", "opt_out", "escalation",
                      "deferral_change", "promotion", "merit", "termination", "seconds"]
    assert (a[:2], b[:2]) == (["2025", "a"], ["2025", "b"])
    row = {design[1]: dict(zip(header, design)) for design in (a, b)}
    assert row["b"]["escalation"] == row["b"]["opt_out"] == "0"  # kept, not dropped
    for workforce in ("start", "end", "hire", "promotion", "merit", "termination"):  # the same people
        assert row["a"][workforce] == row["b"][workforce]
    events = sum(int(row[d][t].replace(",", "")) for d in "ab" for t in header[4:-1])
    assert events == pq.read_metadata(tmp_path / "wh/events/simulation_year=2025/part-0.parquet").num_rows


def test_one_spelling_for_the_warehouse_and_the_old_ones_still_work(tmp_path):
    assert invoke("run", "wh", "--years", "2025", cwd=tmp_path).exit_code == 0  # WAREHOUSE
    assert invoke("run", "--out", "wh", "--year", "2026", cwd=tmp_path).exit_code == 0  # the old --out
    assert sorted(p.name for p in (tmp_path / "wh" / "events").iterdir()) == ["simulation_year=2025",
                                                                              "simulation_year=2026"]
    r = invoke("run", "wh", "--out", "other", cwd=tmp_path)
    assert r.exit_code == 2 and r.stderr == ("error: the warehouse is given twice (wh and --out other); give it once, "
                                             "as WAREHOUSE\n")
    for old_and_new in (["explain", "--year", "2026", "--warehouse", "wh"], ["explain", "wh", "--year", "2026"]):
        r = invoke(*old_and_new, cwd=tmp_path)
        assert r.exit_code == 0 and r.output.startswith("year 2026: fused plan")
    help_text = invoke("run", "--help", cwd=tmp_path).output
    assert "[WAREHOUSE]" in help_text and "--out" not in help_text  # the old spelling is not shown


def test_validate_on_a_missing_path_is_one_line(tmp_path):
    r = invoke("validate", "nowhere", cwd=tmp_path)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == "error: nowhere: no such warehouse (nothing at that path); write one with: arrow-events run " \
                       "nowhere\n"


def test_census_out_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "c.csv").write_text("mine\n")
    r = invoke("census", "--employees", "5", "--out", "c.csv", cwd=tmp_path)
    assert r.exit_code == 2 and r.stderr == "error: c.csv: exists; give another --out, or --force to replace it\n"
    assert (tmp_path / "c.csv").read_text() == "mine\n"
    assert invoke("census", "--employees", "5", "--out", "c.csv", "--force", cwd=tmp_path).exit_code == 0
    assert (tmp_path / "c.csv").read_text().startswith('"employee_id",')
