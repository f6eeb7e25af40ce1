"""Invariants over the whole output of the main job (5 years, built-in census, two designs).

Only what no single relation can show lives here: how the relations, the emitter and the
years compose (exact headcounts, one year's actives being the next year's cohort, each
employee's events in order and chained from the Jan-1 state to the snapshot, unique keys,
one workforce under every design). Each rule of one relation is checked on given rows in
tests/test_relation*.py instead (the hire slot method in test_relation_workforce, no promotion
or merit for new hires in test_relation_workforce, the escalation, deferral-change, promotion
and auto-enrollment rates in test_relations and test_relation_plan).

Vectorized (pyarrow.compute, NumPy): a year has ~20,000 events per design.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from arrow_events.schema import EVENT_TYPES, KEYS, cents_to_money
from arrow_events.simulation import default_census
from tests.conftest import read_year

# which event types set each piece of state the events show (the others show it unchanged)
SETS = {"level_id": {"promotion"}, "compensation": {"promotion", "merit"},
        "deferral_rate": {"enrollment", "opt_out", "escalation", "deferral_change"}}


@pytest.fixture(scope="module")
def years(default_run):
    """The main job's config and, by year, its events and snapshot tables."""
    cfg, out, _ = default_run
    return cfg, out, {y: (read_year(out, "events", y), read_year(out, "snapshot", y)) for y in cfg.years}


def numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return column.to_numpy(zero_copy_only=False) if isinstance(column, pa.Array) else column.to_numpy()


def same_as_previous_row(table: pa.Table, columns: list[str]) -> np.ndarray:
    """For each row, whether it has the previous row's values in ``columns`` (the first row: False)."""
    same = np.ones(table.num_rows, bool)
    for c in columns:
        col = table[c].combine_chunks()
        same[1:] &= numpy(pc.equal(col.slice(1), col.slice(0, len(col) - 1)).fill_null(False))
    same[:1] = False
    return same


def of_design(table: pa.Table, design: str) -> pa.Table:
    return table.filter(pc.equal(table["plan_design_id"], design))


def actives(snapshot: pa.Table, design: str) -> pa.Array:
    mine = of_design(snapshot, design)
    return mine.filter(pc.equal(mine["status"], "active"))["employee_id"].combine_chunks()


def expected_counts(n: int, p: int, growth=0.03, term=0.12, nh=0.25) -> dict[str, int]:
    """docs/model.md §4, in exact rational arithmetic (independent of the SQL)."""
    target = math.floor(n * (1 + Fraction(str(growth))) + Fraction(1, 2))
    exp_terms = math.floor((n - p) * Fraction(str(term)) + p * Fraction(str(nh)))
    net = target - (n - exp_terms)
    if net <= 0:
        return {"target": target, "experienced": exp_terms - net, "hires": 0, "new_hire_terms": 0}
    hires = math.ceil(net / (1 - Fraction(str(nh))))
    return {"target": target, "experienced": exp_terms, "hires": hires, "new_hire_terms": hires - net}


def test_headcount_and_termination_counts_exact_every_year(years):
    cfg, _, by_year = years
    census = default_census(cfg)
    census = census.filter(census["active"])
    prior = census["employee_id"].combine_chunks()
    prior_hired_last_year = census.filter(pc.greater_equal(census["hire_date"], pa.scalar(dt.date(2024, 1, 1))))[
        "employee_id"].combine_chunks()
    for year, (ev, snap) in by_year.items():
        n = len(prior)
        exp = expected_counts(n, len(prior_hired_last_year))
        std = of_design(ev, "standard")
        cats = dict(zip(*(numpy(a) for a in pc.value_counts(std["event_category"]).flatten())))
        assert cats.get("experienced_termination", 0) == exp["experienced"], year
        assert cats.get("new_hire_termination", 0) == exp["new_hire_terms"], year
        assert cats.get("new_hire", 0) == exp["hires"], year
        now = actives(snap, "standard")
        assert len(now) == exp["target"], year
        assert n - exp["experienced"] + exp["hires"] - exp["new_hire_terms"] == exp["target"]
        # experienced terminations come from the Jan-1 cohort, new-hire ones from this year's hires
        leavers = std.filter(pc.equal(std["event_category"], "experienced_termination"))["employee_id"]
        assert pc.all(pc.is_in(leavers, value_set=prior)).as_py(), year
        nh_leavers = std.filter(pc.equal(std["event_category"], "new_hire_termination"))["employee_id"]
        assert pc.all(pc.starts_with(nh_leavers, f"NH_{year}_")).as_py(), year
        hired = std.filter(pc.equal(std["event_type"], "hire"))["employee_id"].combine_chunks()
        prior_hired_last_year = hired.filter(pc.is_in(hired, value_set=now))
        prior = now


def test_snapshot_continuity_actives_are_next_cohort(years):
    cfg, _, by_year = years

    def in_order(ids: pa.Array) -> pa.Array:
        return ids.take(pc.array_sort_indices(ids))

    for year in cfg.years[:-1]:
        snap, nxt = by_year[year][1], by_year[year + 1][1]
        for design in ("standard", "voluntary_only"):
            mine = of_design(nxt, design)
            carried = mine.filter(pc.invert(pc.starts_with(mine["employee_id"], f"NH_{year + 1}_")))["employee_id"]
            assert in_order(carried.combine_chunks()).equals(in_order(actives(snap, design))), (year, design)


def test_no_event_after_termination_and_seq_follows_date_then_type(years):
    cfg, _, by_year = years
    for year, (ev, _) in by_year.items():
        same = same_as_previous_row(ev, ["plan_design_id", "employee_id"])  # rows are employee-major (below)
        seq = numpy(ev["event_seq"]).astype(np.int64)
        assert (seq[~same] == 1).all() and (seq[1:][same[1:]] == seq[:-1][same[1:]] + 1).all(), year
        # by date, then type: hire < eligibility < ... < termination on the same day; never the same moment twice
        rank = numpy(pc.index_in(ev["event_type"], value_set=pa.array(EVENT_TYPES))).astype(np.int64)
        day = numpy(ev["event_date"].combine_chunks().view(pa.int32())).astype(np.int64)
        moment = day * len(EVENT_TYPES) + rank
        assert (moment[1:][same[1:]] > moment[:-1][same[1:]]).all(), year
        # a termination is its employee's last event (so at most one, and nothing dated after it)
        last = np.append(~same[1:], True)
        assert last[rank == EVENT_TYPES.index("termination")].all(), year
        assert (day >= (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days).all(), year
        assert (day <= (dt.date(year, 12, 31) - dt.date(1970, 1, 1)).days).all(), year


def jan1_state(cfg, by_year: dict, year: int) -> pa.Table:
    """The state each (design, employee) starts ``year`` in: the prior year's actives, or in the first
    year the census's (its levels are all given; everyone starts never opted out)."""
    names = ["plan_design_id", "employee_id", "jan1_level_id", "jan1_compensation", "jan1_deferral_rate",
             "jan1_enrolled", "jan1_opted_out"]
    if year == cfg.years[0]:
        census = default_census(cfg)
        census = census.filter(census["active"])
        n = census.num_rows
        assert census["level_id"].null_count == 0
        return pa.concat_tables([pa.table([
            pa.array([design] * n), census["employee_id"], census["level_id"],
            cents_to_money(census["compensation_cents"].combine_chunks()), census["deferral_rate"],
            pc.greater(census["deferral_rate"], 0), pa.array([False] * n)], names=names)
            for design in ("standard", "voluntary_only")])
    snap = by_year[year - 1][1]
    snap = snap.filter(pc.equal(snap["status"], "active"))
    return snap.select(["plan_design_id", "employee_id", "level_id", "compensation", "deferral_rate", "enrolled",
                        "opted_out"]).rename_columns(names)


def test_events_chain_from_the_jan1_state(years):
    """Each event shows the state after it; one that sets a piece of state shows the value before it as
    previous_*: the value the event before it showed, or the Jan-1 state (the prior year's snapshot, or
    the census). With test_snapshot_state_is_the_state_on_each_last_event: snapshot t-1 -> events t ->
    snapshot t."""
    cfg, _, by_year = years
    for year, (ev, _) in by_year.items():
        assert pc.all(pc.and_(pc.greater_equal(ev["deferral_rate"], 0), pc.less_equal(ev["deferral_rate"], 1))).as_py()
        assert pc.min_max(ev["level_id"]).as_py() == {"min": 1, "max": 5}
        same = same_as_previous_row(ev, ["plan_design_id", "employee_id"])
        for field, setters in SETS.items():
            sets = numpy(pc.is_in(ev["event_type"], value_set=pa.array(sorted(setters))))
            value, previous = ev[field].combine_chunks(), ev[f"previous_{field}"].combine_chunks()
            assert numpy(pc.is_valid(previous)).tolist() == sets.tolist(), (year, field)  # set <=> shown before
            before = pa.concat_arrays([pa.nulls(1, value.type), value.slice(0, len(value) - 1)])
            shown = pc.if_else(pa.array(sets), previous, value)  # what the row says held before it
            chained = numpy(pc.equal(shown, before).fill_null(False))
            assert chained[same].all(), (year, field)
        # an employee's first event starts from the Jan-1 state (hires: from their hire event)
        start = jan1_state(cfg, by_year, year)
        first = ev.filter(pa.array(~same)).join(start, ["plan_design_id", "employee_id"], join_type="left outer")
        cohort = pc.is_valid(first["jan1_level_id"])
        assert first.filter(pc.invert(cohort))["event_type"].unique().to_pylist() == ["hire"]
        first = first.filter(cohort)
        for field, setters in SETS.items():
            sets = pc.is_in(first["event_type"], value_set=pa.array(sorted(setters)))
            shown = pc.if_else(sets, first[f"previous_{field}"], first[field])
            assert pc.all(pc.equal(shown, first[f"jan1_{field}"])).as_py(), (year, field)
        # and the plan events agree with that state: escalation and deferral change only for the
        # enrolled, enrollment only for those neither enrolled nor ever opted out
        plan = ev.join(start, ["plan_design_id", "employee_id"], join_type="inner")
        for types, allowed in ((["escalation", "deferral_change"], "jan1_enrolled"), (["enrollment"], None)):
            rows = plan.filter(pc.is_in(plan["event_type"], value_set=pa.array(types)))
            ok = rows[allowed] if allowed else pc.invert(pc.or_(rows["jan1_enrolled"], rows["jan1_opted_out"]))
            assert rows.num_rows and pc.all(ok).as_py(), (year, types)


def test_snapshot_state_is_the_state_on_each_last_event(years):
    _, _, by_year = years
    for year, (ev, snap) in by_year.items():
        last = ev.filter(pa.array(np.append(~same_as_previous_row(ev, ["plan_design_id", "employee_id"])[1:], True)))
        fields = ["level_id", "compensation", "deferral_rate"]
        joined = last.select(["plan_design_id", "employee_id", *fields]).join(
            snap.select(["plan_design_id", "employee_id", *fields]), ["plan_design_id", "employee_id"],
            right_suffix="_snapshot")
        assert joined.num_rows == last.num_rows > 0.8 * snap.num_rows, year  # every event's employee is there
        for f in fields:
            assert pc.all(pc.equal(joined[f], joined[f"{f}_snapshot"])).as_py(), (year, f)


def test_unique_key_and_one_partition_per_year(years):
    cfg, out, by_year = years
    for table in ("events", "snapshot"):
        dirs = sorted(p.name for p in (out / table).iterdir())
        assert dirs == [f"simulation_year={y}" for y in cfg.years]
        for y in cfg.years:
            assert [p.name for p in (out / table / f"simulation_year={y}").iterdir()] == ["part-0.parquet"]
    for year, (ev, snap) in by_year.items():
        for table, name in ((ev, "events"), (snap, "snapshot")):
            keys = KEYS[name]
            assert table.group_by(keys).aggregate([]).num_rows == table.num_rows, (year, name)
            # employee-major: a year is written shard by shard, employee_id ranges in order
            order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys])
            assert numpy(order).tolist() == list(range(table.num_rows)), (year, name)
        assert pc.count_distinct(ev["event_id"]).as_py() == ev.num_rows
        # the contract's unique key (with event_type) holds too
        full = ["scenario_id", "plan_design_id", "employee_id", "event_type", "event_seq"]
        assert ev.group_by(full).aggregate([]).num_rows == ev.num_rows


def test_workforce_events_identical_across_plan_designs(years):
    cfg, _, by_year = years
    workforce = pa.array(["hire", "termination", "promotion", "merit"])
    fields = ["employee_id", "event_type", "event_category", "event_date", "level_id", "previous_level_id",
              "compensation", "previous_compensation", "employee_age", "tenure_years"]
    for year, (ev, _) in by_year.items():
        wf = ev.filter(pc.is_in(ev["event_type"], value_set=workforce))
        standard, voluntary = (of_design(wf, d).select(fields) for d in ("standard", "voluntary_only"))
        assert standard.num_rows > 1000
        assert standard.equals(voluntary), year
    # and the designs really differ on plan events
    ev = by_year[cfg.years[0]][0]
    ae = ev.filter(pc.equal(ev["event_category"], "auto_enrollment"))
    assert ae.num_rows and ae["plan_design_id"].unique().to_pylist() == ["standard"]
