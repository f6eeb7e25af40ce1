"""The DOMAIN.md invariants, checked on the main job (5 years, built-in census, two designs)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.schema import EVENT_TYPES
from arrow_events.simulation import default_census
from tests.conftest import read_year


def events_of(out, year) -> list[dict]:
    return read_year(out, "events", year).to_pylist()


def actives(snapshot: pa.Table, design: str) -> set[str]:
    rows = snapshot.filter(pc.and_(pc.equal(snapshot["status"], "active"),
                                   pc.equal(snapshot["plan_design_id"], design)))
    return set(rows["employee_id"].to_pylist())


def expected_counts(n: int, p: int, growth=0.03, term=0.12, nh=0.25) -> dict[str, int]:
    """DOMAIN.md section 4, in exact rational arithmetic (independent of the SQL)."""
    from fractions import Fraction as F
    target = math.floor(n * (1 + F(str(growth))) + F(1, 2))
    exp_terms = math.floor((n - p) * F(str(term)) + p * F(str(nh)))
    net = target - (n - exp_terms)
    if net <= 0:
        return {"target": target, "experienced": exp_terms - net, "hires": 0, "new_hire_terms": 0}
    hires = math.ceil(net / (1 - F(str(nh))))
    return {"target": target, "experienced": exp_terms, "hires": hires, "new_hire_terms": hires - net}


def test_headcount_and_termination_counts_exact_every_year(default_run):
    cfg, out, _ = default_run
    census = default_census(cfg)
    prior_ids = set(census.filter(census["active"])["employee_id"].to_pylist())
    prior_hired_last_year = set(
        census.filter(pc.greater_equal(census["hire_date"], pa.scalar(dt.date(2024, 1, 1))))[
            "employee_id"].to_pylist()) & prior_ids
    for year in cfg.years:
        ev = events_of(out, year)
        snap = read_year(out, "snapshot", year)
        n = len(prior_ids)
        exp = expected_counts(n, len(prior_hired_last_year))
        std = [e for e in ev if e["plan_design_id"] == "standard"]
        cats = Counter(e["event_category"] for e in std)
        assert cats["experienced_termination"] == exp["experienced"], year
        assert cats["new_hire_termination"] == exp["new_hire_terms"], year
        assert cats["new_hire"] == exp["hires"], year
        now = actives(snap, "standard")
        assert len(now) == exp["target"], year
        assert n - exp["experienced"] + exp["hires"] - exp["new_hire_terms"] == exp["target"]
        # experienced terminations come from the Jan-1 cohort, new-hire ones from this year's hires
        exp_termed = {e["employee_id"] for e in std if e["event_category"] == "experienced_termination"}
        assert exp_termed <= prior_ids
        prior_hired_last_year = {e["employee_id"] for e in std if e["event_type"] == "hire"} & now
        prior_ids = now


def test_snapshot_continuity_actives_are_next_cohort(default_run):
    cfg, out, _ = default_run
    for year in cfg.years[:-1]:
        snap, nxt = read_year(out, "snapshot", year), read_year(out, "snapshot", year + 1)
        for design in ("standard", "voluntary_only"):
            carried = set(nxt.filter(pc.and_(pc.equal(nxt["plan_design_id"], design),
                                             pc.invert(pc.starts_with(nxt["employee_id"], f"NH_{year + 1}_"))))
                          ["employee_id"].to_pylist())
            assert carried == actives(snap, design)


def test_no_event_after_termination_and_seq_follows_date_then_type(default_run):
    cfg, out, _ = default_run
    rank = {t: i for i, t in enumerate(EVENT_TYPES)}
    for year in cfg.years:
        by_emp: dict[tuple, list[dict]] = {}
        for e in events_of(out, year):
            by_emp.setdefault((e["plan_design_id"], e["employee_id"]), []).append(e)
        for evs in by_emp.values():
            assert [e["event_seq"] for e in evs] == list(range(1, len(evs) + 1))
            keys = [(e["event_date"], rank[e["event_type"]]) for e in evs]
            assert keys == sorted(keys)
            terms = [e for e in evs if e["event_type"] == "termination"]
            assert len(terms) <= 1
            if terms:
                assert evs[-1]["event_type"] == "termination"
                assert all(e["event_date"] <= terms[0]["event_date"] for e in evs)
            assert all(e["event_date"].year == year for e in evs)


def test_new_hires_get_no_promotion_or_merit_in_hire_year(default_run):
    cfg, out, _ = default_run
    for year in cfg.years:
        ev = events_of(out, year)
        hired = {e["employee_id"] for e in ev if e["event_type"] == "hire"}
        assert hired and all(h.startswith(f"NH_{year}_") for h in hired)
        assert not [e for e in ev if e["employee_id"] in hired and e["event_type"] in ("promotion", "merit")]


def test_rates_caps_and_escalation_only_for_enrolled(default_run):
    cfg, out, _ = default_run
    designs = {d.plan_design_id: d for d in cfg.plan_designs}
    for year in cfg.years:
        prior = read_year(out, "snapshot", year - 1) if year > cfg.years[0] else None
        enrolled_before = None
        if prior is not None:
            rows = prior.filter(pc.and_(pc.equal(prior["status"], "active"), prior["enrolled"])).to_pylist()
            enrolled_before = {(r["plan_design_id"], r["employee_id"]) for r in rows}
        for e in events_of(out, year):
            d = designs[e["plan_design_id"]]
            assert 0.0 <= e["deferral_rate"] <= 1.0
            if e["event_type"] == "escalation":
                assert d.auto_escalation
                assert 0 < e["previous_deferral_rate"] < e["deferral_rate"] <= d.escalation_cap + 1e-12
                assert e["deferral_rate"] - e["previous_deferral_rate"] <= d.escalation_step + 1e-9
                if enrolled_before is not None:
                    assert (e["plan_design_id"], e["employee_id"]) in enrolled_before
            if e["event_type"] == "deferral_change":
                assert e["previous_deferral_rate"] < e["deferral_rate"] == d.match_ceiling
            if e["event_type"] == "promotion":
                assert e["level_id"] == e["previous_level_id"] + 1 <= 5
                assert e["compensation"] <= e["previous_compensation"] * 13 / 10 + 1
            if e["event_type"] == "enrollment" and e["event_category"] == "auto_enrollment":
                assert d.auto_enroll and e["deferral_rate"] == d.auto_enroll_rate


def test_unique_key_and_one_partition_per_year(default_run):
    cfg, out, _ = default_run
    for table in ("events", "snapshot"):
        dirs = sorted(p.name for p in (out / table).iterdir())
        assert dirs == [f"simulation_year={y}" for y in cfg.years]
        for y in cfg.years:
            assert [p.name for p in (out / table / f"simulation_year={y}").iterdir()] == ["part-0.parquet"]
    for year in cfg.years:
        ev = events_of(out, year)
        keys = [(e["scenario_id"], e["plan_design_id"], e["employee_id"], e["event_type"], e["event_seq"]) for e in ev]
        assert len(keys) == len(set(keys))
        assert len({e["event_id"] for e in ev}) == len(ev)
        # employee-major: a year is written shard by shard, employee_id ranges in order
        sort_keys = [(e["scenario_id"], e["employee_id"], e["plan_design_id"], e["event_seq"]) for e in ev]
        assert sort_keys == sorted(sort_keys)


def test_workforce_events_identical_across_plan_designs(default_run):
    cfg, out, _ = default_run
    workforce = {"hire", "termination", "promotion", "merit"}
    fields = ("employee_id", "event_type", "event_category", "event_date", "level_id", "previous_level_id",
              "compensation", "previous_compensation", "employee_age", "tenure_years")
    for year in cfg.years:
        per_design: dict[str, list] = {}
        for e in events_of(out, year):
            if e["event_type"] in workforce:
                per_design.setdefault(e["plan_design_id"], []).append(tuple(e[f] for f in fields))
        assert per_design["standard"] == per_design["voluntary_only"]
        assert len(per_design["standard"]) > 1000
    # and the designs really differ on plan events
    ev = events_of(out, cfg.years[0])
    ae = [e for e in ev if e["event_category"] == "auto_enrollment"]
    assert ae and all(e["plan_design_id"] == "standard" for e in ae)


def test_hire_levels_follow_the_slot_method(default_run):
    cfg, out, _ = default_run
    for year in cfg.years[1:3]:  # the cohort is the prior year's actives
        prior = read_year(out, "snapshot", year - 1)
        active = pc.and_(pc.equal(prior["status"], "active"), pc.equal(prior["plan_design_id"], "standard"))
        prior = prior.filter(active)
        levels = Counter(prior["level_id"].to_pylist())
        n = prior.num_rows
        hires = [e for e in events_of(out, year) if e["event_type"] == "hire" and e["plan_design_id"] == "standard"]
        h = len(hires)
        bounds, cum = [], 0
        for level in sorted(levels):
            bounds.append((level, cum, cum + levels[level]))
            cum += levels[level]
        expected = {}
        for k in range(1, h + 1):
            pos = (k - 0.5) / h
            expected[f"NH_{year}_{k:06d}"] = next(lv for lv, lo, hi in bounds if lo / n <= pos < hi / n)
        assert {e["employee_id"]: e["level_id"] for e in hires} == expected


def test_snapshot_state_is_the_state_on_each_last_event(default_run):
    cfg, out, _ = default_run
    for year in cfg.years:
        last = {}
        for e in events_of(out, year):
            last[(e["plan_design_id"], e["employee_id"])] = e  # rows are in event_seq order
        snap = read_year(out, "snapshot", year).to_pylist()
        checked = 0
        for r in snap:
            e = last.get((r["plan_design_id"], r["employee_id"]))
            if e is None:
                continue
            assert (r["level_id"], r["compensation"], r["deferral_rate"]) == (
                e["level_id"], e["compensation"], e["deferral_rate"]), (year, r["employee_id"])
            checked += 1
        assert checked > 0.8 * len(snap)
