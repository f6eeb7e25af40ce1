"""validate, compare and explain: the commands users debug and diff runs with."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from arrow_events import load_config, run
from arrow_events.warehouse.compare import compare_warehouses
from arrow_events.warehouse.validate import validate_warehouse
from arrow_events.warehouse.writer import read_partition, sha256_file


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    cfg = load_config(None)
    cfg.scenario.years = 3
    out = tmp_path_factory.mktemp("pristine") / "wh"
    run(cfg, out)
    return out


@pytest.fixture
def wh(pristine, tmp_path):
    copy = tmp_path / "wh"
    shutil.copytree(pristine, copy)
    return copy


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "arrow_events", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_validate_clean_on_the_main_job(default_run):
    _, out, _ = default_run
    report = validate_warehouse(out)
    assert report.ok, report.render()
    assert report.years == [2025, 2026, 2027, 2028, 2029] and report.files == 15  # events, snapshot, contributions
    proc = cli("validate", str(out))
    assert proc.returncode == 0 and "clean" in proc.stdout


def test_validate_catches_a_truncated_file(wh):
    f = wh / "events" / "simulation_year=2026" / "part-0.parquet"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    proc = cli("validate", str(wh))
    assert proc.returncode == 1
    assert "sha256 differs" in proc.stdout and "unreadable Parquet" in proc.stdout


def test_validate_catches_an_edited_file(wh):
    f = wh / "snapshot" / "simulation_year=2025" / "part-0.parquet"
    t = pq.read_table(f)
    level = t["level_id"].to_pylist()
    level[0] = 5 if level[0] != 5 else 4
    i = t.schema.get_field_index("level_id")
    pq.write_table(t.set_column(i, t.schema.field(i), pa.array(level, pa.int32())), f)
    report = validate_warehouse(wh)
    assert [v.check for v in report.violations] == ["manifest"]
    assert "snapshot/simulation_year=2025/part-0.parquet" in report.violations[0].where


def test_validate_checks_invariants_not_just_checksums(wh):
    # drop one termination and re-sign the manifest: only the invariants can notice
    f = wh / "events" / "simulation_year=2027" / "part-0.parquet"
    t = pq.read_table(f)
    first_term = pc.index(t["event_type"], "termination").as_py()
    t = pa.concat_tables([t.slice(0, first_term), t.slice(first_term + 1)])
    pq.write_table(t, f)
    m = wh / "manifests" / "simulation_year=2027.json"
    manifest = json.loads(m.read_text())
    manifest["files"]["events"].update(sha256=sha256_file(f), rows=t.num_rows)
    m.write_text(json.dumps(manifest))
    checks = {v.check for v in validate_warehouse(wh).violations}
    assert {"headcount", "termination"} <= checks


def test_validate_catches_layout_problems(wh):
    (wh / "events" / "simulation_year=2026" / "extra.parquet").write_bytes(b"x")
    shutil.rmtree(wh / "snapshot" / "simulation_year=2027")
    (wh / "notes.txt").write_text("hi")
    report = validate_warehouse(wh)
    details = report.render()
    assert "expected exactly part-0.parquet" in details
    assert "missing: snapshot" in details
    assert "stray entry in the warehouse" in details


def test_compare_identical_and_different(pristine, wh):
    assert compare_warehouses(pristine, wh).identical
    proc = cli("compare", str(pristine), str(wh))
    assert proc.returncode == 0 and proc.stdout.startswith("identical: 9 data files")
    f = wh / "events" / "simulation_year=2026" / "part-0.parquet"
    t = pq.read_table(f)
    rates = t["deferral_rate"].to_pylist()
    rates[3] = 0.5
    t = t.set_column(t.schema.get_field_index("deferral_rate"), "deferral_rate", pa.array(rates))
    t = t.slice(0, t.num_rows - 1)  # and lose the last event
    pq.write_table(t, f)
    report = compare_warehouses(pristine, wh)
    assert not report.identical and len(report.diffs) == 1
    d = report.diffs[0]
    assert (d.table, d.year) == ("events", 2026)
    assert d.rows[0] == d.rows[1] + 1 and len(d.only_in_a) == 1
    assert sum(x - y for x, y in d.count_changes.values()) == 1
    key, cols = d.changed[0]
    assert list(cols) == ["deferral_rate"] and cols["deferral_rate"][1] == 0.5
    proc = cli("compare", str(pristine), str(wh))
    assert proc.returncode == 1 and "deferral_rate" in proc.stdout and "only in A" in proc.stdout


def test_explain_shows_one_cohort_scan_and_plans(tmp_path):
    proc = cli("explain", "--year", "2025", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # in the global step one (narrow) scan for each of the counts, the hires' level mix and the
    # termination keys, one in the shard; 7 cohort streams + 8 hire streams, the termination
    # key in each step and its date for those drawn
    assert "cohort scans in the executed plans: 4" in out
    assert "draw expressions in the executed plans: 18" in out
    assert "== global step: hazards: materialized in memory" in out
    assert "== global step: cohort_t: view (inlined where read)" in out
    assert "== shard: rng: view (inlined where read)" in out
    assert "== shard: member_year: the shard's plan" in out and "-- physical" in out and "ProjectionExec" in out
    assert not (tmp_path / "warehouse").exists()


def test_explain_dump_writes_one_relation(pristine, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in pristine.rglob("*")}
    proc = cli("explain", "--year", "2026", "--warehouse", str(pristine), "--dump", "promotion",
               "--out", str(tmp_path / "debug"))
    assert proc.returncode == 0, proc.stderr
    promo = pq.read_table(tmp_path / "debug" / "promotion.parquet")
    events = pq.read_table(pristine / "events" / "simulation_year=2026" / "part-0.parquet")
    promoted = events.filter(pc.equal(events["event_type"], "promotion"))
    # every member's row, the promotion dated where it happens (before the termination cut):
    # at least the promotions that were written
    assert promo.num_rows > promoted.num_rows > 0
    dated = promo.filter(pc.is_valid(promo["promotion_on"]))
    assert set(promoted["employee_id"].to_pylist()) <= set(dated["employee_id"].to_pylist())
    assert {p: p.stat().st_mtime_ns for p in pristine.rglob("*")} == before
    bad = cli("explain", "--year", "2026", "--warehouse", str(pristine), "--dump", "nope", "--out", "x",
              cwd=tmp_path)
    assert bad.returncode == 2 and "unknown relation 'nope'" in bad.stderr


def test_validate_catches_sequence_and_key_errors(wh):
    f = wh / "events" / "simulation_year=2025" / "part-0.parquet"
    t = pq.read_table(f)
    seq = t["event_seq"].to_pylist()
    first_multi = next(i for i in range(len(seq) - 1) if seq[i + 1] == 2)
    seq[first_multi], seq[first_multi + 1] = 2, 1  # out of order and unsorted
    i = t.schema.get_field_index("event_seq")
    t = t.set_column(i, t.schema.field(i), pa.array(seq, pa.int32()))
    t = pa.concat_tables([t, t.slice(5, 1)])  # and one duplicated row at the end
    pq.write_table(t, f)
    m = wh / "manifests" / "simulation_year=2025.json"
    manifest = json.loads(m.read_text())
    manifest["files"]["events"].update(sha256=sha256_file(f), rows=t.num_rows)
    m.write_text(json.dumps(manifest))
    found = [(v.check, v.detail) for v in validate_warehouse(wh).violations]
    assert any(c == "order" and "rows not sorted" in d for c, d in found)
    assert any(c == "order" and "does not follow date and type order" in d for c, d in found)
    assert any(c == "keys" and "1 duplicate key(s)" in d for c, d in found)


def _resign(wh, table: str, year: int, t: pa.Table) -> None:
    """Rewrite a data file and its manifest entry, as a careless edit would: only the checks can notice."""
    f = wh / table / f"simulation_year={year}" / "part-0.parquet"
    pq.write_table(t, f)
    m = wh / "manifests" / f"simulation_year={year}.json"
    manifest = json.loads(m.read_text())
    manifest["files"][table].update(sha256=sha256_file(f), rows=t.num_rows)
    m.write_text(json.dumps(manifest))


def test_validate_recomputes_the_contributions(wh):
    t = read_partition(wh, "contributions", 2026)
    money = pa.decimal128(18, 2)
    deferrals = t["employee_deferrals"].to_pylist()
    at_limit = t["deferral_limit_reached"].to_pylist()
    i = at_limit.index(True)  # someone at the 402(g) limit: one cent more breaks it
    deferrals[i] += Decimal("0.01")
    match = t["employer_match"].to_pylist()
    j = next(k for k, m in enumerate(match) if m > 0)
    match[j] += Decimal("100.00")  # past the tiers and the cap
    for name, values in (("employee_deferrals", deferrals), ("employer_match", match)):
        i = t.schema.get_field_index(name)
        t = t.set_column(i, t.schema.field(i), pa.array(values, money))
    _resign(wh, "contributions", 2026, t)
    details = validate_warehouse(wh).render()
    assert "contributions 2026" in details
    assert "deferrals above the deferral limit" in details and "deferral_limit_reached disagrees" in details
    assert "match above max_match_percentage" in details and "match differs from the tiers" in details


def test_validate_wants_one_contributions_row_per_snapshot_row(wh):
    t = read_partition(wh, "contributions", 2025)
    _resign(wh, "contributions", 2025, t.slice(1))
    assert "not one per snapshot row" in validate_warehouse(wh).render()
    shutil.rmtree(wh / "contributions" / "simulation_year=2027")
    assert "listed in the year's manifest but missing" in validate_warehouse(wh).render()
