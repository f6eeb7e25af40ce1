"""The analyst's tools over warehouses: workforce metrics in the report, report.html, scenario comparison,
read-only SQL (arrow-events sql) and the byte-level compare's account of two runs.

Two small runs of examples/census.csv (200 employees, 2 years): the two plan designs of
examples/plan_designs.toml with seed 42, and the same with seed 7."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from arrow_events import load_config, run
from arrow_events.cli import main
from arrow_events.warehouse.comparison import compare_metrics
from arrow_events.warehouse.report import workforce_metrics, yearly_metrics
from arrow_events.warehouse.writer import read_partition
from tests.conftest import ROOT

CENSUS, DESIGNS = ROOT / "examples" / "census.csv", ROOT / "examples" / "plan_designs.toml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("runs")
    cfg = load_config(DESIGNS)
    run(cfg, d / "base", "2025-2026", CENSUS)
    run(cfg, d / "seed7", "2025-2026", CENSUS, seed=7)
    return d / "base", d / "seed7"


def cli(*args: str, cwd: Path | None = None):
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)


def test_workforce_metrics_agree_with_the_manifests_and_the_breakdowns_add_up(runs):
    base, _ = runs
    overall = workforce_metrics(base).to_pylist()
    for row in overall:
        m = json.loads((base / "manifests" / f"simulation_year={row['simulation_year']}.json").read_text())
        counts = m["workforce_counts"]
        assert (row["headcount_start"], row["hires"], row["experienced_terminations"], row["new_hire_terminations"]) \
            == (counts["n_active"], counts["hires"], counts["experienced_terms"], counts["new_hire_terms"])
        assert row["headcount_end"] == counts["target"]  # the growth target is met exactly
        assert row["promotions"] * 2 == m["events_by_type"]["promotion"]  # each promotion under both designs
        snapshot = read_partition(base, "snapshot", row["simulation_year"])
        actives = snapshot.filter(pc.and_(pc.equal(snapshot["status"], "active"),
                                          pc.equal(snapshot["plan_design_id"], "auto_enroll_stretch")))
        assert row["total_compensation"] == pc.sum(actives["compensation"]).as_py()
    for by in ("level", "age_band", "tenure_band"):
        table = workforce_metrics(base, by)
        assert table.column_names[1] == by
        for column in ("headcount_start", "headcount_end", "hires", "experienced_terminations", "promotions"):
            for year_row in overall:
                mine = table.filter(pc.equal(table["simulation_year"], year_row["simulation_year"]))
                assert pc.sum(mine[column]).as_py() == year_row[column], (by, column)
    assert workforce_metrics(base, "level")["level"].to_pylist()[:5] == ["1", "2", "3", "4", "5"]
    bands = workforce_metrics(base, "age_band")["age_band"].to_pylist()
    assert bands[0] == "<25" and bands.index("65+") > bands.index("55-64")  # in band order


def test_report_prints_both_tables_and_writes_one_page_with_the_charts(runs, tmp_path):
    base, _ = runs
    r = cli("report", base, "--by", "level", "--out", tmp_path / "report")
    assert r.exit_code == 0, r.output
    plan, workforce = r.stdout.split("\n\n")
    assert plan.splitlines()[0].split()[:3] == ["year", "design", "actives"] and len(plan.splitlines()) == 5
    assert workforce.splitlines()[0].split()[:4] == ["year", "level", "start", "end"]
    assert len(workforce.strip().splitlines()) == 1 + 2 * 5  # 2 years x 5 levels
    files = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert files == ["metrics.csv", "metrics.parquet", "metrics.png", "report.html", "workforce.csv",
                     "workforce.parquet", "workforce.png"]
    page = (tmp_path / "report" / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(i) for i in images] == [(tmp_path / "report" / n).read_bytes()
                                                    for n in ("metrics.png", "workforce.png")]
    assert "<h2>Workforce by level</h2>" in page and "auto_enroll_stretch" in page
    assert "http" not in page.replace("<!DOCTYPE html>", "")  # self-contained: nothing fetched
    assert pq.read_table(tmp_path / "report" / "workforce.parquet").equals(workforce_metrics(base, "level"))
    again = cli("report", base, "--by", "level", "--out", tmp_path / "again")
    assert again.exit_code == 0 and (tmp_path / "again" / "report.html").read_text() == page  # no clock in it
    as_json = json.loads(cli("report", base, "--format", "json").stdout)
    assert set(as_json) == {"plan_designs", "workforce"} and len(as_json["plan_designs"]) == 4
    assert as_json["workforce"][0]["headcount_start"] == 200


def test_report_without_matplotlib_writes_the_tables_and_says_so(runs, tmp_path, monkeypatch):
    base, _ = runs
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib then fails
    r = cli("report", base, "--out", tmp_path / "plain")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [
        "metrics.csv", "metrics.parquet", "report.html", "workforce.csv", "workforce.parquet"]
    assert "note: no charts: charts need matplotlib: pip install 'arrow-events[charts]'" in r.stderr
    assert "pip install &#x27;arrow-events[charts]&#x27;" in (tmp_path / "plain" / "report.html").read_text()


def test_two_warehouses_are_compared_metric_by_metric(runs, tmp_path):
    base, seed7 = runs
    r = cli("report", base, seed7, "--out", tmp_path / "compared")
    assert r.exit_code == 0, r.output
    head = r.stdout.splitlines()[0].split()
    assert head[:5] == ["year", "design", "metric", str(base), str(seed7)]
    files = sorted(p.name for p in (tmp_path / "compared").iterdir())
    assert files == ["comparison.csv", "comparison.parquet", "comparison.png", "report.html"]
    table = pq.read_table(tmp_path / "compared" / "comparison.parquet")
    assert table.equals(compare_metrics([base, seed7]))
    rows = {(r["scenario"], r["simulation_year"], r["plan_design_id"], r["metric"]): r for r in table.to_pylist()}
    metrics = {str(w): {(m["simulation_year"], m["plan_design_id"]): m for m in yearly_metrics(w).to_pylist()}
               for w in runs}
    for (scenario, year, design, metric), row in rows.items():
        if scenario == str(base):
            assert row["difference"] == 0 or row["value"] is None
        if metric == "employer_match":
            a, b = (float(metrics[str(w)][(year, design)]["employer_match"]) for w in runs)
            mine = a if scenario == str(base) else b
            assert row["value"] == mine and row["difference"] == pytest.approx(mine - a)
            assert row["relative_difference"] == pytest.approx((mine - a) / a)
    workforce = [r for r in table.to_pylist() if r["plan_design_id"] is None]
    assert {r["metric"] for r in workforce} >= {"headcount_start", "hires", "mean_compensation"}
    page = (tmp_path / "compared" / "report.html").read_text()
    assert "data:image/png;base64," in page and "seed 7" in page


def test_sql_reads_every_table_and_writes_what_it_is_asked(runs, tmp_path):
    base, _ = runs
    r = cli("sql", base, "SELECT simulation_year, hires, new_hire_terms FROM workforce_counts ORDER BY 1")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].split() == ["simulation_year", "hires", "new_hire_terms"]
    assert r.stdout.splitlines()[-1] == "(2 rows)"
    money = cli("sql", base, "SELECT employer_match FROM contributions WHERE employer_match > 0 LIMIT 1", "--format",
                "json")
    assert isinstance(json.loads(money.stdout)[0]["employer_match"], float)
    shown = cli("sql", base, "SELECT compensation FROM snapshot WHERE compensation > 0 LIMIT 1").stdout
    assert "Decimal" not in shown and re.search(r"\d+\.\d\d", shown)
    csv = cli("sql", base, "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1", "--format", "csv")
    assert csv.stdout.splitlines()[0] == '"event_type","n"'
    out = tmp_path / "c.parquet"
    assert cli("sql", base, "SELECT * FROM contributions", "--format", "parquet", "--out", out).exit_code == 0
    assert pq.read_table(out).num_rows == sum(pq.read_metadata(p).num_rows
                                              for p in (base / "contributions").glob("*/part-0.parquet"))
    for args, error in [
        (["DELETE FROM events"], "error: query: Error during planning: DML not supported: Delete"),
        (["COPY (SELECT 1) TO 'x.csv'"], "error: query: Error during planning: DML not supported: COPY"),
        (["SELECT 1", "--format", "parquet"], "error: --format parquet needs --out FILE"),
        (["SELECT 1", "--out", str(out)], f"error: {out}: exists; give another --out, or --force to replace it"),
    ]:
        bad = cli("sql", base, *args, cwd=tmp_path)
        assert bad.exit_code == 2 and bad.stderr.startswith(error) and len(bad.stderr.splitlines()) == 1, bad.stderr
    assert not (tmp_path / "x.csv").exists()
    missing = cli("sql", tmp_path / "nowhere", "SELECT 1")
    assert missing.exit_code == 2 and "no such warehouse" in missing.stderr


def test_compare_says_first_that_the_seeds_differ_and_shows_plain_values(runs):
    base, seed7 = runs
    r = cli("compare", base, seed7)
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "note: the two runs differ in seed (42 vs 7)"
    assert lines[1].startswith("different: ")
    assert "Decimal(" not in r.stdout and "datetime" not in r.stdout
    assert re.search(r"compensation: \d+\.\d\d vs \d+\.\d\d", r.stdout)
    same = cli("compare", base, base)
    assert same.exit_code == 0 and same.stdout.startswith("identical: ")


def test_sql_and_report_share_the_flight_guard():
    from arrow_events.warehouse import sql as guard

    assert guard.READ_ONLY is not None
    # the server's query workers plan and run SQL tickets with the same functions as `arrow-events sql`
    source = (ROOT / "arrow_events" / "service" / "query_worker.py").read_text()
    assert "from arrow_events.warehouse.sql import plan_query, run_query" in source  # one implementation
    assert pa.types.is_int32(guard.WORKFORCE_COUNTS_SCHEMA.field("simulation_year").type)
