"""Scheduled terminations: a census termination date on or after the start keeps the
employee in the cohort until that date, in whichever simulated year it falls."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from arrow_events import RunOptions, from_census, read_census, run, synthetic_census
from arrow_events.census.intake import normalize_census
from arrow_events.cli import main
from arrow_events.config import dump_toml
from arrow_events.warehouse.validate import validate_warehouse
from arrow_events.warehouse.writer import read_partition, sha256_file
from tests.conftest import two_design_config

YEARS = [2025, 2026, 2027]
EMPLOYEES = 400
# census row index -> termination date; 2024 dates are past leavers, the rest are scheduled
SCHEDULE = {
    0: "2025-01-01", 1: "2025-07-04", 2: "2025-12-31", 3: "2025-03-15",
    **{i: "2026-03-31" for i in range(10, 22)},  # a dozen known retirements in 2026
    22: "2026-01-01", 23: "2026-12-31",
    30: "2027-06-30", 31: "2027-02-01", 32: "2028-05-01",
    40: "2024-06-30", 41: "2024-12-31",
}


def emp(i: int) -> str:
    return f"EMP_{i + 1:07d}"


def scheduled_census() -> pa.Table:
    raw = synthetic_census(EMPLOYEES, seed=3)
    dates = [None] * EMPLOYEES
    for i, d in SCHEDULE.items():
        dates[i] = dt.date.fromisoformat(d)
    col = raw.schema.get_field_index("employee_termination_date")
    return raw.set_column(col, "employee_termination_date", pa.array(dates, pa.date32()))


def digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """3 years on a census with scheduled terminations, two plan designs, by both engines and 1 or 2 threads."""
    cfg = two_design_config()
    cfg.scenario.years = len(YEARS)
    census = read_census(scheduled_census(), 2025)
    outs = {}
    for name, threads, engine in (("fused", 2, "fused"), ("one_thread", 1, "fused"), ("legacy", 2, "legacy")):
        outs[name] = tmp_path_factory.mktemp(name) / "wh"
        run(cfg, outs[name], census=census, options=RunOptions(threads=threads, engine=engine))
    return cfg, outs


def test_census_keeps_rows_whose_termination_is_on_or_after_the_start(tmp_path):
    csv = tmp_path / "census.csv"
    csv.write_text(
        "employee_id,employee_birth_date,employee_hire_date,employee_gross_compensation,active,"
        "employee_termination_date\n"
        "A,1960-02-01,2000-01-01,90000,true,2026-03-31\n"
        "B,1970-02-01,2005-01-01,60000,,2025-01-01\n"
        "C,1980-02-01,2010-01-01,50000,true,2024-12-31\n"
        "D,1985-02-01,2015-01-01,50000,false,2027-01-01\n"
        "E,1990-02-01,2020-01-01,50000,true,\n"
    )
    census = read_census(csv, 2025).table
    assert census["active"].to_pylist() == [True, True, False, False, True]
    state = from_census(census, two_design_config())
    assert state.cohort["employee_id"].to_pylist() == ["A", "B", "E"]
    assert state.cohort["scheduled_termination_date"].to_pylist() == [dt.date(2026, 3, 31), dt.date(2025, 1, 1), None]


def test_employee_scheduled_in_2026_terminates_on_the_date(runs):
    _, outs = runs
    out = outs["fused"]
    snap25, snap26 = read_partition(out, "snapshot", 2025), read_partition(out, "snapshot", 2026)
    events25, events26 = read_partition(out, "events", 2025), read_partition(out, "events", 2026)
    survivors = 0
    for i in range(10, 22):
        rows25 = snap25.filter(pc.equal(snap25["employee_id"], emp(i))).to_pylist()
        assert len(rows25) == 2  # one per plan design
        if rows25[0]["status"] == "terminated":
            # drawn by 2025's random sampling: it left earlier, and the schedule is moot
            terms = events25.filter(pc.and_(pc.equal(events25["employee_id"], emp(i)),
                                            pc.equal(events25["event_type"], "termination")))
            assert set(terms["event_category"].to_pylist()) == {"experienced_termination"}
            assert all(r["scheduled_termination_date"] is None for r in rows25)
            assert emp(i) not in snap26["employee_id"].to_pylist()
            continue
        survivors += 1
        assert all(r["status"] == "active" and r["scheduled_termination_date"] == dt.date(2026, 3, 31)
                   for r in rows25)
        mine = events26.filter(pc.equal(events26["employee_id"], emp(i))).to_pylist()
        assert {e["plan_design_id"] for e in mine} == {"standard", "voluntary_only"}
        for design in ("standard", "voluntary_only"):
            ev = [e for e in mine if e["plan_design_id"] == design]
            last = ev[-1]
            assert (last["event_type"], last["event_category"], last["event_date"]) == (
                "termination", "scheduled_termination", dt.date(2026, 3, 31))
            assert [e for e in ev if e["event_type"] == "termination"] == [last]
            assert all(e["event_date"] <= dt.date(2026, 3, 31) for e in ev)
            assert not [e for e in ev if e["event_type"] == "merit"]  # Jul 15 is after the date
        rows26 = snap26.filter(pc.equal(snap26["employee_id"], emp(i))).to_pylist()
        assert [(r["status"], r["termination_date"], r["scheduled_termination_date"]) for r in rows26] == [
            ("terminated", dt.date(2026, 3, 31), None)] * 2
        for year in (2027,):
            assert emp(i) not in read_partition(out, "snapshot", year)["employee_id"].to_pylist()
    assert survivors >= 6  # ~12% are drawn a year: most of the dozen reach their date


def test_every_scheduled_date_is_honoured_or_preempted(runs):
    _, outs = runs
    out = outs["fused"]
    for i, day in SCHEDULE.items():
        date = dt.date.fromisoformat(day)
        left = None
        for year in YEARS:
            ev = read_partition(out, "events", year)
            terms = ev.filter(pc.and_(pc.equal(ev["employee_id"], emp(i)), pc.equal(ev["event_type"], "termination")))
            if terms.num_rows:
                left = (year, set(terms["event_category"].to_pylist()), set(terms["event_date"].to_pylist()))
                break
        if date.year < 2025:  # a past leaver is not in the cohort at all
            assert left is None
            assert emp(i) not in read_partition(out, "snapshot", 2025)["employee_id"].to_pylist()
        elif left is not None and left[1] == {"scheduled_termination"}:
            assert left == (date.year, {"scheduled_termination"}, {date})
        elif left is not None:  # preempted by an earlier year's random draw (never the same year's)
            assert left[1] == {"experienced_termination"} and left[0] < date.year
        else:  # still employed at the end: the date is after the last simulated year
            assert date.year > YEARS[-1]
            last = read_partition(out, "snapshot", YEARS[-1])
            rows = last.filter(pc.equal(last["employee_id"], emp(i)))
            assert rows["scheduled_termination_date"].to_pylist() == [date, date]


def expected_counts(n: int, p: int, scheduled: int, growth="0.03", term="0.12", nh="0.25") -> dict[str, int]:
    """docs/model.md §4 with the scheduled rule, in exact rational arithmetic."""
    growth_, term_, nh_ = Fraction(growth), Fraction(term), Fraction(nh)
    target = math.floor(n * (1 + growth_) + Fraction(1, 2))
    exp_terms = math.floor((n - p) * term_ + p * nh_)
    net = target - (n - exp_terms)
    if net <= 0:
        exp_terms, hires, nh_terms = exp_terms - net, 0, 0
    else:
        hires = math.ceil(net / (1 - nh_))
        nh_terms = hires - net
    if scheduled > exp_terms:  # the scheduled are the quota; redo the hiring from them
        exp_terms = scheduled
        net = target - (n - exp_terms)
        assert net > 0
        hires = math.ceil(net / (1 - nh_))
        nh_terms = hires - net
    return {"target": target, "experienced": exp_terms, "hires": hires, "new_hire_terms": nh_terms}


def check_counts(out: Path, census: pa.Table, years: list[int]) -> list[dict[str, int]]:
    """Every year's counts against the census's own dates; returns the expected counts per year."""
    cohort = census.filter(census["active"])
    ids = set(cohort["employee_id"].to_pylist())
    hired_last_year = {r["employee_id"] for r in cohort.to_pylist() if r["hire_date"] >= dt.date(2024, 1, 1)}
    leaves_on = {r["employee_id"]: r["termination_date"] for r in cohort.to_pylist() if r["termination_date"]}
    seen = []
    for year in years:
        scheduled = {e for e in ids if e in leaves_on and leaves_on[e].year == year}
        want = expected_counts(len(ids), len(hired_last_year), len(scheduled))
        ev = read_partition(out, "events", year)
        snap = read_partition(out, "snapshot", year)
        for design in sorted(set(snap["plan_design_id"].to_pylist())):
            mine = ev.filter(pc.equal(ev["plan_design_id"], design)).to_pylist()
            cats = Counter(e["event_category"] for e in mine)
            assert cats["scheduled_termination"] == len(scheduled), year
            assert cats["experienced_termination"] + cats["scheduled_termination"] == want["experienced"], year
            assert cats["new_hire"] == want["hires"] and cats["new_hire_termination"] == want["new_hire_terms"]
            assert {e["employee_id"] for e in mine if e["event_category"] == "scheduled_termination"} == scheduled
            actives = snap.filter(pc.and_(pc.equal(snap["plan_design_id"], design), pc.equal(snap["status"], "active")))
            assert actives.num_rows == want["target"], year
        assert len(ids) - want["experienced"] + want["hires"] - want["new_hire_terms"] == want["target"]
        counts = json.loads((out / "manifests" / f"simulation_year={year}.json").read_text())["workforce_counts"]
        assert counts["scheduled_terms"] == len(scheduled) and counts["experienced_terms"] == want["experienced"]
        first = snap.filter(pc.equal(snap["plan_design_id"], snap["plan_design_id"][0]))
        now = first.filter(pc.equal(first["status"], "active"))
        hired_last_year = set(now.filter(pc.starts_with(now["employee_id"], f"NH_{year}_"))["employee_id"].to_pylist())
        ids = set(now["employee_id"].to_pylist())
        seen.append(want)
    return seen


def test_scheduled_count_toward_experienced_terms_and_headcount_holds(runs):
    _, outs = runs
    wants = check_counts(outs["fused"], normalize_census(scheduled_census(), 2025), YEARS)
    assert all(w["experienced"] > 12 for w in wants)  # the ordinary case: scheduled below the quota


def test_more_scheduled_than_the_quota_raises_hires(tmp_path):
    rows = ["employee_id,employee_birth_date,employee_hire_date,employee_gross_compensation,employee_termination_date"]
    for i in range(20):
        leaves = f"2025-{i % 12 + 1:02d}-15" if i < 15 else ""  # 15 of 20 leave during 2025
        rows.append(f"S{i:02d},19{60 + i}-05-0{i % 9 + 1},20{10 + i % 10:02d}-03-01,{50000 + 1000 * i},{leaves}")
    path = tmp_path / "small.csv"
    path.write_text("\n".join(rows) + "\n")
    cfg = two_design_config()
    cfg.scenario.years = 2
    census = read_census(path, 2025)
    out = tmp_path / "wh"
    run(cfg, out, census=census)
    wants = check_counts(out, census.table, [2025, 2026])
    assert wants[0] == {"target": 21, "experienced": 15, "hires": 22, "new_hire_terms": 6}  # 20 - 15 + 22 - 6
    assert validate_warehouse(out).ok, validate_warehouse(out).render()


def test_fused_and_legacy_and_threads_write_the_same_bytes(runs):
    _, outs = runs
    fused = digests(outs["fused"])
    assert len(fused) == 3 * len(YEARS)  # events, snapshot, contributions
    assert digests(outs["legacy"]) == fused == digests(outs["one_thread"])


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_rerun_from_the_stored_snapshot_honours_the_schedule(runs, tmp_path):
    cfg, outs = runs
    out = tmp_path / "wh"
    shutil.copytree(outs["fused"], out)
    before = digests(out)
    config = tmp_path / "plan.toml"
    config.write_text(dump_toml(cfg))
    # 2026 and 2027 again, from the 2025 snapshot: the 2026 and 2027 dates come from it, not the census
    r = cli("run", "--config", str(config), "--years", "2026-2027", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert json.loads((out / "manifests" / "simulation_year=2026.json").read_text())["input"] == "snapshot 2025"
    assert digests(out) == before
    r = cli("run", "--config", str(config), "--year", "2027", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert digests(out) == before


def test_validate_is_clean_and_checks_the_schedule(runs, tmp_path):
    _, outs = runs
    r = cli("validate", str(outs["fused"]))
    assert r.exit_code == 0 and "clean" in r.output, r.output
    # drop one carried date from the 2025 snapshot and re-sign it: the 2026 schedule no longer adds up
    out = tmp_path / "wh"
    shutil.copytree(outs["fused"], out)
    f = out / "snapshot" / "simulation_year=2025" / "part-0.parquet"
    t = pq.read_table(f)
    i = t.schema.get_field_index("scheduled_termination_date")
    dates = t["scheduled_termination_date"].to_pylist()
    dropped = [k for k, d in enumerate(dates) if d == dt.date(2026, 3, 31)]
    for k in dropped:
        dates[k] = None
    pq.write_table(t.set_column(i, t.schema.field(i), pa.array(dates, pa.date32())), f)
    m = out / "manifests" / "simulation_year=2025.json"
    manifest = json.loads(m.read_text())
    manifest["files"]["snapshot"]["sha256"] = sha256_file(f)
    m.write_text(json.dumps(manifest))
    found = {(v.check, v.where) for v in validate_warehouse(out).violations}
    assert ("termination", "events 2026") in found  # scheduled events without a carried date
    assert ("headcount", "events 2026 standard") in found  # counts recomputed from the snapshot's dates
