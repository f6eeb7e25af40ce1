"""validate's checks of a year's contributions table (docs/model.md §7) against its snapshot.

Recomputed in NumPy from the files and the config the year's manifest holds, not from the
engine's SQL: one row per snapshot row; plan compensation within the 401(a)(17) limit;
deferrals within the 402(g) limit plus the catch-up for the age at Dec 31, and
``deferral_limit_reached`` exactly when they are at it; nothing deferred or matched for
the never-enrolled; the match equal to the design's tiers applied to the effective rate,
within its cap, and none for leavers where the design requires being active at Dec 31;
the core contribution exactly the rate times plan compensation for actives eligible at
Dec 31, else none; neither for those credited with fewer hours of service than the design's
``match_min_hours`` or ``core_min_hours`` (scheduled hours a week, from the snapshot when a design
requires hours, else the standard week, times the weeks employed in the year).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.config import STANDARD_WEEKLY_HOURS, Config, PlanDesign, limits_for
from arrow_events.schema import money_to_cents


def _cents(table: pa.Table, name: str) -> np.ndarray:
    return money_to_cents(table[name]).to_numpy()


def _half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5)


def _tiered(rate: np.ndarray, design: PlanDesign) -> np.ndarray:
    share = np.zeros(len(rate))
    for t in design.match_tiers:
        share += t.match_rate * np.maximum(0.0, np.minimum(rate, t.employee_max) - t.employee_min)
    return share


def hours_worked(year: int, snapshot: pa.Table) -> np.ndarray:
    """Hours of service credited in ``year`` per snapshot row: scheduled hours a week x days employed / 7."""
    first = pc.max_element_wise(snapshot["hire_date"], pa.scalar(dt.date(year, 1, 1)))
    last = pc.fill_null(snapshot["termination_date"], pa.scalar(dt.date(year, 12, 31)))
    days = (pc.cast(last, pa.int32()).to_numpy(zero_copy_only=False)
            - pc.cast(first, pa.int32()).to_numpy(zero_copy_only=False) + 1)
    weekly = (snapshot["scheduled_hours_per_week"].to_numpy() if "scheduled_hours_per_week" in snapshot.column_names
              else np.full(snapshot.num_rows, STANDARD_WEEKLY_HOURS))
    return np.round(weekly * days / 7, 6)


def check(year: int, contributions: pa.Table, snapshot: pa.Table, cfg: Config) -> Iterator[tuple[str, str]]:
    """(where, what is wrong) for each rule the year's contributions break."""
    where = f"contributions {year}"
    keys = ["employee_id", "plan_design_id"]
    if contributions.num_rows != snapshot.num_rows or not all(
            contributions[k].equals(snapshot[k]) for k in keys):
        yield where, (f"{contributions.num_rows} rows, not one per snapshot row ({snapshot.num_rows}): "
                      "every plan design and employee active at any time in the year")
        return
    limits = limits_for(cfg.limits, year)
    dec31 = pa.scalar(dt.date(year, 12, 31))
    age = year - pc.year(snapshot["birth_date"]).to_numpy()
    limit = limits.deferral + np.where((age >= 60) & (age <= 63), limits.catch_up_60_63,
                                       np.where(age >= 50, limits.catch_up, 0))
    pay, deferrals = _cents(contributions, "plan_compensation"), _cents(contributions, "employee_deferrals")
    match, core = _cents(contributions, "employer_match"), _cents(contributions, "employer_core")
    reached = contributions["deferral_limit_reached"].to_numpy(zero_copy_only=False)
    active = pc.equal(snapshot["status"], "active").to_numpy(zero_copy_only=False)
    eligible = pc.less_equal(snapshot["eligibility_date"], dec31).fill_null(False).to_numpy(zero_copy_only=False)
    # enrolled at some time: enrolled now, or an enrollment date (kept after an opt-out)
    never_enrolled = ~snapshot["enrolled"].to_numpy(zero_copy_only=False) & pc.is_null(
        snapshot["enrollment_date"]).to_numpy(zero_copy_only=False)
    design_ids = snapshot["plan_design_id"].to_numpy(zero_copy_only=False)
    hours = hours_worked(year, snapshot)

    rules = [
        (pay > limits.compensation, f"plan compensation above the {limits.compensation / 100:,.0f} limit"),
        (deferrals > limit, "deferrals above the deferral limit (with catch-up for the age at Dec 31)"),
        (reached != (deferrals == limit), "deferral_limit_reached disagrees with the deferrals and the limit"),
        (deferrals > pay, "deferrals above plan compensation"),
        (never_enrolled & ((deferrals != 0) | (match != 0)), "deferrals or match for a never-enrolled employee"),
    ]
    for design in cfg.plan_designs:
        mine = design_ids == design.plan_design_id
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(pay > 0, deferrals / pay, 0.0)
        cap = _half_up(design.max_match_percentage * pay)
        due = _half_up(np.minimum(pay * _tiered(rate, design), design.max_match_percentage * pay))
        if design.match_requires_active_at_year_end:
            due = np.where(active, due, 0)
        due = np.where(hours >= design.match_min_hours, due, 0)
        core_due = np.where(active & eligible & (hours >= design.core_min_hours),
                            (round(design.core_rate * 1_000_000) * pay + 500_000) // 1_000_000, 0)
        name = design.plan_design_id
        rules += [
            (mine & (match > cap), f"{name}: match above max_match_percentage of plan compensation"),
            # recomputed in floats, which may land a half cent the other way of the engine's exact cents
            (mine & (np.abs(match - due) > 1), f"{name}: match differs from the tiers applied to the effective rate"),
            (mine & (core != core_due), f"{name}: core differs from core_rate x plan compensation (eligible actives"
                                        f"{' with core_min_hours' if design.core_min_hours else ''})"),
        ]
    ids = contributions["employee_id"]
    for broken, what in rules:
        rows = np.flatnonzero(broken)
        if len(rows):
            yield where, f"{len(rows)} row(s): {what}, e.g. {ids[int(rows[0])]}"
