"""arrow-events report: the yearly metrics agree with the warehouse's own rows, and the files it writes."""

from __future__ import annotations

import json
import shutil
import struct
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from click.testing import CliRunner
from conftest import read_year

from arrow_events.cli import main
from arrow_events.warehouse.charts import DPI, SIZE
from arrow_events.warehouse.report import yearly_metrics

AMOUNTS = ["plan_compensation", "employee_deferrals", "employer_match", "employer_core"]


def expected_rows(out, year: int, design: str) -> dict:
    """The metrics of one year and design, counted and summed here with pyarrow from the files."""
    snap = read_year(out, "snapshot", year)
    snap = snap.filter(pc.equal(snap["plan_design_id"], design)).to_pylist()
    contributions = read_year(out, "contributions", year)
    mine = contributions.filter(pc.equal(contributions["plan_design_id"], design))
    actives = [s for s in snap if s["status"] == "active"]
    eligible = [s for s in actives if s["eligibility_date"] is not None and s["eligibility_date"].year <= year]
    enrolled = [s for s in actives if s["enrolled"]]
    totals = {c: pc.sum(mine[c]).as_py() for c in AMOUNTS}
    return {
        "actives": len(actives), "eligible": len(eligible), "participants": len(enrolled),
        "participation_rate": sum(s["enrolled"] for s in eligible) / len(eligible),
        "mean_deferral_rate": sum(s["deferral_rate"] for s in enrolled) / len(enrolled),
        **totals,
        "employer_cost_rate": float((totals["employer_match"] + totals["employer_core"])
                                    / totals["plan_compensation"]),
        "at_deferral_limit": pc.sum(mine["deferral_limit_reached"]).as_py(),
    }


def test_metrics_equal_the_warehouse_rows(default_run):
    cfg, out, _ = default_run
    metrics = yearly_metrics(out).to_pylist()
    designs = sorted(d.plan_design_id for d in cfg.plan_designs)
    assert [(m["simulation_year"], m["plan_design_id"]) for m in metrics] == [
        (y, d) for y in cfg.years for d in designs]
    for m in metrics:
        want = expected_rows(out, m["simulation_year"], m["plan_design_id"])
        for key, value in want.items():
            if isinstance(value, float):
                assert abs(m[key] - value) < 1e-12, key
            else:
                assert m[key] == value, key
    # the design that auto-enrolls ends up with more participants, and costs more
    last = {m["plan_design_id"]: m for m in metrics if m["simulation_year"] == cfg.years[-1]}
    assert last["standard"]["participation_rate"] > last["voluntary_only"]["participation_rate"]
    assert last["standard"]["employer_match"] > last["voluntary_only"]["employer_match"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_out_writes_metrics_and_a_chart(default_run, tmp_path):
    _, out, _ = default_run
    r = CliRunner().invoke(main, ["report", str(out), "--out", str(tmp_path / "report")])
    assert r.exit_code == 0, r.output
    plan = r.stdout.split("\n\n")[0].splitlines()  # then the workforce's table
    assert plan[0].split()[:3] == ["year", "design", "actives"]
    assert len(plan) == 1 + 10  # the heading, 5 years x 2 designs
    files = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert files == ["metrics.csv", "metrics.parquet", "metrics.png", "report.html", "workforce.csv",
                     "workforce.parquet", "workforce.png"]
    table = pq.read_table(tmp_path / "report" / "metrics.parquet")
    assert table.equals(yearly_metrics(out))
    assert (tmp_path / "report" / "metrics.csv").read_text().count("\n") == 11
    assert png_size((tmp_path / "report" / "metrics.png").read_bytes()) == (SIZE[0] * DPI, SIZE[1] * DPI)


def test_report_json_for_scripts(default_run):
    _, out, _ = default_run
    r = CliRunner().invoke(main, ["report", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["plan_designs"]
    metrics = yearly_metrics(out).to_pylist()
    assert len(rows) == len(metrics) == 10
    assert rows[0]["employer_match"] == float(metrics[0]["employer_match"])
    assert rows[0]["simulation_year"] == metrics[0]["simulation_year"]


def test_a_warehouse_without_contributions_reports_its_counts(default_run, tmp_path):
    _, out, _ = default_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    shutil.rmtree(old / "contributions")
    metrics = yearly_metrics(old)
    assert metrics["actives"].equals(yearly_metrics(out)["actives"])
    assert metrics["employer_match"].null_count == metrics.num_rows
    r = CliRunner().invoke(main, ["report", str(old)])
    assert r.exit_code == 0 and "has no contributions table" in r.stderr


def test_not_a_warehouse_is_one_clear_error(tmp_path):
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "nothing: no such warehouse" in r.stderr
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(main, ["report", str(tmp_path / "empty")])
    assert r.exit_code == 2 and "not an arrow-events warehouse" in r.stderr
    assert "Traceback" not in r.output



def test_out_that_is_a_file_is_refused_before_anything(default_run, tmp_path):
    _, out, _ = default_run
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(main, ["report", str(out), "--out", str(tmp_path / "file")])
    assert r.exit_code != 0 and r.stdout == ""
    assert r.stderr.startswith("error: --out: ") and "exists and is not a directory" in r.stderr


def test_amounts_are_exact_decimals(default_run):
    _, out, _ = default_run
    metrics = yearly_metrics(out)
    assert metrics.schema.field("employer_match").type == pa.decimal128(18, 2)
    assert isinstance(metrics["employer_match"][0].as_py(), Decimal)
