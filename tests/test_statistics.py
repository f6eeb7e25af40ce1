"""Hazards on a 50,000-employee census: observed rates within 3 sigma of the configured ones.

Expected probabilities are computed here, in Python, straight from docs/model.md's
tables and the census, independently of the SQL.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow.compute as pc
import pytest

from arrow_events import from_census, load_config, normalize_census, synthetic_census
from arrow_events.config import PlanDesign
from arrow_events.engine.year import run_year

N = 50_000


@pytest.fixture(scope="module")
def year_one():
    cfg = load_config(None)
    # no turnover and no growth: every Jan-1 employee stays all year, so rates are clean
    cfg.scenario.growth = 0.0
    cfg.scenario.termination_rate = 0.0
    cfg.scenario.new_hire_termination_rate = 0.0
    cfg.plan_designs = [
        PlanDesign(plan_design_id="voluntary", auto_enroll=False, auto_escalation=False),
        PlanDesign(plan_design_id="ae_all", auto_enroll=True, auto_enroll_scope="all"),
    ]
    census = normalize_census(synthetic_census(N, seed=11), 2025)
    result = run_year(cfg, 2025, from_census(census, cfg))
    return census, result.events


def whole_years(dates: np.ndarray, year: int) -> np.ndarray:
    d = dates.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(int) + 1970
    jan1 = (d - d.astype("datetime64[Y]")).astype(int) == 0
    return year - y - np.where(jan1, 0, 1)


def band(values: np.ndarray, lower: list[int]) -> np.ndarray:
    return np.searchsorted(np.asarray(lower), values, side="right") - 1


def assert_within_3_sigma(observed: int, p: np.ndarray) -> None:
    expected, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
    assert abs(observed - expected) < 3 * sd, (observed, expected, sd)


def test_promotion_rate(year_one):
    census, events = year_one
    age = whole_years(census["birth_date"].to_numpy(), 2025)
    tenure = whole_years(census["hire_date"].to_numpy(), 2025)
    level = census["level_id"].to_numpy()
    tenure_mult = np.array([0.5, 1.5, 1.8, 0.8, 0.2])[band(tenure, [0, 2, 5, 10, 20])]
    age_mult = np.array([1.6, 1.4, 1.1, 0.7, 0.3, 0.1])[band(age, [0, 25, 35, 45, 55, 65])]
    level_mult = np.maximum(0, 1 - 0.15 * (level - 1))
    p = np.minimum(1, 0.04 * tenure_mult * age_mult * level_mult)
    eligible = (level < 5) & (tenure >= 1) & (age < 65)
    promoted = events.filter(pc.and_(pc.equal(events["event_type"], "promotion"),
                                     pc.equal(events["plan_design_id"], "voluntary")))
    assert promoted.num_rows > 500
    assert_within_3_sigma(promoted.num_rows, p[eligible])


def test_voluntary_enrollment_rate(year_one):
    census, events = year_one
    age = whole_years(census["birth_date"].to_numpy(), 2025)
    unenrolled = census["deferral_rate"].to_numpy() == 0
    # everyone in the synthetic census is over 21 and hired before 2025: eligible before the year
    assert whole_years(census["birth_date"].to_numpy(), 2025).min() >= 21
    p = np.array([0.03, 0.05, 0.07, 0.08])[band(age, [0, 31, 46, 56])]
    enrolled = events.filter(pc.and_(pc.equal(events["event_category"], "voluntary_enrollment"),
                                     pc.equal(events["plan_design_id"], "voluntary")))
    assert_within_3_sigma(enrolled.num_rows, p[unenrolled])
    rates = dict(zip(enrolled["employee_age"].to_pylist(), enrolled["deferral_rate"].to_pylist(), strict=True))
    assert all(r == (0.03 if a < 31 else 0.05 if a < 46 else 0.07 if a < 56 else 0.09) for a, r in rates.items())


def test_auto_enrollment_and_opt_out_rate(year_one):
    census, events = year_one
    age = whole_years(census["birth_date"].to_numpy(), 2025)
    unenrolled = census["deferral_rate"].to_numpy() == 0
    ae = events.filter(pc.and_(pc.equal(events["event_category"], "auto_enrollment"),
                               pc.equal(events["plan_design_id"], "ae_all")))
    assert ae.num_rows == int(unenrolled.sum())  # scope 'all': every eligible unenrolled employee
    assert set(ae["event_date"].to_pylist()) == {dt.date(2025, 2, 15)}
    p = 0.09 * np.array([1.8, 1.1, 0.7, 0.4])[band(age, [0, 35, 45, 55])]
    opted = events.filter(pc.and_(pc.equal(events["event_type"], "opt_out"),
                                  pc.equal(events["plan_design_id"], "ae_all")))
    assert_within_3_sigma(opted.num_rows, p[unenrolled])
