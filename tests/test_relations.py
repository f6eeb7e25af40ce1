"""Single SQL relations on a few given rows, like dbt unit tests: each rule checked by hand.

Each test registers the relation's inputs as small Arrow tables in a year's context and
runs one file of queries/ with the scenario's bound parameters; the expected rows are
worked out in the test from DOMAIN.md, not taken from the engine.
"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa

from arrow_events import load_config
from arrow_events.context import register_tables
from arrow_events.plans import YearPlan, prepare
from arrow_events.state import COHORT_SCHEMA, PLAN_COHORT_SCHEMA, CohortState

YEAR = 2025


def year_plan(**bound: pa.Scalar) -> YearPlan:
    """A 2025 context with the default config's tables and parameters, plus ``bound``."""
    cfg = load_config(None)
    plan = prepare(cfg, YEAR, CohortState(COHORT_SCHEMA.empty_table(), PLAN_COHORT_SCHEMA.empty_table()))
    plan.bound.update(bound)
    return plan


def rows(plan: YearPlan, name: str, **tables: pa.Table) -> list[dict]:
    register_tables(plan.ctx, tables)
    return sorted(plan.sql(name).to_arrow_table().to_pylist(), key=lambda r: r.get("employee_id", ""))


def test_termination_cutoff_and_branch_break_ties_by_employee_id():
    # keys: e 0.1 | a, b, c tied at 0.2 | d 0.5; three are drawn: e, then a and b by id
    keys = pa.table({"employee_id": ["e", "b", "a", "c", "d"], "employee_key": pa.array([1, 2, 3, 4, 5], pa.int64()),
                     "sample_key": [0.1, 0.2, 0.2, 0.2, 0.5]})
    plan = year_plan(drawn_terms=pa.scalar(3, pa.int64()))
    [cut] = rows(plan, "termination_cutoff", termination_keys=keys)
    assert cut == {"cutoff_key": 0.2, "cutoff_employee_id": "b"}
    plan.bound.update(cutoff_key=pa.scalar(0.2), cutoff_employee_id=pa.scalar("b"),
                      new_hire_terms=pa.scalar(0, pa.int64()))
    nobody = pa.table({"employee_id": pa.array([], pa.string()), "scheduled_this_year": pa.array([], pa.bool_()),
                       "scheduled_termination_date": pa.array([], pa.date32())})
    hires = pa.table({"employee_id": pa.array([], pa.string()), "hire_date": pa.array([], pa.date32()),
                      "u_nh_term_date": pa.array([], pa.float64()), "nh_term_pick": pa.array([], pa.int64())})
    left = rows(plan, "termination", termination_keys=keys, rng=nobody, hire=hires)
    assert [r["employee_id"] for r in left] == ["a", "b", "e"]
    assert all(r["event_category"] == "experienced_termination" and r["event_date"].year == YEAR for r in left)


def test_no_cutoff_row_when_nobody_is_drawn():
    keys = pa.table({"employee_id": ["a"], "employee_key": pa.array([1], pa.int64()), "sample_key": [0.3]})
    assert rows(year_plan(drawn_terms=pa.scalar(0, pa.int64())), "termination_cutoff", termination_keys=keys) == []


def rng_row(employee_id: str, **values: object) -> dict:
    row = {"employee_id": employee_id, "level_id": 2, "compensation_cents": 10_000_000, "tenure": 3, "age": 40,
           "u_promo": 0.01, "promotion_p": 0.05, "u_promo_raise": 0.5}
    row.update(values)
    return row


def test_promotion_rule():
    given = [
        rng_row("promoted"),                                   # eligible, u_promo 0.01 < p 0.05
        rng_row("top_level", level_id=5),                      # nowhere to go
        rng_row("new", tenure=0),                              # under a year of service
        rng_row("too_old", age=65),                            # age cut-off 65
        rng_row("unlucky", u_promo=0.2, promotion_p=0.1),      # u >= p
        rng_row("best_raise", u_promo_raise=0.999999),         # 20% + 5% spread x (2u - 1)
    ]
    rng = pa.Table.from_pylist(given, schema=pa.schema([
        ("employee_id", pa.string()), ("level_id", pa.int32()), ("compensation_cents", pa.int64()),
        ("tenure", pa.int64()), ("age", pa.int64()), ("u_promo", pa.float64()), ("promotion_p", pa.float64()),
        ("u_promo_raise", pa.float64())]))
    got = {r["employee_id"]: r for r in rows(year_plan(), "promotion", rng=rng)}
    assert set(got) == {"promoted", "best_raise"}
    p = got["promoted"]
    assert (p["event_date"], p["level_id"], p["previous_level_id"]) == (dt.date(YEAR, 2, 1), 3, 2)
    assert p["compensation_cents"] == 12_000_000  # x (1 + 0.20 + 0.05 x 0), to the cent
    best = math.floor(10_000_000 * (1 + 0.20 + 0.05 * (2 * 0.999999 - 1)) + 0.5)  # ~ +25%, under the 30% cap
    assert got["best_raise"]["compensation_cents"] == best == 12_499_999
    assert p["event_probability"] == 0.05


def test_escalation_rule():
    plan_members = pa.table({
        "plan_design_id": ["standard"] * 5,
        "employee_id": ["steps", "capped", "at_cap", "opted_out", "new_hire"],
        "deferral_rate": [0.03, 0.095, 0.10, 0.03, 0.03],
        "enrolled": [True] * 5,
        "is_new_hire": [False, False, False, False, True],
        "auto_escalation_opt_out": [False, False, False, True, False],
    })
    got = {r["employee_id"]: r for r in rows(year_plan(), "escalation", plan_members=plan_members)}
    assert set(got) == {"steps", "capped"}  # at the cap, opted out of escalation, hired this year: none
    assert got["steps"]["deferral_rate"] == 0.04 and got["capped"]["deferral_rate"] == 0.10  # +1 point, cap 10%
    assert got["steps"]["event_date"] == dt.date(YEAR, 1, 1)
