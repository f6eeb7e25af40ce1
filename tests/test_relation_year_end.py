"""The year-end relations of queries/ on given rows: member_year (nothing after termination),
snapshot (the state the year ends in), contributions (the edges test_contributions leaves) and
yearly_metrics (the report over a warehouse's tables), docs/model.md §4, §6 and §7.

As in test_relations: hand-written input rows registered under the names a file reads, one file
run, the expected rows worked out here from the rules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from datafusion import SessionConfig, SessionContext
from test_relations import YEAR, given, rows, year_plan

from arrow_events import load_config
from arrow_events.config import Config, config_from_toml
from arrow_events.queries import sql
from arrow_events.schema import CONTRIBUTIONS_SCHEMA, SNAPSHOT_SCHEMA

d = dt.date
JAN1, DEC31 = d(YEAR, 1, 1), d(YEAR, 12, 31)

# every branch's date column, as deferral_change leaves it for member_year
EVENT_DATES = ["eligibility_on", "enrollment_on", "opt_out_on", "escalation_on", "deferral_change_on",
               "promotion_on", "merit_on"]


# --- member_year ---------------------------------------------------------------------------------------------

def branch_row(ix: int, employee_id: str, termination: dt.date | None = None, new_hire: bool = False,
               **on: dt.date) -> dict:
    """A deferral_change row with every column member_year reads: each branch's date in ``on``."""
    row = {
        "member_ix": ix, "design_rank": 0, "plan_design_id": "standard", "plan_design_key": 7,
        "employee_id": employee_id, "employee_key": 11 + ix, "age": 40, "tenure": 0 if new_hire else 5,
        "age_band": "35-44", "tenure_band": "<2" if new_hire else "5-9", "level_id": 2,
        "compensation_cents": 10_000_000, "deferral_rate": 0.0, "hire_date": d(YEAR, 3, 1) if new_hire else
        d(2020, 1, 1), "birth_date": d(1984, 6, 1), "scheduled_termination_date": None, "enrollment_date": None,
        "opted_out": False, "auto_escalation_opt_out": False, "eligibility_override": None,
        "eligibility_date": None, "is_new_hire": new_hire, "scheduled_hours_per_week": None,
        "enrollment_category": "auto_enrollment" if "enrollment_on" in on else None,
        "enrollment_deferral_rate": 0.06 if "enrollment_on" in on else None, "enrollment_probability": None,
        "opt_out_deferral_rate": 0.0 if "opt_out_on" in on else None, "opt_out_probability": None,
        "escalation_deferral_rate": 0.04 if "escalation_on" in on else None,
        "deferral_change_deferral_rate": 0.06 if "deferral_change_on" in on else None,
        "deferral_change_probability": None,
        "promotion_level_id": 3 if "promotion_on" in on else None,
        "promotion_compensation_cents": 12_000_000 if "promotion_on" in on else None,
        "promotion_probability": None,
        "merit_compensation_cents": 12_480_000 if "merit_on" in on else None,
        "termination_on": termination, "termination_category": "experienced_termination" if termination else None,
        "u_extra": 0.5,  # a working column member_year leaves behind
    }
    row.update({k: on.get(k) for k in EVENT_DATES})
    return row


def test_member_year_drops_every_event_dated_after_the_termination():
    everything = {"escalation_on": JAN1, "promotion_on": d(YEAR, 2, 1), "eligibility_on": d(YEAR, 3, 3),
                  "deferral_change_on": d(YEAR, 4, 1), "merit_on": d(YEAR, 7, 15)}
    hire_events = {"eligibility_on": d(YEAR, 3, 1), "enrollment_on": d(YEAR, 4, 15), "opt_out_on": d(YEAR, 5, 15)}
    given_rows = [
        branch_row(0, "stays", **everything),
        branch_row(1, "left_feb1", termination=d(YEAR, 2, 1), **everything),  # the promotion that day stays
        branch_row(2, "left_jan31", termination=d(YEAR, 1, 31), **everything),
        branch_row(3, "left_jul15", termination=d(YEAR, 7, 15), **everything),  # merit on its last day stays
        branch_row(4, "hire_left_apr14", termination=d(YEAR, 4, 14), new_hire=True, **hire_events),
        branch_row(5, "hire_left_apr15", termination=d(YEAR, 4, 15), new_hire=True, **hire_events),
        branch_row(6, "hire_stays", new_hire=True, **hire_events),
    ]
    got = {r["employee_id"]: r for r in rows(year_plan(), "member_year", deferral_change=given(given_rows))}
    kept = {k: {c for c in EVENT_DATES if r[c] is not None} for k, r in got.items()}
    assert kept == {
        "stays": set(everything),
        "left_feb1": {"escalation_on", "promotion_on"},
        "left_jan31": {"escalation_on"},
        "left_jul15": set(everything),
        "hire_left_apr14": {"eligibility_on"},
        "hire_left_apr15": {"eligibility_on", "enrollment_on"},  # the opt-out a month later is gone
        "hire_stays": set(hire_events),
    }
    for given_row in given_rows:  # what is kept keeps its date; the termination itself is untouched
        r = got[given_row["employee_id"]]
        assert all(r[c] == given_row[c] for c in kept[r["employee_id"]])
        assert r["termination_on"] == given_row["termination_on"]
    # the hire event is the hire date, for this year's hires only
    assert {k: r["hire_on"] for k, r in got.items() if r["hire_on"]} == {
        k: d(YEAR, 3, 1) for k in ("hire_left_apr14", "hire_left_apr15", "hire_stays")}
    assert "u_extra" not in got["stays"] and "is_new_hire" not in got["stays"]


def test_member_year_credits_the_scheduled_week_over_the_days_employed():
    # hours of service (docs/model.md §7): hours a week x days employed / 7, to 6 decimals; the standard
    # 40 hours for hires and a census without the column (NULL)
    given_rows = [branch_row(0, "full_year"), branch_row(1, "half_time"), branch_row(2, "hire_mar1", new_hire=True),
                  branch_row(3, "left_jun23", termination=d(YEAR, 6, 23)),
                  branch_row(4, "left_jun24", termination=d(YEAR, 6, 24)), branch_row(5, "odd_week")]
    given_rows[1]["scheduled_hours_per_week"] = 20.0
    given_rows[5]["scheduled_hours_per_week"] = 37.5
    got = {r["employee_id"]: r for r in rows(year_plan(), "member_year", deferral_change=given(given_rows))}
    assert {k: r["hours_worked"] for k, r in got.items()} == {
        "full_year": 2085.714286,  # 40 x 365 / 7
        "half_time": 1042.857143,
        "hire_mar1": 1748.571429,  # Mar 1 - Dec 31: 306 days
        "left_jun23": 994.285714,  # Jan 1 - Jun 23: 174 days, one day short of 1,000 hours
        "left_jun24": 1000.0,  # 175 days
        "odd_week": 1955.357143,  # 37.5 x 365 / 7
    }
    assert got["half_time"]["scheduled_hours_per_week"] == 20.0 and got["hire_mar1"]["scheduled_hours_per_week"] == 40


# --- snapshot ------------------------------------------------------------------------------------------------

def year_row(ix: int, employee_id: str, rank: int = 0, **values: object) -> dict:
    """A member_year row: a level-2 member paid 100,000 at Jan 1, at ``values``' rate and events."""
    row = {"member_ix": ix, "design_rank": rank, "plan_design_id": ["a", "b"][rank], "employee_id": employee_id,
           "hire_date": d(2020, 1, 1), "birth_date": d(1984, 6, 1), "termination_on": None,
           "scheduled_termination_date": None, "level_id": 2, "compensation_cents": 10_000_000,
           "deferral_rate": 0.0, "enrollment_date": None, "opted_out": False, "auto_escalation_opt_out": False,
           "eligibility_override": None, "eligibility_date": d(2020, 1, 1), "scheduled_hours_per_week": 40.0}
    for branch, fields in {"promotion": ["level_id", "compensation_cents"], "merit": ["compensation_cents"],
                           "enrollment": ["deferral_rate"], "opt_out": ["deferral_rate"],
                           "escalation": ["deferral_rate"], "deferral_change": ["deferral_rate"]}.items():
        row[f"{branch}_on"] = None
        row.update({f"{branch}_{f}": None for f in fields})
    row.update(values)
    return row


def test_snapshot_is_the_state_after_the_last_event():
    member_year = given([
        year_row(0, "quiet", deferral_rate=0.04, enrollment_date=d(2021, 5, 1)),
        year_row(0, "quiet", 1, deferral_rate=0.0, opted_out=True),  # the same member under design b
        year_row(1, "promoted", promotion_on=d(YEAR, 2, 1), promotion_level_id=3,
                 promotion_compensation_cents=12_000_000),
        year_row(2, "promoted_merit", promotion_on=d(YEAR, 2, 1), promotion_level_id=3,
                 promotion_compensation_cents=12_000_000, merit_on=d(YEAR, 7, 15), merit_compensation_cents=12_480_000),
        year_row(3, "merit", merit_on=d(YEAR, 7, 15), merit_compensation_cents=10_600_000),
        year_row(4, "escalated", deferral_rate=0.04, escalation_on=JAN1, escalation_deferral_rate=0.05),
        year_row(5, "escalated_changed", deferral_rate=0.04, escalation_on=JAN1, escalation_deferral_rate=0.05,
                 deferral_change_on=d(YEAR, 4, 1), deferral_change_deferral_rate=0.06),
        year_row(6, "auto_enrolled", enrollment_on=d(YEAR, 2, 15), enrollment_deferral_rate=0.06),
        year_row(7, "opted_out", enrollment_on=d(YEAR, 2, 15), enrollment_deferral_rate=0.06,
                 opt_out_on=d(YEAR, 3, 17), opt_out_deferral_rate=0.0),
        year_row(8, "left", deferral_rate=0.05, termination_on=d(YEAR, 9, 30),
                 scheduled_termination_date=d(YEAR + 2, 1, 1)),  # drawn before its scheduled date: gone
        year_row(9, "scheduled_later", scheduled_termination_date=d(YEAR + 1, 3, 1)),
        year_row(10, "never_eligible", eligibility_override=False, eligibility_date=None,
                 auto_escalation_opt_out=True),
    ])
    got = rows(year_plan(), "snapshot", member_year=member_year)
    assert len(got) == 12
    snap = {(r["employee_id"], r["plan_design_id"]): r for r in got}

    def state(employee_id: str, design: str = "a") -> tuple:
        r = snap[(employee_id, design)]
        return (r["status"], r["level_id"], r["compensation_cents"], r["deferral_rate"], r["enrolled"],
                r["enrollment_date"], r["opted_out"])

    assert state("quiet") == ("active", 2, 10_000_000, 0.04, True, d(2021, 5, 1), False)
    assert state("quiet", "b") == ("active", 2, 10_000_000, 0.0, False, None, True)
    assert state("promoted") == ("active", 3, 12_000_000, 0.0, False, None, False)
    assert state("promoted_merit") == ("active", 3, 12_480_000, 0.0, False, None, False)  # merit after promotion
    assert state("merit") == ("active", 2, 10_600_000, 0.0, False, None, False)
    assert state("escalated")[3:5] == (0.05, True)
    assert state("escalated_changed")[3:5] == (0.06, True)  # Apr 1's change after Jan 1's escalation
    assert state("auto_enrolled")[3:7] == (0.06, True, d(YEAR, 2, 15), False)
    assert state("opted_out")[3:7] == (0.0, False, d(YEAR, 2, 15), True)
    left = snap[("left", "a")]
    assert (left["status"], left["termination_date"], left["scheduled_termination_date"]) == (
        "terminated", d(YEAR, 9, 30), None)
    assert state("left")[3:5] == (0.05, True)  # the rate it left with
    later = snap[("scheduled_later", "a")]
    assert (later["status"], later["termination_date"], later["scheduled_termination_date"]) == (
        "active", None, d(YEAR + 1, 3, 1))  # carried to the year it falls in
    never = snap[("never_eligible", "a")]
    assert (never["eligibility_override"], never["eligibility_date"], never["auto_escalation_opt_out"]) == (
        False, None, True)
    assert {r["scenario_id"] for r in got} == {"baseline"}
    assert snap[("quiet", "b")]["design_rank"] == 1 and snap[("merit", "a")]["member_ix"] == 3


# --- contributions: the edges test_contributions leaves --------------------------------------------------------

def contribution_row(ix: int, birth: dt.date, pay_cents: int, rate: float, hire: dt.date | None = None,
                     termination: dt.date | None = None, hours: float = 2086.0) -> dict:
    """A member_year row for contributions.sql: hired in 2010 unless ``hire`` says, no events in the year,
    ``hours`` of service."""
    row = {"member_ix": ix, "design_rank": 0, "birth_date": birth, "hire_date": hire or d(2010, 1, 1),
           "termination_on": termination, "hours_worked": hours,
           "eligibility_date": d(2011, 1, 1), "compensation_cents": pay_cents, "deferral_rate": rate}
    row.update({c: None for c in ("promotion_on", "promotion_compensation_cents", "merit_on",
                                  "merit_compensation_cents", "enrollment_on", "enrollment_deferral_rate",
                                  "opt_out_on", "opt_out_deferral_rate", "escalation_on", "escalation_deferral_rate",
                                  "deferral_change_on", "deferral_change_deferral_rate")})
    return row


def contributions(year: int, *members: dict, cfg: Config | None = None) -> list[dict]:
    got = rows(year_plan(cfg, year=year), "contributions", member_year=given(list(members),
                                                                         promotion_compensation_cents=pa.int64(),
                                                                         merit_compensation_cents=pa.int64()))
    return sorted(got, key=lambda r: r["member_ix"])


@pytest.mark.parametrize(("born", "limit"), [
    # 2026: 402(g) 24,500; catch-up 8,000 from 50 at Dec 31; 11,250 at 60-63 (docs/model.md §7)
    (d(1977, 1, 1), 24_500), (d(1976, 12, 31), 24_500 + 8_000), (d(1967, 6, 1), 24_500 + 8_000),
    (d(1966, 12, 31), 24_500 + 11_250), (d(1963, 1, 1), 24_500 + 11_250), (d(1962, 12, 31), 24_500 + 8_000),
])
def test_contributions_catch_up_by_age_at_year_end(born, limit):
    # 15% of pay capped at 360,000 is 54,000: above every limit, so the deferrals are the limit
    [r] = contributions(2026, contribution_row(0, born, 40_000_000, 0.15))
    assert r["plan_compensation_cents"] == 36_000_000
    assert r["employee_deferrals_cents"] == limit * 100 and r["deferral_limit_reached"]


def test_contributions_count_the_days_of_a_leap_year():
    # 2028 has 366 days: a full year earns the annual rate exactly; a part year earns 1/366 of it a day
    got = contributions(
        2028,
        contribution_row(0, d(1980, 1, 1), 10_000_000, 0.05),
        contribution_row(1, d(1980, 1, 1), 10_000_000, 0.05, hire=d(2028, 7, 1)),  # Jul 1 - Dec 31: 184 days
        contribution_row(2, d(1980, 1, 1), 10_000_000, 0.05, termination=d(2028, 2, 29)),  # Jan 1 - Feb 29: 60
    )
    amounts = [(r["plan_compensation_cents"], r["employee_deferrals_cents"], r["employer_match_cents"],
                r["employer_core_cents"]) for r in got]
    assert amounts == [
        (10_000_000, 500_000, 250_000, 100_000),  # match: 50% of the 5% deferred; core 1%
        (5_027_322, 251_366, 125_683, 50_273),  # 100,000 x 184 / 366 = 50,273.2240; 5% of it 2,513.6612
        (1_639_344, 81_967, 0, 0),  # 100,000 x 60 / 366 = 16,393.4426; gone at Dec 31: no match, no core
    ]


def test_contributions_require_the_designs_hours_of_service():
    # match_min_hours and core_min_hours (docs/model.md §7): below either, that contribution is 0; at it, paid;
    # 0 (the default) requires nothing
    cfg = config_from_toml("""
[[plan_designs]]
plan_design_id = "hours"
match_min_hours = 1000
core_min_hours = 1000
[[plan_designs]]
plan_design_id = "match_only"
match_min_hours = 1000
""")
    assert cfg.hours_of_service and not load_config(None).hours_of_service
    members = []
    for rank in (0, 1):
        for ix, hours in enumerate((999.999999, 1000.0, 500.0)):
            row = contribution_row(ix, d(1980, 1, 1), 10_000_000, 0.05, hours=hours)
            members.append({**row, "design_rank": rank})
    got = contributions(2025, *members, cfg=cfg)
    paid = {(r["design_rank"], r["member_ix"]): (r["employer_match_cents"], r["employer_core_cents"]) for r in got}
    assert paid == {
        (0, 0): (0, 0), (0, 1): (250_000, 100_000), (0, 2): (0, 0),  # both require 1,000 hours
        (1, 0): (0, 100_000), (1, 1): (250_000, 100_000), (1, 2): (0, 100_000),  # only the match does
    }
    assert {r["employee_deferrals_cents"] for r in got} == {500_000}  # deferrals never depend on hours


# --- yearly_metrics ----------------------------------------------------------------------------------------------

def warehouse_tables(snapshot: list[dict], contributions: list[dict]) -> SessionContext:
    """A context like the report's (arrow_events.warehouse.report): each table with its simulation_year, and
    as measured with its path too (a record's "path", default 0)."""
    ctx = SessionContext(SessionConfig().set("datafusion.sql_parser.map_string_types_to_utf8view", "false"))
    year, path = pa.field("simulation_year", pa.int32()), pa.field("path", pa.int64())
    for name, schema, records in (("snapshot", SNAPSHOT_SCHEMA, snapshot),
                                  ("contributions", CONTRIBUTIONS_SCHEMA, contributions)):
        schema = schema.append(year).append(path)
        records = [{"path": 0, **r} for r in records]
        ctx.register_record_batches(f"measured_{name}", [[pa.RecordBatch.from_pylist(records, schema)]])
        ctx.register_record_batches(name, [[pa.RecordBatch.from_pylist(records, schema.remove(len(schema) - 1))]])
    return ctx


def member(year: int, design: str, employee_id: str, status: str = "active", eligible: dt.date | None = None,
           rate: float = 0.0) -> dict:
    return {"simulation_year": year, "scenario_id": "baseline", "plan_design_id": design, "employee_id": employee_id,
            "status": status, "hire_date": d(2010, 1, 1), "birth_date": d(1980, 1, 1),
            "termination_date": d(year, 6, 30) if status == "terminated" else None, "level_id": 1,
            "compensation": Decimal("50000.00"), "deferral_rate": rate, "enrolled": rate > 0,
            "opted_out": False, "auto_escalation_opt_out": False, "eligibility_date": eligible}


def amounts(year: int, design: str, employee_id: str, pay: str, deferred: str, match: str, core: str,
            at_limit: bool = False) -> dict:
    return {"simulation_year": year, "scenario_id": "baseline", "plan_design_id": design, "employee_id": employee_id,
            "plan_compensation": Decimal(pay), "employee_deferrals": Decimal(deferred),
            "employer_match": Decimal(match), "employer_core": Decimal(core), "deferral_limit_reached": at_limit}


def test_yearly_metrics_count_actives_at_year_end_and_sum_everyone_employed():
    snapshot = [
        member(2025, "a", "e1", eligible=d(2020, 1, 1), rate=0.06),  # eligible participant
        member(2025, "a", "e2", eligible=d(2025, 12, 31)),  # eligible on the last day, not enrolled
        member(2025, "a", "e3", eligible=None, rate=0.04),  # enrolled from the census, never eligible
        member(2025, "a", "e4", eligible=d(2026, 1, 1)),  # eligible only next year
        member(2025, "a", "e5", status="terminated", eligible=d(2020, 1, 1), rate=0.10),
        member(2025, "b", "e1", eligible=None), member(2025, "b", "e2", eligible=None),  # nobody eligible
        member(2026, "a", "e2", eligible=d(2025, 12, 31), rate=0.03),
        member(2026, "a", "e4", eligible=d(2026, 1, 1)),
    ]
    contributions = [
        amounts(2025, "a", "e1", "100000.00", "6000.00", "3000.00", "1000.00"),
        amounts(2025, "a", "e2", "50000.00", "0.00", "0.00", "500.00"),
        amounts(2025, "a", "e3", "80000.00", "3200.00", "1600.00", "0.00"),
        amounts(2025, "a", "e4", "40000.00", "0.00", "0.00", "0.00"),
        amounts(2025, "a", "e5", "40000.00", "23500.00", "0.00", "0.00", at_limit=True),  # the leaver's count
        amounts(2026, "a", "e2", "51000.00", "1530.00", "765.00", "510.00"),
        amounts(2026, "a", "e4", "41000.00", "0.00", "0.00", "410.00"),
    ]  # design b has no contributions rows: its amounts are empty
    got = warehouse_tables(snapshot, contributions).sql(sql("yearly_metrics")).to_arrow_table().to_pylist()
    assert [(r["simulation_year"], r["plan_design_id"]) for r in got] == [(2025, "a"), (2025, "b"), (2026, "a")]
    a25, b25, a26 = got
    # actives e1-e4; eligible by Dec 31: e1, e2; participants (enrolled actives): e1, e3; of the eligible: e1
    assert (a25["actives"], a25["eligible"], a25["participants"]) == (4, 2, 2)
    assert a25["participation_rate"] == 0.5
    assert a25["mean_deferral_rate"] == pytest.approx((0.06 + 0.04) / 2)
    assert (a25["plan_compensation"], a25["employee_deferrals"], a25["employer_match"], a25["employer_core"]) == (
        Decimal("310000.00"), Decimal("32700.00"), Decimal("4600.00"), Decimal("1500.00"))
    assert a25["employer_cost_rate"] == pytest.approx(6100 / 310000)
    assert a25["at_deferral_limit"] == 1
    # no one eligible: no participation rate; no contributions rows: no amounts
    assert (b25["actives"], b25["eligible"], b25["participants"], b25["participation_rate"]) == (2, 0, 0, None)
    assert b25["mean_deferral_rate"] is None
    assert all(b25[c] is None for c in ("plan_compensation", "employer_match", "employer_cost_rate",
                                        "at_deferral_limit"))
    # each year against its own Dec 31
    assert (a26["actives"], a26["eligible"], a26["participants"], a26["participation_rate"]) == (2, 2, 1, 0.5)
    assert a26["employer_cost_rate"] == pytest.approx((765 + 510 + 410) / 92000)
    # a batch's paths are measured apart: path 1 is path 0's 2026 rows less the second member
    one = [{**r, "path": 1} for r in snapshot + contributions
           if r["simulation_year"] == 2026 and r["employee_id"] != "e4"]
    got = warehouse_tables(snapshot + [r for r in one if "status" in r],
                           contributions + [r for r in one if "status" not in r]).sql(
        sql("yearly_metrics")).to_arrow_table().to_pylist()
    assert [(r["path"], r["simulation_year"], r["plan_design_id"]) for r in got] == [
        (0, 2025, "a"), (0, 2025, "b"), (0, 2026, "a"), (1, 2026, "a")]
    assert got[2] == {**a26, "path": 0}
    assert (got[3]["actives"], got[3]["plan_compensation"]) == (1, Decimal("51000.00"))


# --- workforce_metrics -------------------------------------------------------------------------------------------

def bands(years: list[int]) -> dict[str, pa.Table]:
    """The default config's age and tenure bands for ``years``, as the report registers them."""
    from arrow_events.engine import params

    cfg = load_config(None)
    out = {}
    for name, table_of in (("age_bands", params.age_bands_table), ("tenure_bands", params.tenure_bands_table)):
        parts = [table_of(cfg).select(["years", "band"]) for _ in years]
        out[name] = pa.concat_tables([t.add_column(0, "simulation_year", pa.array([y] * t.num_rows, pa.int32()))
                                      for t, y in zip(parts, years)])
    return out


def person(year: int, employee_id: str, level: int, pay: str, status: str = "active", hired: dt.date | None = None,
           born: dt.date | None = None, design: str = "a") -> dict:
    """A snapshot row: hired 2015-03-01 and born 1985-06-01 unless said."""
    return {**member(year, design, employee_id, status), "level_id": level, "compensation": Decimal(pay),
            "hire_date": hired or d(2015, 3, 1), "birth_date": born or d(1985, 6, 1)}


def promotion(year: int, employee_id: str, previous_level: int, design: str = "a") -> dict:
    return {"simulation_year": year, "event_id": f"p{employee_id}{design}", "scenario_id": "baseline",
            "plan_design_id": design, "employee_id": employee_id, "event_type": "promotion",
            "event_category": "promotion", "event_seq": 1, "event_date": d(year, 2, 1), "level_id": previous_level + 1,
            "previous_level_id": previous_level}


def workforce(snapshot: list[dict], events: list[dict], by: str) -> list[dict]:
    from arrow_events.schema import EVENTS_SCHEMA

    ctx = warehouse_tables(snapshot, [])
    year = pa.field("simulation_year", pa.int32())
    ctx.register_record_batches("events", [[pa.RecordBatch.from_pylist(events, EVENTS_SCHEMA.append(year))]])
    for name, table in bands(sorted({r["simulation_year"] for r in snapshot})).items():
        ctx.register_record_batches(name, [table.to_batches()])
    return ctx.sql(sql("workforce_metrics"), param_values={"by": pa.scalar(by)}).to_arrow_table().to_pylist()


def test_workforce_metrics_count_each_person_where_they_were_when_it_happened():
    # 2025: four of the Jan-1 workforce (one promoted 1 -> 2, one leaves) and two hires (one leaves); the
    # second design's rows repeat the workforce and are not counted twice
    y25 = [person(2025, "stay1", 1, "50000"), person(2025, "promoted", 2, "72000"),
           person(2025, "leaver", 1, "40000", status="terminated"), person(2025, "stay2", 2, "90000"),
           person(2025, "hire", 1, "45000", hired=d(2025, 5, 1), born=d(2000, 1, 1)),
           person(2025, "hire_left", 1, "45000", status="terminated", hired=d(2025, 6, 1), born=d(2001, 1, 1))]
    y26 = [person(2026, "stay1", 1, "52000"), person(2026, "promoted", 2, "75000"), person(2026, "stay2", 2, "93000"),
           person(2026, "hire", 1, "46350", hired=d(2025, 5, 1), born=d(2000, 1, 1))]
    snapshot = y25 + [{**r, "plan_design_id": "b"} for r in y25] + y26
    events = [promotion(2025, "promoted", 1), promotion(2025, "promoted", 1, design="b")]
    overall = workforce(snapshot, events, "all")
    assert [(r["simulation_year"], r["category"]) for r in overall] == [(2025, "all"), (2026, "all")]
    o25, o26 = overall
    assert (o25["headcount_start"], o25["headcount_end"], o25["hires"], o25["experienced_terminations"],
            o25["new_hire_terminations"], o25["promotions"]) == (4, 4, 2, 1, 1, 1)
    assert (o25["experienced_termination_rate"], o25["new_hire_termination_rate"], o25["promotion_rate"]) == (
        0.25, 0.5, 0.25)
    assert o25["total_compensation"] == Decimal("257000.00") and o25["mean_compensation"] == Decimal("64250.00")
    assert o25["compensation_growth"] is None  # no year before it in the warehouse
    assert o26["headcount_start"] == 4 and o26["mean_compensation"] == Decimal("66587.50")
    assert o26["compensation_growth"] == pytest.approx(66587.5 / 64250 - 1)
    by_level = {(r["simulation_year"], r["category"]): r for r in workforce(snapshot, events, "level")}
    # the promotion counts where it started (level 1 on Jan 1), the headcount at the end where it ended (2)
    assert (by_level[(2025, "1")]["headcount_start"], by_level[(2025, "1")]["promotions"],
            by_level[(2025, "1")]["headcount_end"]) == (3, 1, 2)  # stay1, promoted, leaver; at the end stay1, hire
    assert (by_level[(2025, "2")]["headcount_start"], by_level[(2025, "2")]["headcount_end"]) == (1, 2)
    assert (by_level[(2025, "1")]["hires"], by_level[(2025, "1")]["experienced_terminations"]) == (2, 1)
    assert by_level[(2025, "2")]["mean_compensation"] == Decimal("81000.00")
    by_age = {(r["simulation_year"], r["category"]): r for r in workforce(snapshot, events, "age_band")}
    # whole years on Jan 1, 2025 (docs/model.md §1): born 2000-01-01, 25; born 2001-01-01, 24; the rest 39
    assert by_age[(2025, "35-44")]["headcount_start"] == 4
    assert (by_age[(2025, "25-34")]["hires"], by_age[(2025, "<25")]["hires"]) == (1, 1)
    assert by_age[(2025, "<25")]["new_hire_termination_rate"] == 1.0
    by_tenure = {(r["simulation_year"], r["category"]): r for r in workforce(snapshot, events, "tenure_band")}
    assert by_tenure[(2025, "<2")]["hires"] == 2 and by_tenure[(2025, "5-9")]["headcount_start"] == 4
