"""A warehouse written by the previous release (a417f61, tests/data/warehouse_a417f61: 300 employees,
seed 11, 2025-2026) still validates, and this version, continuing it, writes the very bytes it wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from arrow_events.cli import main
from arrow_events.warehouse.validate import validate_warehouse

OLD = Path(__file__).parent / "data" / "warehouse_a417f61"
TABLES = ("events", "snapshot", "contributions")


def test_a_warehouse_of_the_previous_release_validates():
    report = validate_warehouse(OLD)
    assert report.ok, report.render(5)
    assert report.years == [2025, 2026]


def test_re_running_its_last_year_gives_the_same_bytes_and_no_drift_warning(tmp_path):
    wh = tmp_path / "wh"
    shutil.copytree(OLD, wh)
    for table in TABLES:  # the year to be written again, moved out of the way
        shutil.rmtree(wh / table / "simulation_year=2026")
    r = CliRunner().invoke(main, ["run", "--year", "2026", "--seed", "11", "--out", str(wh)])
    assert r.exit_code == 0, r.output
    assert "warning" not in r.stderr  # the same config as the one 2025 was made with: no config drift
    for table in TABLES:
        part = Path(table) / "simulation_year=2026" / "part-0.parquet"
        assert (wh / part).read_bytes() == (OLD / part).read_bytes(), part


def test_a_different_config_on_top_of_it_is_warned_about(tmp_path):
    wh = tmp_path / "wh"
    shutil.copytree(OLD, wh)
    r = CliRunner().invoke(main, ["run", "--year", "2026", "--seed", "12", "--out", str(wh)])
    assert r.exit_code == 0, r.output
    assert "2025 was simulated with a different config or seed" in r.stderr
