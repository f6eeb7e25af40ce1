"""The plan relations of queries/ on given rows: plan_members, eligibility, enrollment, opt_out,
escalation and deferral_change (docs/model.md §4), with the per-design differences.

As in test_relations: hand-written input rows registered under the names a file reads, one file
run, the expected rows worked out here from the rules. The draws (u_enroll, u_opt_out, u_defer, ...)
are upstream columns, so they are chosen here and every expectation is exact.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_relations import YEAR, by_id, given, rows, year_plan

from arrow_events import load_config
from arrow_events.config import PlanDesign

d = dt.date
JAN1, DEC31 = d(YEAR, 1, 1), d(YEAR, 12, 31)


# --- plan_members --------------------------------------------------------------------------------------------

def three_designs():
    """standard (the defaults), voluntary_only (no auto-enrollment) and waiting (min age 18, 90 days'
    wait, auto-enrollment of everyone, age groups of its own); by id their ranks are 0, 1, 2."""
    cfg = load_config(None)
    cfg.plan_designs = [
        PlanDesign(),
        PlanDesign(plan_design_id="waiting", min_age=18, waiting_days=90, auto_enroll_scope="all",
                   voluntary_age_lower=[0, 40], voluntary_first_year_rate=[0.1, 0.2],
                   voluntary_later_rate=[0.01, 0.02], voluntary_deferral_rate=[0.04, 0.08],
                   opt_out_age_lower=[0], opt_out_age_mult=[1.0]),
        PlanDesign(plan_design_id="voluntary_only", auto_enroll=False),
    ]
    return cfg


def test_plan_members_eligibility_scope_and_plan_state_per_design():
    members = given([
        # an enrolled veteran: enrolled under standard, opted out under voluntary_only, no row under waiting
        {"employee_id": "veteran", "age": 44, "birth_date": d(1980, 6, 15), "hire_date": d(2010, 3, 1),
         "eligibility_override": None, "plan_deferral_rates": [0.05, 0.0, None],
         "plan_enrollment_dates": [d(2012, 1, 1), None, None], "plan_opted_out": [False, True, None]},
        # a hire of this year (no plan state), 19 at Jan 1: 21 only next year
        {"employee_id": "young_hire", "age": 19, "birth_date": d(2005, 9, 10), "hire_date": d(YEAR, 4, 1),
         "eligibility_override": None, "plan_deferral_rates": None, "plan_enrollment_dates": None,
         "plan_opted_out": None},
        # born Feb 29: 21 on Mar 1 of a common year
        {"employee_id": "leap_baby", "age": 20, "birth_date": d(2004, 2, 29), "hire_date": d(2024, 6, 1),
         "eligibility_override": True, "plan_deferral_rates": [0.0, 0.0, 0.0],
         "plan_enrollment_dates": [None, None, None], "plan_opted_out": [False, False, False]},
        # eligibility_override false: never eligible, under any design
        {"employee_id": "never", "age": 56, "birth_date": d(1968, 8, 8), "hire_date": d(2000, 1, 3),
         "eligibility_override": False, "plan_deferral_rates": [0.0, 0.0, 0.0],
         "plan_enrollment_dates": [None, None, None], "plan_opted_out": [False, False, False]},
        # hired on the first simulated Jan 1: a new hire for the AE scope
        {"employee_id": "jan1_hire", "age": 31, "birth_date": d(1993, 5, 5), "hire_date": JAN1,
         "eligibility_override": None, "plan_deferral_rates": None, "plan_enrollment_dates": None,
         "plan_opted_out": None},
    ])
    got = rows(year_plan(three_designs()), "plan_members", termination=members)
    assert len(got) == 5 * 3  # every member once per design
    row = {(r["employee_id"], r["plan_design_id"]): r for r in got}
    assert {r["design_rank"] for r in got if r["plan_design_id"] == "voluntary_only"} == {1}

    def check(employee: str, design: str, eligible: dt.date | None, scope: bool, rate: float, opted_out: bool,
              enrolled_on: dt.date | None = None) -> None:
        r = row[(employee, design)]
        got_ = (r["eligibility_date"], r["in_auto_enroll_scope"], r["deferral_rate"], r["enrolled"], r["opted_out"],
                r["enrollment_date"])
        assert got_ == (eligible, scope, rate, rate > 0, opted_out, enrolled_on), (employee, design)

    # eligible from max(hire + waiting days, min-age birthday); in AE scope: AE on, and scope all or hired >= start
    check("veteran", "standard", d(2010, 3, 1), False, 0.05, False, d(2012, 1, 1))
    check("veteran", "voluntary_only", d(2010, 3, 1), False, 0.0, True)
    check("veteran", "waiting", d(2010, 5, 30), True, 0.0, False)  # Mar 1 + 90 days; a NULL element: no state
    check("young_hire", "standard", d(2026, 9, 10), True, 0.0, False)  # 21st birthday after the hire
    check("young_hire", "voluntary_only", d(2026, 9, 10), False, 0.0, False)
    check("young_hire", "waiting", d(YEAR, 6, 30), True, 0.0, False)  # 18 already: Apr 1 + 90 days
    check("leap_baby", "standard", d(YEAR, 3, 1), False, 0.0, False)  # the 21st "Feb 29" is Mar 1
    check("leap_baby", "waiting", d(2024, 8, 30), True, 0.0, False)  # 18 on Mar 1 2022; hired + 90 days later
    for design in ("standard", "voluntary_only", "waiting"):
        check("never", design, None, design == "waiting", 0.0, False)
    check("jan1_hire", "standard", JAN1, True, 0.0, False)
    # the age group's rates, per design (docs/model.md §4: .30/.55/.70/.80 first year, .03/.05/.07/.08 later,
    # rates .03/.05/.07/.09 by <31/31-45/46-55/56+; opt-out factors 1.8/1.1/0.7/0.4 by <35/35-44/45-54/55+)
    rates = {k: (r["voluntary_first_year_rate"], r["voluntary_later_rate"], r["voluntary_deferral_rate"],
                 r["opt_out_mult"]) for k, r in row.items()}
    assert rates[("young_hire", "standard")] == (0.30, 0.03, 0.03, 1.8)
    assert rates[("jan1_hire", "standard")] == (0.55, 0.05, 0.05, 1.8)  # 31: the second voluntary group
    assert rates[("veteran", "standard")] == (0.55, 0.05, 0.05, 1.1)  # 44
    assert rates[("never", "voluntary_only")] == (0.80, 0.08, 0.09, 0.4)  # 56
    assert rates[("veteran", "waiting")] == (0.2, 0.02, 0.08, 1.0)  # the waiting design's own groups
    assert rates[("jan1_hire", "waiting")] == (0.1, 0.01, 0.04, 1.0)
    # the design's parameters later branches read ride along; what only plan_members reads does not
    # (auto_enroll and waiting_days are checked above through the scope and the eligibility date)
    waiting = row[("veteran", "waiting")]
    assert (waiting["auto_enroll_rate"], waiting["escalation_cap"]) == (0.06, 0.10)
    assert not {"auto_enroll", "auto_enroll_all", "waiting_days", "min_age", "plan_deferral_rates"} & set(got[0])


# --- eligibility ---------------------------------------------------------------------------------------------

def test_eligibility_event_only_in_the_year_the_date_falls_in():
    dates = {"before": d(YEAR - 1, 12, 31), "jan1": JAN1, "dec31": DEC31, "after": d(YEAR + 1, 1, 1), "never": None}
    members = given([{"employee_id": k, "eligibility_date": v} for k, v in dates.items()])
    got = by_id(year_plan(), "eligibility", plan_members=members)
    assert {k: r["eligibility_on"] for k, r in got.items()} == {
        "before": None, "jan1": JAN1, "dec31": DEC31, "after": None, "never": None}


# --- enrollment ----------------------------------------------------------------------------------------------

def candidate(employee_id: str, eligible: dt.date | None, scope: bool, u: float = 0.0, u_date: float = 0.0,
              **values: object) -> dict:
    """An eligibility row under the default design, for a member aged under 31 (first-year p .30,
    later p .03, rate .03); not enrolled, never opted out, unless ``values`` say otherwise."""
    row = {"employee_id": employee_id, "eligibility_date": eligible, "in_auto_enroll_scope": scope,
           "enrolled": False, "opted_out": False, "u_enroll": u, "u_enroll_date": u_date,
           "auto_enroll_first_date": d(2025, 2, 15), "auto_enroll_window_days": 45, "auto_enroll_rate": 0.06,
           "voluntary_first_year_rate": 0.30, "voluntary_later_rate": 0.03, "voluntary_deferral_rate": 0.03}
    row.update(values)
    return row


def enrollments(plan, *candidates: dict) -> dict[str, tuple]:
    got = by_id(plan, "enrollment", eligibility=given(list(candidates)))
    return {k: (r["enrollment_category"], r["enrollment_on"], r["enrollment_deferral_rate"],
                r["enrollment_probability"]) for k, r in got.items()}


def test_auto_enrollment_dates_and_who_is_a_candidate():
    got = enrollments(
        year_plan(),
        candidate("spring", d(YEAR, 3, 1), True),  # eligibility + 45 days
        candidate("before_start", d(2019, 5, 5), True),  # eligible before the first year: its Feb 15
        candidate("nov16", d(YEAR, 11, 16), True),  # + 45 = Dec 31: this year
        candidate("nov17", d(YEAR, 11, 17), True),  # + 45 = Jan 1 next year: not this year, nor voluntarily
        candidate("enrolled", d(2019, 5, 5), True, enrolled=True),
        candidate("opted_out", d(2019, 5, 5), True, opted_out=True),
        candidate("never_eligible", None, True),
        candidate("eligible_next_year", d(YEAR + 1, 1, 1), False),  # would enroll voluntarily at u = 0
    )
    auto = "auto_enrollment"
    assert got == {
        "spring": (auto, d(YEAR, 4, 15), 0.06, None),
        "before_start": (auto, d(YEAR, 2, 15), 0.06, None),
        "nov16": (auto, DEC31, 0.06, None),
        "nov17": (None, None, None, None),
        "enrolled": (None, None, None, None),
        "opted_out": (None, None, None, None),
        "never_eligible": (None, None, None, None),
        "eligible_next_year": (None, None, None, None),
    }


def test_auto_enrollment_of_a_december_eligibility_falls_in_the_next_year():
    plan = year_plan(year=YEAR + 1)  # the first simulated year is still YEAR
    got = enrollments(plan, candidate("dec1", d(YEAR, 12, 1), True),
                      candidate("before_start", d(2019, 5, 5), True))  # its AE date passed last year
    assert got == {"dec1": ("auto_enrollment", d(YEAR + 1, 1, 15), 0.06, None),
                   "before_start": (None, None, None, None)}


def test_voluntary_enrollment_first_and_later_years():
    vol = "voluntary_enrollment"
    got = enrollments(
        year_plan(),
        # first year of eligibility: p .30, dated eligibility + floor(u_date x (Dec 31 - eligibility + 1))
        candidate("first", d(YEAR, 7, 1), False, u=0.29, u_date=0.0),
        candidate("first_last_day", d(YEAR, 7, 1), False, u=0.1, u_date=0.999999),  # 183 of 184 days on
        candidate("first_at_p", d(YEAR, 7, 1), False, u=0.30),  # u = p: not below it
        candidate("jan1", JAN1, False, u=0.29, u_date=0.5),  # eligible on Jan 1: still the first year
        # later years: p .03, a uniform day of the year
        candidate("later", d(2020, 1, 1), False, u=0.02, u_date=0.5),  # Jan 1 + floor(182.5) = Jul 2
        candidate("later_unlucky", d(2020, 1, 1), False, u=0.1),  # would have enrolled in its first year
        candidate("later_older", d(2020, 1, 1), False, u=0.07, u_date=0.999999, voluntary_later_rate=0.08,
                  voluntary_deferral_rate=0.09),  # 56+: p .08, rate .09
        candidate("enrolled", d(YEAR, 7, 1), False, u=0.0, enrolled=True),
    )
    assert got == {
        "first": (vol, d(YEAR, 7, 1), 0.03, 0.30),
        "first_last_day": (vol, DEC31, 0.03, 0.30),
        "first_at_p": (None, None, None, None),
        "jan1": (vol, d(YEAR, 7, 2), 0.03, 0.30),  # Jan 1 + floor(.5 x 365)
        "later": (vol, d(YEAR, 7, 2), 0.03, 0.03),
        "later_unlucky": (None, None, None, None),
        "later_older": (vol, DEC31, 0.09, 0.08),
        "enrolled": (None, None, None, None),
    }


def test_voluntary_enrollment_in_a_leap_year_reaches_dec_31():
    got = enrollments(year_plan(year=2028), candidate("later", d(2020, 1, 1), False, u=0.0, u_date=0.999999),
                      candidate("feb29", d(2028, 2, 29), False, u=0.0, u_date=0.999999))
    assert got["later"][1] == d(2028, 12, 31)  # Jan 1 + floor(.999999 x 366) = Jan 1 + 365
    assert got["feb29"][1] == d(2028, 12, 31)


# --- opt_out -------------------------------------------------------------------------------------------------

def test_opt_out_after_auto_enrollment_only():
    def enrolled(employee_id, category, on, u, mult=1.8, rate=0.09):
        return {"employee_id": employee_id, "enrollment_category": category, "enrollment_on": on, "u_opt_out": u,
                "opt_out_rate": rate, "opt_out_mult": mult, "opt_out_window_days": 30}

    p_young = 0.09 * 1.8  # the under-35 group: 0.162
    got = by_id(year_plan(), "opt_out", enrollment=given([
        enrolled("young", "auto_enrollment", d(YEAR, 4, 15), 0.16),  # below .162: AE + 30 days
        enrolled("young_stays", "auto_enrollment", d(YEAR, 4, 15), 0.17),
        enrolled("at_p", "auto_enrollment", d(YEAR, 4, 15), p_young),  # u = p: not below it
        enrolled("december", "auto_enrollment", d(YEAR, 12, 15), 0.01),  # AE + 30 is next year: Dec 31
        enrolled("older", "auto_enrollment", d(YEAR, 2, 15), 0.035, mult=0.4),  # 55+: p .036
        enrolled("certain", "auto_enrollment", d(YEAR, 2, 15), 0.99, rate=0.9),  # p 1.62, shown as 1
        enrolled("voluntary", "voluntary_enrollment", d(YEAR, 2, 15), 0.0),  # only auto-enrollments opt out
        enrolled("not_enrolled", None, None, 0.0),
    ]))
    out = {k: (r["opt_out_on"], r["opt_out_deferral_rate"], r["opt_out_probability"]) for k, r in got.items()
           if r["opt_out_on"] is not None}
    assert out.keys() == {"young", "december", "older", "certain"}
    assert out["young"] == (d(YEAR, 5, 15), 0.0, pytest.approx(0.162))
    assert out["december"][0] == DEC31
    assert out["older"] == (d(YEAR, 3, 17), 0.0, pytest.approx(0.036))
    assert out["certain"][2] == 1.0
    assert all(got[k]["opt_out_deferral_rate"] is None and got[k]["opt_out_probability"] is None
               for k in got if k not in out)


# --- escalation: the edges test_relations leaves ---------------------------------------------------------------

def test_escalation_only_under_a_design_with_it_and_kept_to_six_decimals():
    def member(employee_id, rate, design_on=True, step=0.01, cap=0.10, enrolled=None):
        return {"employee_id": employee_id, "deferral_rate": rate, "enrolled": rate > 0 if enrolled is None else
                enrolled, "is_new_hire": False, "auto_escalation_opt_out": False, "auto_escalation": design_on,
                "escalation_step": step, "escalation_cap": cap, "escalation_date": JAN1}

    got = by_id(year_plan(), "escalation", opt_out=given([
        member("float_noise", 0.06),  # 0.06 + 0.01 is 0.06999999999999999 in binary: kept as 0.07
        member("noise_at_cap", 0.09),  # 0.09 + 0.01 is 0.09999999999999999: the cap, not just below it
        member("design_off", 0.03, design_on=False),  # e.g. the voluntary_only design
        member("not_enrolled", 0.0),
        member("own_cap", 0.14, step=0.02, cap=0.15),  # another design's step and cap: 0.16 -> 0.15
        member("just_below_cap", 0.099),
    ]))
    assert {k: r["escalation_deferral_rate"] for k, r in got.items()} == {
        "float_noise": 0.07, "noise_at_cap": 0.10, "design_off": None, "not_enrolled": None, "own_cap": 0.15,
        "just_below_cap": 0.10}
    assert got["float_noise"]["escalation_on"] == JAN1 and got["design_off"]["escalation_on"] is None


# --- deferral_change -----------------------------------------------------------------------------------------

def test_deferral_change_up_to_the_design_ceiling_after_any_escalation():
    def member(employee_id, rate, u, escalated=None, ceiling=0.06, enrolled=True, new_hire=False):
        return {"employee_id": employee_id, "deferral_rate": rate, "escalation_deferral_rate": escalated,
                "enrolled": enrolled, "is_new_hire": new_hire, "u_defer": u, "match_ceiling": ceiling,
                "deferral_change_rate": 0.10, "deferral_change_date": d(YEAR, 4, 1)}

    got = by_id(year_plan(), "deferral_change", escalation=given([
        member("moves", 0.03, 0.05),  # u .05 < p .10: up to the ceiling on Apr 1
        member("tie", 0.03, 0.10),  # u = p: no
        member("escalated_to_ceiling", 0.05, 0.0, escalated=0.06),  # judged after the Jan-1 escalation
        member("escalated_below", 0.03, 0.0, escalated=0.04),
        member("at_ceiling", 0.06, 0.0),
        member("above_ceiling", 0.08, 0.0),
        member("not_enrolled", 0.0, 0.0, enrolled=False),
        member("new_hire", 0.03, 0.0, new_hire=True),  # not enrolled at Jan 1
        member("lower_ceiling", 0.03, 0.0, ceiling=0.04),  # another design's match ceiling
        member("above_lower_ceiling", 0.05, 0.0, ceiling=0.04),
    ]))
    changed = {k: (r["deferral_change_on"], r["deferral_change_deferral_rate"], r["deferral_change_probability"])
               for k, r in got.items() if r["deferral_change_on"] is not None}
    apr1 = d(YEAR, 4, 1)
    assert changed == {"moves": (apr1, 0.06, 0.10), "escalated_below": (apr1, 0.06, 0.10),
                       "lower_ceiling": (apr1, 0.04, 0.10)}
    assert all(r["deferral_change_deferral_rate"] is None for k, r in got.items() if k not in changed)
