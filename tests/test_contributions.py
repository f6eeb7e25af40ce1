"""Contributions (docs/model.md §7) against amounts computed here, independently, day by day.

The engine's member rows for a hand-made cast are fed to queries/contributions.sql; the test
walks every day of the year with exact fractions: each day's pay rate and deferral rate is the
latest change on or before it. Then a real run is checked the same way from its own events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import pyarrow as pa
import pytest

from arrow_events.config import PlanDesign, load_config
from arrow_events.engine import emit, params
from arrow_events.engine.context import new_context, register_tables
from arrow_events.engine.state import from_census
from arrow_events.engine.year import run_year
from arrow_events.queries import sql
from arrow_events.schema import CONTRIBUTIONS_SCHEMA
from arrow_events.simulation import builtin_census

YEAR = 2026  # 365 days; limits: deferral 24,500, catch-up 8,000, at 60-63 11,250, compensation 360,000
DEFERRAL, CATCH_UP, CATCH_UP_60_63, COMPENSATION = 24_500, 8_000, 11_250, 360_000


def d(month: int, day: int, year: int = YEAR) -> dt.date:
    return dt.date(year, month, day)


@dataclass
class Member:
    """One member's year as the member rows state it (rates as decimals, pay in dollars)."""

    employee_id: str
    birth: dt.date
    pay: int
    hire: dt.date = dt.date(2015, 6, 1)
    rate: float = 0.0  # at Jan 1
    termination: dt.date | None = None
    eligible: bool = True
    promotion: tuple[dt.date, int] | None = None
    merit: tuple[dt.date, int] | None = None
    enrollment: tuple[dt.date, float] | None = None
    opt_out: dt.date | None = None
    escalation: tuple[dt.date, float] | None = None
    deferral_change: tuple[dt.date, float] | None = None
    notes: list[str] = field(default_factory=list)


CAST = [
    Member("A_hired_in_march", d(3, 3, 1996), 60_000, hire=d(3, 2), enrollment=(d(4, 16), 0.06)),
    Member("B_promoted_and_merit", d(5, 5, 1981), 100_000, rate=0.05, promotion=(d(2, 1), 120_000),
           merit=(d(7, 15), 124_800), escalation=(d(1, 1), 0.06), deferral_change=(d(4, 1), 0.08)),
    Member("C_opted_out", d(8, 8, 1998), 50_000, enrollment=(d(2, 15), 0.06), opt_out=d(3, 17)),
    Member("D_terminated", d(1, 20, 1985), 90_000, rate=0.10, termination=d(9, 30)),
    Member("E_at_the_limit", d(2, 2, 1986), 300_000, rate=0.10),
    Member("F_aged_55", d(12, 31, 1971), 300_000, rate=0.12),
    Member("G_aged_61_above_pay_limit", d(6, 1, 1965), 400_000, rate=0.10),
    Member("H_not_eligible", d(4, 4, 2009), 30_000, hire=d(1, 10, 2025), eligible=False),
    Member("I_aged_49_no_catch_up", d(1, 1, 1977), 280_000, rate=0.10),
    Member("J_deferral_change_only", d(7, 7, 1990), 70_000, rate=0.03, deferral_change=(d(4, 1), 0.06)),
    Member("K_enrolled_and_left_on_dec_31", d(7, 7, 1999), 45_000, hire=d(11, 30), enrollment=(d(12, 31), 0.04),
           termination=d(12, 31)),
]


def member_rows(cast: list[Member], designs: int = 1) -> pa.Table:
    """The member_year columns contributions.sql reads, one row per member and design."""
    rows = []
    for ix, m in enumerate(cast):
        for rank in range(designs):
            rows.append({
                "member_ix": ix, "design_rank": rank, "plan_design_id": f"design_{rank}", "employee_id": m.employee_id,
                "birth_date": m.birth, "hire_date": m.hire, "termination_on": m.termination,
                "eligibility_date": max(m.hire, m.birth.replace(year=m.birth.year + 21)) if m.eligible else None,
                "compensation_cents": m.pay * 100, "deferral_rate": m.rate,
                "promotion_on": m.promotion and m.promotion[0],
                "promotion_compensation_cents": m.promotion and m.promotion[1] * 100,
                "merit_on": m.merit and m.merit[0], "merit_compensation_cents": m.merit and m.merit[1] * 100,
                "enrollment_on": m.enrollment and m.enrollment[0],
                "enrollment_deferral_rate": m.enrollment and m.enrollment[1],
                "opt_out_on": m.opt_out, "opt_out_deferral_rate": 0.0 if m.opt_out else None,
                "escalation_on": m.escalation and m.escalation[0],
                "escalation_deferral_rate": m.escalation and m.escalation[1],
                "deferral_change_on": m.deferral_change and m.deferral_change[0],
                "deferral_change_deferral_rate": m.deferral_change and m.deferral_change[1],
                "hours_worked": 2080.0,  # hours of service are tested in test_relation_year_end
            })
    types = {"member_ix": pa.int64(), "design_rank": pa.int64(), "compensation_cents": pa.int64(),
             "promotion_compensation_cents": pa.int64(), "merit_compensation_cents": pa.int64(),
             "deferral_rate": pa.float64(), "enrollment_deferral_rate": pa.float64(),
             "opt_out_deferral_rate": pa.float64(), "escalation_deferral_rate": pa.float64(),
             "deferral_change_deferral_rate": pa.float64(), "hours_worked": pa.float64()}
    dates = {k for k in rows[0] if k.endswith(("_on", "_date"))}
    return pa.table({k: pa.array([r[k] for r in rows], types.get(k, pa.date32() if k in dates else pa.string()))
                     for k in rows[0]})


def engine_contributions(cfg, cast: list[Member]) -> list[dict]:
    ctx = new_context(1)
    members = member_rows(cast, len(cfg.plan_designs))
    members = members.append_column("variant", pa.array([0] * members.num_rows, pa.int64()))  # a batch of one path
    register_tables(ctx, {**params.static_tables(cfg), "calendar": params.calendar_table(cfg, YEAR),
                          "member_year": members})
    rows = ctx.sql(sql("contributions"), param_values=params.shared_params(cfg)).to_arrow_table()
    keys = pa.table({"scenario_id": ["baseline"] * rows.num_rows,
                     "plan_design_id": [f"design_{i % len(cfg.plan_designs)}" for i in range(rows.num_rows)],
                     "employee_id": [m.employee_id for m in cast for _ in cfg.plan_designs]})
    return emit.contract_rows(rows, len(cfg.plan_designs), CONTRIBUTIONS_SCHEMA, beside=keys).to_pylist()


# --- the rules of docs/model.md §7, written out afresh -------------------------------------------

def half_up(x: Fraction) -> int:
    return int((x + Fraction(1, 2)) // 1)


def latest(day: dt.date, start, changes) -> Fraction:
    """The value on ``day``: the latest change dated on or before it (in list order on a tie)."""
    value, when = start, None
    for on, v in changes:
        if on is not None and on <= day and (when is None or on >= when):
            value, when = v, on
    return Fraction(str(value))


def expected(m: Member, design: PlanDesign) -> dict:
    first, last = max(m.hire, d(1, 1)), m.termination or d(12, 31)
    pay_changes = [c for c in (m.promotion, m.merit) if c]
    rate_changes = [c for c in (m.enrollment, (m.opt_out, 0.0) if m.opt_out else None, m.escalation,
                                m.deferral_change) if c]
    earned = deferred = Fraction(0)
    day = first
    while day <= last:
        pay = latest(day, m.pay * 100, [(on, v * 100) for on, v in pay_changes]) / 365
        earned += pay
        deferred += pay * latest(day, m.rate, rate_changes)
        day += dt.timedelta(days=1)
    plan = min(earned, COMPENSATION * 100)
    elected = deferred * plan / earned  # above the compensation limit every day's pay counts alike
    age = YEAR - m.birth.year
    limit = (DEFERRAL + (CATCH_UP_60_63 if 60 <= age <= 63 else CATCH_UP if age >= 50 else 0)) * 100
    plan_cents, deferrals = half_up(plan), min(half_up(elected), limit)
    rate = Fraction(deferrals, plan_cents)
    share = sum(Fraction(str(t.match_rate)) * max(0, min(rate, Fraction(str(t.employee_max)))
                                                     - Fraction(str(t.employee_min))) for t in design.match_tiers)
    match = half_up(min(plan_cents * share, Fraction(str(design.max_match_percentage)) * plan_cents))
    active = m.termination is None
    if design.match_requires_active_at_year_end and not active:
        match = 0
    core = half_up(Fraction(str(design.core_rate)) * plan_cents) if active and m.eligible else 0
    return {"employee_id": m.employee_id, "plan_compensation": Decimal(plan_cents) / 100,
            "employee_deferrals": Decimal(deferrals) / 100, "employer_match": Decimal(match) / 100,
            "employer_core": Decimal(core) / 100, "deferral_limit_reached": half_up(elected) >= limit}


def check(cfg, cast: list[Member]) -> list[dict]:
    got = engine_contributions(cfg, cast)
    designs = sorted(cfg.plan_designs, key=lambda p: p.plan_design_id)
    want = [expected(m, design) for m in cast for design in designs]
    for g, w in zip(got, want, strict=True):
        assert {k: g[k] for k in w} == w, g["employee_id"]
    return got


def test_the_cast_by_hand():
    got = {r["employee_id"]: r for r in check(load_config(None), CAST)}
    # the cases the rules single out, as a reader would check them
    assert got["D_terminated"]["employer_match"] == 0 and got["D_terminated"]["employer_core"] == 0
    assert got["D_terminated"]["employee_deferrals"] > 0
    assert got["E_at_the_limit"]["employee_deferrals"] == DEFERRAL and got["E_at_the_limit"]["deferral_limit_reached"]
    assert got["I_aged_49_no_catch_up"]["employee_deferrals"] == DEFERRAL
    assert got["F_aged_55"]["employee_deferrals"] == DEFERRAL + CATCH_UP
    assert got["G_aged_61_above_pay_limit"]["plan_compensation"] == COMPENSATION
    assert got["G_aged_61_above_pay_limit"]["employee_deferrals"] == DEFERRAL + CATCH_UP_60_63
    assert got["H_not_eligible"]["employer_core"] == 0 and got["H_not_eligible"]["employee_deferrals"] == 0
    assert not got["A_hired_in_march"]["deferral_limit_reached"]
    # a full year of the default match: 50% of the first 6%, capped at 3% of pay
    assert got["E_at_the_limit"]["employer_match"] == Decimal("9000.00")
    # the opt-out deferred for its 30 days enrolled, and is matched on that
    c = got["C_opted_out"]
    assert 0 < c["employee_deferrals"] < Decimal("50000") * Decimal("0.06") * 31 / 365 + 1
    assert c["employer_match"] == (c["employee_deferrals"] / 2).quantize(Decimal("0.01"))


@pytest.mark.parametrize("requires_active", [True, False])
def test_match_tiers_and_caps(requires_active):
    """A safe-harbor-like formula (100% of the first 3%, 50% of the next 2%) capped at 3.5% of pay."""
    cfg = load_config(None)
    cfg.plan_designs = [
        PlanDesign(plan_design_id="tiered", match_tiers=[
            {"employee_min": 0.0, "employee_max": 0.03, "match_rate": 1.0},
            {"employee_min": 0.03, "employee_max": 0.05, "match_rate": 0.5}],
            max_match_percentage=0.035, core_rate=0.0, match_requires_active_at_year_end=requires_active),
        PlanDesign(plan_design_id="untiered", match_tiers=[], core_rate=0.03),
    ]
    cast = [Member(f"rate_{r}", d(1, 1, 1980), 100_000, rate=r / 100) for r in (1, 2, 3, 4, 5, 8)]
    cast.append(Member("leaver", d(1, 1, 1980), 100_000, rate=0.05, termination=d(6, 30)))
    got = check(cfg, cast)
    tiered = {r["employee_id"]: r["employer_match"] for r in got if r["plan_design_id"] == "design_1"}
    # design_1 is "untiered" (designs are ranked by id): no match, and a 3% core for actives
    assert set(tiered.values()) == {0}
    core = {r["employee_id"]: r["employer_core"] for r in got if r["plan_design_id"] == "design_1"}
    assert core["rate_1"] == 3000 and core["leaver"] == 0
    match = {r["employee_id"]: r["employer_match"] for r in got if r["plan_design_id"] == "design_0"}
    assert [match[f"rate_{r}"] for r in (1, 2, 3, 4, 5, 8)] == [1000, 2000, 3000, 3500, 3500, 3500]
    assert (match["leaver"] == 0) == requires_active


def test_a_run_matches_its_own_events():
    """Every contributions row of a real year equals the amounts rebuilt from that year's events."""
    cfg = load_config(None)
    cfg.plan_designs.append(PlanDesign(plan_design_id="voluntary_only", auto_enroll=False, match_ceiling=0.04,
                                       core_rate=0.0, max_match_percentage=0.02))
    cfg.scenario.start_year = YEAR
    year = run_year(cfg, YEAR, from_census(builtin_census(cfg).table, cfg))
    events = year.events.to_pylist()
    by_member: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        by_member.setdefault((e["employee_id"], e["plan_design_id"]), []).append(e)
    designs = {p.plan_design_id: p for p in cfg.plan_designs}
    rows = year.contributions.to_pylist()
    snapshot = year.snapshot.to_pylist()
    assert len(rows) == len(snapshot)
    sample = rows[:: max(1, len(rows) // 400)]  # a spread of a few hundred: the day walk is slow
    snap = {(s["employee_id"], s["plan_design_id"]): s for s in snapshot}
    for r in sample:
        key = (r["employee_id"], r["plan_design_id"])
        s, evs = snap[key], by_member.get(key, [])
        m = from_events(s, evs)
        w = expected(m, designs[r["plan_design_id"]])
        assert {k: r[k] for k in w} == w, key


def from_events(s: dict, events: list[dict]) -> Member:
    """A member's year rebuilt from the snapshot (dates) and the year's events (the changes and the
    state before them): the Jan-1 pay and rate are the first event's previous values, else the year-end's."""
    pay = rate = None
    m = Member(s["employee_id"], s["birth_date"], 0, hire=s["hire_date"], termination=s["termination_date"],
               eligible=s["eligibility_date"] is not None and s["eligibility_date"] <= d(12, 31))
    for e in events:
        t, on = e["event_type"], e["event_date"]
        if t in ("promotion", "merit"):
            pay = pay if pay is not None else e["previous_compensation"]
            setattr(m, t, (on, e["compensation"]))
        elif t in ("enrollment", "escalation", "deferral_change"):
            rate = rate if rate is not None else (e["previous_deferral_rate"] or 0.0)
            setattr(m, t, (on, e["deferral_rate"]))
        elif t == "opt_out":
            m.opt_out = on
        elif t == "hire":
            pay, rate = e["compensation"], 0.0
    m.pay = pay if pay is not None else s["compensation"]
    m.rate = rate if rate is not None else s["deferral_rate"]
    return m


def test_hours_of_service_carry_over_the_years_and_validate_rechecks_them(tmp_path):
    """examples/census.csv has part-timers at 16 hours a week (832 hours a year): under a design requiring
    1,000 hours they get neither match nor core, year after year (their hours ride on the snapshot), and
    validate recomputes the rule from the files."""
    from arrow_events import run
    from arrow_events.config import config_from_toml
    from arrow_events.warehouse import validate_contributions
    from arrow_events.warehouse.validate import validate_warehouse
    from arrow_events.warehouse.writer import read_partition
    from tests.conftest import ROOT

    cfg = config_from_toml('[[plan_designs]]\nplan_design_id = "hours"\nmatch_min_hours = 1000\n'
                           'core_min_hours = 1000\n')
    run(cfg, tmp_path / "wh", "2025-2026", census=ROOT / "examples" / "census.csv")
    assert validate_warehouse(tmp_path / "wh").ok
    snapshot = read_partition(tmp_path / "wh", "snapshot", 2026)
    contributions = read_partition(tmp_path / "wh", "contributions", 2026)
    assert snapshot.schema.names[-1] == "scheduled_hours_per_week"
    rows = [(s, c) for s, c in zip(snapshot.to_pylist(), contributions.to_pylist())]
    part_time = [(s, c) for s, c in rows if s["scheduled_hours_per_week"] == 16.0]
    assert len(part_time) >= 10 and all(c["employer_match"] == c["employer_core"] == 0 for _, c in part_time)
    full = [c for s, c in rows if s["scheduled_hours_per_week"] == 40.0 and s["status"] == "active"
            and s["hire_date"] < dt.date(2026, 1, 1)]
    assert all(c["employer_core"] > 0 for c in full)  # a year of 40 hours a week: 2,086 hours
    # a part-timer paid a core contribution breaks the rule
    i = next(i for i, (s, c) in enumerate(rows) if s["scheduled_hours_per_week"] == 16.0 and s["status"] == "active")
    core = contributions["employer_core"].to_pylist()
    core[i] = Decimal("100.00")
    tampered = contributions.set_column(6, "employer_core", pa.array(core, contributions.schema.field(6).type))
    problems = list(validate_contributions.check(2026, tampered, snapshot, cfg))
    assert problems == [("contributions 2026", "1 row(s): hours: core differs from core_rate x plan compensation "
                         f"(eligible actives with core_min_hours), e.g. {rows[i][0]['employee_id']}")]
