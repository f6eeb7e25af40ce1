"""The workforce relations of queries/ on given rows: cohort_t, hazards, rng, year_counts,
termination_cutoff, hire, members, promotion, merit and termination (docs/model.md §4).

As in test_relations: hand-written input rows registered under the names a file reads, one file
run, the expected rows worked out here from the rules. Draws the SQL takes from upstream columns
are given directly; draws it computes itself are checked against the plain-Python hash_rng of
test_hash_rng (docs/model.md §3), never against the engine's own values.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import pyarrow as pa
import pytest
from test_hash_rng import ref_hash_rng
from test_relations import YEAR, by_id, given, rows, year_plan

from arrow_events.udfs import draw_key, employee_key

SEED = 42  # the default scenario's seed
JAN1, DEC31 = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)


def i64(value: int) -> pa.Scalar:
    return pa.scalar(value, pa.int64())


def whole_years(since: dt.date, on: dt.date) -> int:
    """Whole years completed from ``since`` to ``on`` (docs/model.md §1: age and tenure at Jan 1)."""
    return on.year - since.year - ((on.month, on.day) < (since.month, since.day))


def plus_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` on; Feb 29 becomes Mar 1 in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


# --- cohort_t ------------------------------------------------------------------------------------------

def test_cohort_t_age_tenure_last_year_hires_and_scheduled_leavers():
    d = dt.date
    given_rows = [  # (id, birth, hire, scheduled termination)
        ("born_jan1", d(1985, 1, 1), d(2015, 1, 1), None),
        ("born_jan2", d(1985, 1, 2), d(2015, 1, 2), d(2025, 1, 1)),
        ("born_dec31", d(1984, 12, 31), d(2024, 12, 31), d(2025, 12, 31)),
        ("leap_day", d(2000, 2, 29), d(2024, 1, 1), d(2026, 1, 1)),
        ("hired_2023", d(1990, 7, 4), d(2023, 12, 31), None),
    ]
    cohort = given([{"employee_id": i, "birth_date": b, "hire_date": h, "level_id": 2,
                     "scheduled_termination_date": s} for i, b, h, s in given_rows])
    got = by_id(year_plan(), "cohort_t", cohort=cohort)
    for i, birth, hire, scheduled in given_rows:
        r = got[i]
        assert r["age"] == whole_years(birth, JAN1), i
        assert r["tenure"] == whole_years(hire, JAN1), i
        assert r["hired_last_year"] == (hire >= dt.date(YEAR - 1, 1, 1)), i
        assert r["scheduled_this_year"] == (scheduled is not None and JAN1 <= scheduled <= DEC31), i
        assert (r["level_id"], r["birth_date"]) == (2, birth)  # the cohort's columns pass through
    # the edges, spelled out: a Jan-1 birthday (hire day) counts on the day; a Feb 29 one on Mar 1
    assert [got[i]["age"] for i in ("born_jan1", "born_jan2", "born_dec31", "leap_day")] == [40, 39, 40, 24]
    assert [got[i]["tenure"] for i in ("born_jan1", "born_jan2", "born_dec31", "hired_2023")] == [10, 9, 0, 1]
    assert [got[i]["hired_last_year"] for i in ("born_dec31", "leap_day", "hired_2023")] == [True, True, False]
    assert [got[i]["scheduled_this_year"] for i in ("born_jan1", "born_jan2", "born_dec31", "leap_day")] == [
        False, True, True, False]


# --- hazards ---------------------------------------------------------------------------------------------

def bands(labels: list[str], termination: list[float], promotion: list[float]) -> pa.Table:
    return given([{"years": y, "band": b, "termination_mult": t, "promotion_mult": p}
                  for y, (b, t, p) in enumerate(zip(labels, termination, promotion))], years=pa.int64())


def test_hazards_multiply_the_band_factors_clamp_p_at_one_and_stop_at_the_last_band():
    # two levels, ages 0..3 and tenures 0..2 (one row per whole year, as params builds them); factors
    # are powers of two so every product is exact
    levels = given([{"level_id": 1, "termination_mult": 1.0, "promotion_mult": 1.0, "merit_rate": 0.03},
                    {"level_id": 2, "termination_mult": 0.5, "promotion_mult": 0.25, "merit_rate": 0.05}])
    ages = bands(["<2", "<2", "2+", "2+"], [2.0, 2.0, 0.5, 0.5], [4.0, 4.0, 0.5, 0.5])
    tenures = bands(["<1", "1+", "1+"], [4.0, 0.25, 0.25], [1.0, 2.0, 2.0])
    plan = year_plan(promotion_base_rate=pa.scalar(0.25), age_band_top=i64(2), tenure_band_top=i64(1))
    got = rows(plan, "hazards", levels=levels, age_bands=ages, tenure_bands=tenures)
    # years stop where the last band starts: ages 0..2, tenures 0..1
    assert sorted((r["level_id"], r["age_years"], r["tenure_years"]) for r in got) == [
        (lv, a, t) for lv in (1, 2) for a in range(3) for t in range(2)]
    cell = {(r["level_id"], r["age_years"], r["tenure_years"]): r for r in got}
    lv_t, lv_p, merit = {1: 1.0, 2: 0.5}, {1: 1.0, 2: 0.25}, {1: 0.03, 2: 0.05}
    age_t, age_p, age_band = [2.0, 2.0, 0.5], [4.0, 4.0, 0.5], ["<2", "<2", "2+"]
    ten_t, ten_p, ten_band = [4.0, 0.25], [1.0, 2.0], ["<1", "1+"]
    for (lv, a, t), r in cell.items():
        assert r["termination_weight"] == ten_t[t] * age_t[a] * lv_t[lv]
        assert r["promotion_p"] == min(1.0, 0.25 * ten_p[t] * age_p[a] * lv_p[lv])
        assert (r["age_band"], r["tenure_band"]) == (age_band[a], ten_band[t])
        assert r["merit_rate"] == merit[lv]
        assert r["promoted_merit_rate"] == (0.05 if lv == 1 else None)  # the top level has none above it
    assert cell[(1, 0, 1)]["promotion_p"] == 1.0  # 0.25 x 2 x 4 x 1 = 2: clamped
    assert cell[(1, 1, 0)]["promotion_p"] == 1.0  # 0.25 x 1 x 4 x 1: exactly 1
    assert cell[(2, 0, 1)]["promotion_p"] == 0.5  # 0.25 x 2 x 4 x 0.25
    assert cell[(2, 2, 0)]["promotion_p"] == 0.25 * 1.0 * 0.5 * 0.25


@pytest.mark.parametrize("case", [
    # docs/model.md §4: weight = tenure_mult x age_mult x max(0.4, 1 - 0.1 (level - 1));
    # p = min(1, 0.04 x tenure_mult x age_mult x max(0, 1 - 0.15 (level - 1))); merit .035 .. .055
    (1, 24, 2, "<25", "2-4", 0.6 * 0.7 * 1.0, 0.04 * 1.5 * 1.6 * 1.0, 0.035, 0.040),
    (3, 45, 0, "45-54", "<2", 1.8 * 1.6 * 0.8, 0.04 * 0.5 * 0.7 * 0.70, 0.045, 0.050),
    (2, 25, 5, "25-34", "5-9", 0.5 * 1.3 * 0.9, 0.04 * 1.8 * 1.4 * 0.85, 0.040, 0.045),
    (4, 64, 19, "55-64", "10-19", 0.4 * 1.0 * 0.7, 0.04 * 0.8 * 0.3 * 0.55, 0.050, 0.055),
    (5, 65, 20, "65+", "20+", 0.3 * 1.2 * 0.6, 0.04 * 0.2 * 0.1 * 0.40, 0.055, None),
])
def test_hazards_of_the_default_config_are_the_model_numbers(case):
    level, age, tenure, age_band, tenure_band, weight, p, merit, up = case
    got = rows(year_plan(), "hazards")
    assert len(got) == 5 * 66 * 21  # levels x ages 0..65 x tenures 0..20: the last bands start at 65 and 20
    [r] = [r for r in got if (r["level_id"], r["age_years"], r["tenure_years"]) == (level, age, tenure)]
    assert (r["age_band"], r["tenure_band"], r["merit_rate"], r["promoted_merit_rate"]) == (
        age_band, tenure_band, merit, up)
    assert r["termination_weight"] == pytest.approx(weight, rel=1e-12)
    assert r["promotion_p"] == pytest.approx(p, rel=1e-12)


# --- rng -------------------------------------------------------------------------------------------------

STREAMS = {"u_promo": "promo", "u_promo_raise": "promo_raise", "u_merit": "merit", "u_enroll": "enroll",
           "u_enroll_date": "enroll_date", "u_opt_out": "opt_out", "u_defer": "defer"}


@pytest.mark.parametrize("seed", [SEED, -7])
def test_rng_looks_up_hazards_past_the_last_band_and_draws_every_stream_from_hash_rng(seed):
    hazards = given([
        {"level_id": 2, "age_years": 40, "tenure_years": 3, "age_band": "35-44", "tenure_band": "2-4",
         "termination_weight": 0.5, "promotion_p": 0.07, "merit_rate": 0.04, "promoted_merit_rate": 0.045},
        {"level_id": 2, "age_years": 65, "tenure_years": 20, "age_band": "65+", "tenure_band": "20+",
         "termination_weight": 0.25, "promotion_p": 0.001, "merit_rate": 0.04, "promoted_merit_rate": 0.045},
    ], age_years=pa.int64(), tenure_years=pa.int64())
    cohort_t = given([
        {"employee_id": "EMP_mid", "level_id": 2, "age": 40, "tenure": 3, "scheduled_this_year": False,
         "hired_last_year": False, "sim_year": YEAR},
        {"employee_id": "EMP_old", "level_id": 2, "age": 70, "tenure": 31, "scheduled_this_year": False,
         "hired_last_year": False, "sim_year": YEAR},
        {"employee_id": "EMP_leaving", "level_id": 2, "age": 40, "tenure": 3, "scheduled_this_year": True,
         "hired_last_year": True, "sim_year": YEAR},
    ])
    got = by_id(year_plan(seed=i64(seed)), "rng", hazards=hazards, cohort_t=cohort_t)
    assert set(got) == {"EMP_mid", "EMP_old", "EMP_leaving"}
    weight = {"EMP_mid": 0.5, "EMP_old": 0.25, "EMP_leaving": 0.5}
    assert got["EMP_old"]["age_band"] == "65+" and got["EMP_old"]["tenure_band"] == "20+"  # 70 and 31 years
    assert got["EMP_mid"]["promotion_p"] == 0.07 and got["EMP_old"]["promotion_p"] == 0.001
    assert not {"seed", "sim_year", "termination_weight", "hired_last_year"} & set(got["EMP_mid"])  # not passed on
    for i, r in got.items():
        for column, stream in STREAMS.items():
            assert r[column] == ref_hash_rng(i, YEAR, stream, seed), (i, column)
        if i == "EMP_leaving":
            assert r["sample_key"] is None  # scheduled to leave: not drawn
        else:  # weighted sampling key: -ln(u_term) / w
            assert r["sample_key"] == pytest.approx(-math.log(ref_hash_rng(i, YEAR, "term", seed)) / weight[i],
                                                    rel=1e-14)


# --- year_counts -----------------------------------------------------------------------------------------

def cohort_counts(n: int, prior_hires: int = 0, scheduled: int = 0) -> pa.Table:
    """A Jan-1 cohort of ``n``: the first ``prior_hires`` hired last year, the last ``scheduled`` leaving."""
    return pa.table({"employee_id": pa.array([f"e{k:04d}" for k in range(n)], pa.string()),
                     "hired_last_year": pa.array([k < prior_hires for k in range(n)], pa.bool_()),
                     "scheduled_this_year": pa.array([k >= n - scheduled for k in range(n)], pa.bool_())})


COUNT_CASES = {
    # N, P, scheduled, growth, term_rate, nh_rate -> target, experienced, drawn, hires, nh_terms, worked by hand:
    # target = round_half_up(N (1 + g)); terms = floor(E t + P nh); net = target - (N - terms);
    # net > 0: hires = ceil(net / (1 - nh)), nh_terms = hires - net; else hires 0 and terms - net leave
    "growing": ((100, 10, 0, 0.03, 0.12, 0.25), (103, 13, 13, 22, 6)),  # 90 x .12 + 10 x .25 = 13.3; net 16
    "half_up": ((50, 0, 0, 0.03, 0.12, 0.25), (52, 6, 6, 11, 3)),  # 51.5 -> 52; net 8; 8 / .75 = 10.67 -> 11
    "float_guard": ((100, 0, 0, 0.0, 0.29, 0.25), (100, 29, 29, 39, 10)),  # 100 x .29 is 28.999... in binary
    "exact_ceiling": ((100, 0, 0, 0.04, 0.12, 0.20), (104, 12, 12, 20, 4)),  # net 16 / .8 = 20, not 21
    "shrinking": ((50, 0, 0, -0.20, 0.12, 0.25), (40, 10, 10, 0, 0)),  # net 40 - 44 = -4: four more leave
    "scheduled_below_quota": ((100, 10, 3, 0.03, 0.12, 0.25), (103, 13, 10, 22, 6)),
    "scheduled_above_quota": ((10, 0, 5, 0.03, 0.12, 0.25), (10, 5, 0, 7, 2)),  # quota 1 < 5; net 5 -> 7 hires
    "empty": ((0, 0, 0, 0.03, 0.12, 0.25), (0, 0, 0, 0, 0)),
}


@pytest.mark.parametrize("case", COUNT_CASES)
def test_year_counts_solve_the_headcount_arithmetic(case):
    (n, p, s, growth, term, nh), (target, experienced, drawn, hires, nh_terms) = COUNT_CASES[case]
    plan = year_plan(growth=pa.scalar(growth), termination_rate=pa.scalar(term),
                     new_hire_termination_rate=pa.scalar(nh))
    [got] = rows(plan, "year_counts", cohort_t=cohort_counts(n, p, s))
    assert got == {"n_active": n, "n_prior_hires": p, "target": target, "scheduled_terms": s,
                   "experienced_terms": experienced, "drawn_terms": drawn, "hires": hires,
                   "new_hire_terms": nh_terms}
    assert n - experienced + hires - nh_terms == target  # docs/model.md §4's invariant
    # and the same numbers in exact rational arithmetic
    f_target = math.floor(n * (1 + Fraction(str(growth))) + Fraction(1, 2))
    quota = max(math.floor((n - p) * Fraction(str(term)) + p * Fraction(str(nh))), s)
    net = f_target - (n - quota)
    assert target == f_target
    assert hires == (math.ceil(net / (1 - Fraction(str(nh)))) if net > 0 else 0)
    assert experienced == (quota if net > 0 else quota - net)


# --- termination_cutoff ------------------------------------------------------------------------------------

def test_termination_cutoff_skips_the_scheduled_and_stops_at_the_last_key():
    keys = given([{"employee_id": "s", "sample_key": None, "scheduled_this_year": True},
                  {"employee_id": "a", "sample_key": 0.3, "scheduled_this_year": False},
                  {"employee_id": "b", "sample_key": 0.1, "scheduled_this_year": False}])
    # the counts: three in the cohort, one of them scheduled to leave (no key)
    [one] = rows(year_plan(drawn_terms=i64(1), n_active=i64(3), scheduled_terms=i64(1)), "termination_cutoff",
                 rng=keys)
    assert one == {"cutoff_key": 0.1, "cutoff_employee_id": "b"}
    # more to draw than there are keys: everyone with a key, never the scheduled
    [every] = rows(year_plan(drawn_terms=i64(5), n_active=i64(3), scheduled_terms=i64(1)), "termination_cutoff",
                   rng=keys)
    assert every == {"cutoff_key": 0.3, "cutoff_employee_id": "a"}


# --- path_year -------------------------------------------------------------------------------------------

def test_path_year_gives_each_path_its_scenarios_values_counts_and_cutoff():
    # two paths of different variants; path 1 draws nobody (no cutoff row): its cutoff is NULL
    paths = given([{"path": 0, "variant": 1, "seed": 7}, {"path": 1, "variant": 0, "seed": 8}],
                  path=pa.int64(), variant=pa.int64(), seed=pa.int64())
    plan = year_plan()
    scenarios = rows(plan, "path_year")  # the one default path, to read the scenarios' columns off
    base = {k: v for k, v in scenarios[0].items() if k not in ("new_hire_terms", "cutoff_key", "cutoff_employee_id")}
    two = pa.table({"variant": pa.array([0, 1], pa.int64()), "scenario_id": ["a", "b"],
                    "scenario_key": pa.array([11, 22], pa.int64()), "cola": [0.01, 0.02],
                    "promotion_month": pa.array([2, 3], pa.int32()), "promotion_day": pa.array([1, 1], pa.int32()),
                    "promotion_raise": [0.1, 0.2], "promotion_raise_spread": [0.05, 0.06],
                    "promotion_raise_cap": [0.3, 0.4], "promotion_max_age": pa.array([65, 60], pa.int64()),
                    "merit_month": pa.array([7, 8], pa.int32()), "merit_day": pa.array([15, 1], pa.int32())})
    counts = given([{"path": 0, "new_hire_terms": 5}, {"path": 1, "new_hire_terms": 0}],
                   path=pa.int64(), new_hire_terms=pa.int64())
    cutoff = given([{"path": 0, "cutoff_key": 0.25, "cutoff_employee_id": "e9"}], path=pa.int64(),
                   cutoff_key=pa.float64())
    got = sorted(rows(plan, "path_year", paths=paths, scenarios=two, year_counts=counts, termination_cutoff=cutoff),
                 key=lambda r: r["scenario_id"])
    assert set(base) == set(got[0]) - {"new_hire_terms", "cutoff_key", "cutoff_employee_id"}
    b, a = got[1], got[0]  # path 0 is variant 1 ('b'), path 1 variant 0 ('a')
    assert (b["scenario_id"], b["scenario_key"], b["cola"], b["promotion_max_age"]) == ("b", 22, 0.02, 60)
    assert (b["promotion_date"], b["merit_date"]) == (dt.date(YEAR, 3, 1), dt.date(YEAR, 8, 1))
    assert (b["new_hire_terms"], b["cutoff_key"], b["cutoff_employee_id"]) == (5, 0.25, "e9")
    assert (a["scenario_id"], a["promotion_raise"], a["new_hire_terms"]) == ("a", 0.1, 0)
    assert a["cutoff_key"] is None and a["cutoff_employee_id"] is None


# --- hire ------------------------------------------------------------------------------------------------

def cohort_levels(*counts: tuple[int, int]) -> pa.Table:
    """A Jan-1 cohort of ``count`` members at each ``level``."""
    return given([{"employee_id": f"L{level}_{k}", "level_id": level} for level, count in counts
                  for k in range(count)])


def slot_levels(counts: list[tuple[int, int]], hires: int) -> list[int]:
    """docs/model.md §4's slot method, in fractions: slot k at (k - 1/2) / H takes the level whose
    cumulative share [lo, hi) of the headcount holds it."""
    n = sum(c for _, c in counts)
    out = []
    for k in range(1, hires + 1):
        at, lo = Fraction(2 * k - 1, 2 * hires), 0
        for level, count in counts:
            if Fraction(lo, n) <= at < Fraction(lo + count, n):
                out.append(level)
                break
            lo += count
    return out


@pytest.mark.parametrize(("counts", "hires", "levels"), [
    ([(1, 5), (2, 3), (3, 2)], 4, [1, 1, 2, 3]),  # slots at .125 .375 | .625 | .875
    ([(1, 1), (2, 3)], 2, [2, 2]),  # slot 1 at .25 = the top of L1's [0, .25): half-open, so L2's
    ([(1, 2), (5, 2)], 3, [1, 5, 5]),  # no L2-L4 in the cohort; .5 sits on L5's lower bound
    ([(1, 3), (2, 1), (3, 1)], 1, [1]),  # one slot, at .5
    ([(1, 3)], 0, []),  # no hires: no rows
])
def test_hire_levels_by_the_slot_method(counts, hires, levels):
    assert slot_levels(counts, hires) == levels  # the hand-worked levels agree with the rule
    n = sum(c for _, c in counts)
    got = rows(year_plan(hires=i64(hires), n_active=i64(n)), "hire", cohort_t=cohort_levels(*counts))
    assert [r["employee_id"] for r in got] == [f"NH_{YEAR}_{k:06d}" for k in range(1, hires + 1)]
    assert [r["level_id"] for r in got] == levels
    assert [r["hire_seq"] for r in got] == list(range(1, hires + 1))
    assert all(r["tenure"] == 0 and r["tenure_band"] == "<2" for r in got)  # hired this year


# the model's hire distributions (docs/model.md §1, §4): level pay ranges and hire pay positions, ages
PAY_RANGE = {1: (40_000, 80_000), 2: (80_000, 120_000), 3: (120_000, 160_000), 4: (160_000, 275_000),
             5: (275_000, 500_000)}
POSITION = {1: Fraction("0.25"), 2: Fraction("0.30"), 3: Fraction("0.35"), 4: Fraction("0.40"), 5: Fraction("0.45")}
AGES = [(22, ".05"), (25, ".15"), (28, ".20"), (32, ".25"), (35, ".15"), (40, ".10"), (45, ".08"), (50, ".02")]


def hire_age(u: float) -> int:
    cum = Fraction(0)
    for age, weight in AGES:
        cum += Fraction(weight)
        if u < cum:
            return age
    raise AssertionError(u)


def test_hire_draws_age_pay_and_date_and_ranks_the_new_hire_leavers():
    n, hires = 5, 400  # one of each level: 80 hires each
    got = rows(year_plan(hires=i64(hires), n_active=i64(n)), "hire",
               cohort_t=cohort_levels(*[(level, 1) for level in range(1, 6)]))
    assert len(got) == hires
    u = {r["employee_id"]: {s: ref_hash_rng(r["employee_id"], YEAR, s, SEED) for s in (
        "hire_age", "hire_pay", "hire_date", "nh_term", "nh_term_date", "enroll", "enroll_date", "opt_out")}
         for r in got}
    for r in got:
        i, draws = r["employee_id"], u[r["employee_id"]]
        hired = JAN1 + dt.timedelta(days=math.floor(draws["hire_date"] * 365))
        assert r["hire_date"] == hired, i
        lo, hi = PAY_RANGE[r["level_id"]]
        pay = (lo + (hi - lo) * POSITION[r["level_id"]]) * (Fraction("0.9") + Fraction("0.2") * Fraction(draws[
            "hire_pay"]))
        assert r["compensation_cents"] == math.floor(pay * 100 + Fraction(1, 2)), i
        assert r["birth_date"] == plus_years(hired, -hire_age(draws["hire_age"])), i
        assert r["age"] == whole_years(r["birth_date"], JAN1), i  # a year younger at Jan 1 unless hired on it
        for column in ("u_nh_term", "u_nh_term_date", "u_enroll", "u_enroll_date", "u_opt_out"):
            assert r[column] == draws[column[2:]], (i, column)
    # the new-hire leavers are ranked among those hired before Dec 31 by u_nh_term; a Dec-31 hire cannot leave
    before = sorted((u[r["employee_id"]]["nh_term"], r["employee_id"]) for r in got if r["hire_date"] < DEC31)
    rank = {i: k for k, (_, i) in enumerate(before, 1)}
    assert {r["employee_id"]: r["nh_term_pick"] for r in got} == {r["employee_id"]: rank.get(r["employee_id"])
                                                                  for r in got}
    assert len(before) < hires  # the edge is exercised: some hires fall on Dec 31 under this seed
    assert {21, 49} <= {r["age"] for r in got}  # the youngest and oldest, a year below their hire age


# --- members ---------------------------------------------------------------------------------------------

def test_members_unions_the_cohort_and_the_hires_filling_what_hires_lack():
    rng = given([{
        "member_ix": 0, "employee_id": "EMP_1", "employee_key": 11, "draw_key": 12, "birth_date": dt.date(1980, 1, 2),
        "hire_date": dt.date(2010, 3, 4), "level_id": 3, "compensation_cents": 12_000_000,
        "auto_escalation_opt_out": True, "eligibility_override": None, "scheduled_termination_date": None,
        "scheduled_this_year": False, "scheduled_hours_per_week": 30.0,
        "age": 44, "tenure": 14, "age_band": "35-44", "tenure_band": "10-19",
        "promotion_p": 0.02, "merit_rate": 0.045, "promoted_merit_rate": 0.05, "u_promo": 0.1, "u_promo_raise": 0.2,
        "u_merit": 0.3, "sample_key": 1.5, "u_enroll": 0.4, "u_enroll_date": 0.5, "u_opt_out": 0.6, "u_defer": 0.7,
        "plan_deferral_rates": [0.05], "plan_enrollment_dates": [None], "plan_opted_out": [False],
        "u_extra": 0.9,  # a column members does not select
    }])
    hire = given([{
        "member_ix": 1, "employee_id": f"NH_{YEAR}_000001", "employee_key": 21, "birth_date": dt.date(2000, 5, 6),
        "hire_date": dt.date(YEAR, 5, 6), "level_id": 1, "compensation_cents": 5_000_000, "age": 24, "tenure": 0,
        "age_band": "<25", "tenure_band": "<2", "nh_term_pick": 3, "u_nh_term_date": 0.8, "u_enroll": 0.11,
        "u_enroll_date": 0.12, "u_opt_out": 0.13, "hire_seq": 1,
    }])
    got = by_id(year_plan(), "members", rng=rng, hire=hire)
    old, new = got["EMP_1"], got[f"NH_{YEAR}_000001"]
    assert (old["is_new_hire"], new["is_new_hire"]) == (False, True)
    assert old["auto_escalation_opt_out"] is True and new["auto_escalation_opt_out"] is False
    assert (old["u_promo"], old["u_merit"], old["sample_key"], old["nh_term_pick"]) == (0.1, 0.3, 1.5, None)
    # hires: no plan state, promotion, merit or termination draws; their own enrollment draws
    for column in ("draw_key", "u_promo", "u_promo_raise", "u_merit", "u_defer", "sample_key", "promotion_p",
                   "merit_rate", "scheduled_this_year", "eligibility_override", "plan_deferral_rates",
                   "plan_enrollment_dates", "plan_opted_out", "scheduled_termination_date",
                   "scheduled_hours_per_week"):  # a hire works the standard week (member_year)
        assert new[column] is None, column
    assert (new["nh_term_pick"], new["u_nh_term_date"], new["u_enroll"], new["tenure"]) == (3, 0.8, 0.11, 0)
    assert old["plan_deferral_rates"] == [0.05] and (old["member_ix"], new["member_ix"]) == (0, 1)
    assert old["scheduled_hours_per_week"] == 30.0
    assert "u_extra" not in old and "hire_seq" not in new


# --- promotion and merit: the edges test_relations leaves ----------------------------------------------------

def test_promotion_edges_tenure_one_age_64_ties_new_hires_and_the_raise_cap():
    base = {"level_id": 4, "compensation_cents": 10_000_000, "tenure": 1, "age": 64, "u_promo": 0.01,
            "promotion_p": 0.05, "u_promo_raise": 0.5}
    given_rows = [
        {**base, "employee_id": "edge"},  # tenure exactly 1, age 64, level 4: all still eligible
        {**base, "employee_id": "tie", "u_promo": 0.05},  # u = p: not below it
        {**base, "employee_id": "capped", "u_promo_raise": 0.999},
        {**base, "employee_id": "hire", "tenure": 0, "age": 30, "u_promo": None, "promotion_p": None,
         "u_promo_raise": None},  # a new hire: no draws
    ]
    # a raise of 20% +- 20% would reach 39.96%: the cap holds it at 30%
    plan = year_plan(promotion_raise_spread=pa.scalar(0.2))
    got = by_id(plan, "promotion", members=given(given_rows))
    assert [k for k, r in got.items() if r["promotion_on"] is not None] == ["capped", "edge"]
    assert got["edge"]["promotion_level_id"] == 5
    assert got["edge"]["promotion_compensation_cents"] == 12_000_000  # 1 + .2 + .2 x 0
    assert got["capped"]["promotion_compensation_cents"] == 13_000_000  # 1 + .2 + .2 x .998 > 1.3
    assert got["hire"]["promotion_level_id"] is None and got["hire"]["promotion_compensation_cents"] is None


def test_merit_needs_a_year_of_tenure_and_keeps_the_new_hires_rows():
    promotion = given([
        {"employee_id": "one_year", "tenure": 1, "compensation_cents": 10_000_000, "u_merit": 0.5, "promoted": False,
         "merit_rate": 0.04, "promoted_merit_rate": 0.045, "promotion_compensation_cents": None},
        {"employee_id": "hire", "tenure": 0, "compensation_cents": 5_000_000, "u_merit": None, "promoted": None,
         "merit_rate": None, "promoted_merit_rate": None, "promotion_compensation_cents": None},
    ], promoted=pa.bool_())
    got = by_id(year_plan(), "merit", promotion=promotion)
    assert set(got) == {"one_year", "hire"}  # the draw's cell join keeps a row without a draw
    assert got["one_year"]["merit_on"] == dt.date(YEAR, 7, 15)
    assert got["one_year"]["merit_compensation_cents"] == 10_600_000  # 4% x 1.0 + 2% cola
    assert got["hire"]["merit_on"] is None and got["hire"]["merit_compensation_cents"] is None


# --- termination -------------------------------------------------------------------------------------------

def real_draw_key(employee_id: str, seed: int = SEED) -> int:
    key = employee_key(pa.array([employee_id]))
    return draw_key(key, pa.array([YEAR], pa.int64()), pa.array([seed], pa.int64()))[0].as_py()


def merit_rows(*records: dict) -> pa.Table:
    base = {"employee_id": None, "scheduled_this_year": False, "sample_key": None, "scheduled_termination_date": None,
            "draw_key": None, "hire_date": dt.date(2015, 1, 1), "u_nh_term_date": None, "nh_term_pick": None}
    return given([{**base, **r} for r in records], scheduled_this_year=pa.bool_())


def test_termination_scheduled_drawn_and_new_hire_leavers_and_their_dates():
    merit = merit_rows(
        # experienced: scheduled this year (no key), drawn (at or below the cutoff), not drawn
        {"employee_id": "scheduled", "scheduled_this_year": True, "scheduled_termination_date": dt.date(YEAR, 6, 30)},
        {"employee_id": "drawn", "sample_key": 0.2, "draw_key": real_draw_key("drawn")},
        {"employee_id": "kept", "sample_key": 0.3, "draw_key": real_draw_key("kept")},
        # new hires: the first new_hire_terms picks leave, dated in (hire date, Dec 31]
        {"employee_id": "NH_1", "hire_date": dt.date(YEAR, 3, 1), "u_nh_term_date": 0.0, "nh_term_pick": 1},
        {"employee_id": "NH_2", "hire_date": dt.date(YEAR, 3, 1), "u_nh_term_date": 0.999999, "nh_term_pick": 2},
        {"employee_id": "NH_3", "hire_date": dt.date(YEAR, 12, 30), "u_nh_term_date": 0.5, "nh_term_pick": 3},
        {"employee_id": "NH_4", "hire_date": dt.date(YEAR, 5, 1), "u_nh_term_date": 0.5, "nh_term_pick": 4},
        {"employee_id": "NH_dec31", "hire_date": DEC31, "u_nh_term_date": 0.0, "nh_term_pick": None},
    )
    plan = year_plan(cutoff_key=pa.scalar(0.2), cutoff_employee_id=pa.scalar("drawn"), new_hire_terms=i64(3))
    got = by_id(plan, "termination", merit=merit)
    assert {k: r["termination_category"] for k, r in got.items()} == {
        "scheduled": "scheduled_termination", "drawn": "experienced_termination", "kept": None,
        "NH_1": "new_hire_termination", "NH_2": "new_hire_termination", "NH_3": "new_hire_termination",
        "NH_4": None, "NH_dec31": None}
    drawn_on = JAN1 + dt.timedelta(days=math.floor(ref_hash_rng("drawn", YEAR, "term_date", SEED) * 365))
    assert {k: r["termination_on"] for k, r in got.items() if r["termination_on"]} == {
        "scheduled": dt.date(YEAR, 6, 30),  # on the census date
        "drawn": drawn_on,  # a uniform day of the year from u_term_date
        "NH_1": dt.date(YEAR, 3, 2),  # the day after the hire at u = 0 ...
        "NH_2": DEC31,  # ... Dec 31 as u -> 1 (1 + floor(.999999 x 305))
        "NH_3": DEC31,  # hired Dec 30: only Dec 31 is left
    }


def test_termination_draws_nobody_without_a_cutoff_or_new_hire_quota():
    merit = merit_rows({"employee_id": "a", "sample_key": 0.0001, "draw_key": 1},
                       {"employee_id": "NH_1", "hire_date": dt.date(YEAR, 3, 1), "u_nh_term_date": 0.5,
                        "nh_term_pick": 1})
    plan = year_plan(cutoff_key=pa.scalar(None, pa.float64()), cutoff_employee_id=pa.scalar(None, pa.string()),
                     new_hire_terms=i64(0))
    got = by_id(plan, "termination", merit=merit)
    assert [r["termination_on"] for r in got.values()] == [None, None]
