"""Config -> the small Arrow tables the SQL joins against.

Numbers reach the queries only through these tables and bound $parameters (what every path
and year of a batch shares: the first year, the table shapes), so every default of
docs/model.md is a config value and no SQL text is built from values. What may differ
between the paths of a batch (arrow_events.engine.paths) is rows: ``scenarios`` and the plan
design tables hold one row (set of rows) per variant, ``paths`` each path's variant and seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from arrow_events.config import STANDARD_WEEKLY_HOURS, Config, limits_for
from arrow_events.engine.paths import Batch
from arrow_events.udfs import employee_key


def _day(year: int, month_day: str) -> dt.date:
    return dt.date(year, *_month_day(month_day))


def _month_day(month_day: str) -> tuple[int, int]:
    m, d = (int(x) for x in month_day.split("-"))
    return m, d


def _every_year(name: str, month_day: str) -> dict[str, int]:
    """A config date of every year (``name``: "MM-DD") as the columns ``<name>_month`` and ``<name>_day``: the
    queries make it the year's (make_date with the calendar), so that the table holding it is filled once a run."""
    return dict(zip((f"{name}_month", f"{name}_day"), _month_day(month_day)))


_MONTH_DAY = pa.int32()  # the type of those columns


def _key(text: str) -> int:
    """The same 64-bit key the SQL's employee_key gives a string."""
    return employee_key(pa.array([text])).to_pylist()[0]


def _upper_bounds(lower: list[int]) -> list[int | None]:
    return [*lower[1:], None]


def shared_params(cfg: Config) -> dict[str, pa.Scalar]:
    """What every path and year of a batch shares, bound to the queries' $parameters: the first year,
    the shapes of the level and band tables. (What changes from year to year is a row of ``calendar``,
    so that a run plans its queries once: arrow_events.engine.session.)"""
    values = {
        "first_year_start": (dt.date(cfg.scenario.start_year, 1, 1), pa.date32()),
        "standard_weekly_hours": (STANDARD_WEEKLY_HOURS, pa.float64()),
        "max_level": (len(cfg.levels.pay_min), pa.int64()),
        "band_top": (BAND_TOP, pa.int64()),
        # where the last band starts: every later year falls in it
        "age_band_top": (max(cfg.age_bands.lower), pa.int64()),
        "tenure_band_top": (max(cfg.tenure_bands.lower), pa.int64()),
        "merit_cell_count": (merit_cell_count(cfg), pa.int64()),
        "hire_age_cell_count": (HIRE_AGE_CELLS, pa.int64()),
    }
    return {k: pa.scalar(v, t) for k, (v, t) in values.items()}


def calendar_table(cfg: Config, year: int) -> pa.Table:
    """The year's one row of calendar values the queries read (``CROSS JOIN calendar AS cal``): its
    number, first and last day, length, the first day of the year before, and the year's IRS limits."""
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    limits = limits_for(cfg.limits, year)
    values = {
        "sim_year": (year, pa.int64()),
        "year_start": (jan1, pa.date32()),
        "year_end": (dec31, pa.date32()),
        "days_in_year": ((dec31 - jan1).days + 1, pa.int64()),
        "prior_year_start": (dt.date(year - 1, 1, 1), pa.date32()),
        **{f"{name}_limit_cents": (getattr(limits, name), pa.int64())
           for name in ("deferral", "catch_up", "catch_up_60_63", "compensation")},
    }
    return pa.table({k: pa.array([v], t) for k, (v, t) in values.items()})


SCENARIO_TYPES = {
    "variant": pa.int64(),
    "scenario_id": pa.string(),
    "scenario_key": pa.int64(),
    "growth": pa.float64(),
    "termination_rate": pa.float64(),
    "new_hire_termination_rate": pa.float64(),
    "cola": pa.float64(),
    # dates of every year, as month and day (_every_year): path_year makes them the year's
    "promotion_month": _MONTH_DAY,
    "promotion_day": _MONTH_DAY,
    "promotion_base_rate": pa.float64(),
    "promotion_raise": pa.float64(),
    "promotion_raise_spread": pa.float64(),
    "promotion_raise_cap": pa.float64(),
    "promotion_max_age": pa.int64(),
    "merit_month": _MONTH_DAY,
    "merit_day": _MONTH_DAY,
    "hire_pay_spread": pa.float64(),
}


def scenarios_table(batch: Batch) -> pa.Table:
    """One row per variant of the batch: its [scenario] values (the dates as month and day: the same every
    year, so that the table, and hazards made from it, are filled once a run)."""
    rows = []
    for v, cfg in enumerate(batch.variants):
        s = cfg.scenario
        row = {name: getattr(s, name, None) for name in SCENARIO_TYPES}
        row.update(variant=v, scenario_key=_key(s.scenario_id), **_every_year("promotion", s.promotion_date),
                   **_every_year("merit", s.merit_date))
        rows.append(row)
    return pa.table({k: pa.array([r[k] for r in rows], t) for k, t in SCENARIO_TYPES.items()})


def paths_table(batch: Batch) -> pa.Table:
    """One row per path: its variant and seed."""
    return pa.table({"path": pa.array(range(len(batch)), pa.int64()),
                     "variant": pa.array(batch.variant_of, pa.int64()),
                     "seed": pa.array(batch.seeds, pa.int64())})


def design_ids(cfg: Config | Batch) -> list[str]:
    """The plan designs' ids in plan_design_id order, the order of an employee's rows in the output."""
    cfg = cfg.base if isinstance(cfg, Batch) else cfg
    return sorted(d.plan_design_id for d in cfg.plan_designs)


def plan_designs_table(cfg: Config) -> pa.Table:
    """One row per plan design: its parameters; the dates of every year as month and day (plan_members makes
    them the year's), so that the table is filled once a run."""
    first = cfg.scenario.start_year
    cols: dict[str, list] = {}
    for d in cfg.plan_designs:
        row = {
            "plan_design_id": d.plan_design_id,
            "plan_design_key": _key(d.plan_design_id),
            # the design's place in plan_design_id order, which the output follows within an employee
            "design_rank": design_ids(cfg).index(d.plan_design_id),
            "min_age": d.min_age,
            "waiting_days": d.waiting_days,
            "auto_enroll": d.auto_enroll,
            "auto_enroll_all": d.auto_enroll_scope == "all",
            "auto_enroll_rate": d.auto_enroll_rate,
            "auto_enroll_window_days": d.auto_enroll_window_days,
            "auto_enroll_first_date": _day(first, d.auto_enroll_first_date),
            "opt_out_window_days": d.opt_out_window_days,
            "opt_out_rate": d.opt_out_rate,
            "match_ceiling": d.match_ceiling,
            "deferral_change_rate": d.deferral_change_rate,
            **_every_year("deferral_change", d.deferral_change_date),
            "auto_escalation": d.auto_escalation,
            "escalation_step": d.escalation_step,
            "escalation_cap": d.escalation_cap,
            **_every_year("escalation", d.escalation_date),
        }
        for k, v in row.items():
            cols.setdefault(k, []).append(v)
    types = {
        "plan_design_id": pa.string(),
        "plan_design_key": pa.int64(),
        "design_rank": pa.int64(),
        "min_age": pa.int32(),
        "waiting_days": pa.int32(),
        "auto_enroll_window_days": pa.int32(),
        "opt_out_window_days": pa.int32(),
        "auto_enroll_first_date": pa.date32(),
        **{f"{name}_{part}": _MONTH_DAY for name in ("deferral_change", "escalation") for part in ("month", "day")},
    }
    return pa.table({k: pa.array(v, types.get(k)) for k, v in cols.items()})


def plan_contributions_table(cfg: Config) -> pa.Table:
    """Per plan design (by design_rank): the employer's match formula and core rate. The match
    tiers are lists, one element per tier, so a member's match is found without a join per tier."""
    designs = sorted(cfg.plan_designs, key=lambda d: d.plan_design_id)
    tiers = pa.list_(pa.float64())
    return pa.table({
        "design_rank": pa.array(range(len(designs)), pa.int64()),
        "match_tier_min": pa.array([[t.employee_min for t in d.match_tiers] for d in designs], tiers),
        "match_tier_max": pa.array([[t.employee_max for t in d.match_tiers] for d in designs], tiers),
        "match_tier_rate": pa.array([[t.match_rate for t in d.match_tiers] for d in designs], tiers),
        "max_match_percentage": pa.array([d.max_match_percentage for d in designs], pa.float64()),
        "match_requires_active_at_year_end": pa.array([d.match_requires_active_at_year_end for d in designs]),
        # in millionths, so that rate x cents is an exact integer
        "core_rate_micro": pa.array([round(d.core_rate * 1_000_000) for d in designs], pa.int64()),
        # hours of service the match and the core require (0: none)
        "match_min_hours": pa.array([d.match_min_hours for d in designs], pa.float64()),
        "core_min_hours": pa.array([d.core_min_hours for d in designs], pa.float64()),
    })


def levels_table(cfg: Config) -> pa.Table:
    lv = cfg.levels
    n = len(lv.pay_min)
    return pa.table(
        {
            "level_id": pa.array(range(1, n + 1), pa.int32()),
            "pay_min": pa.array(lv.pay_min, pa.float64()),
            "pay_max": pa.array(lv.pay_max, pa.float64()),
            "hire_pay_position": pa.array(lv.hire_pay_position, pa.float64()),
            "merit_rate": pa.array(lv.merit_rate, pa.float64()),
            "termination_mult": pa.array(lv.termination_mult, pa.float64()),
            "promotion_mult": pa.array(lv.promotion_mult, pa.float64()),
        }
    )


def _band_labels(lower: list[int]) -> list[str]:
    labels = []
    for lo, hi in zip(lower, _upper_bounds(lower)):
        if hi is None:
            labels.append(f"{lo}+")
        elif lo == 0:
            labels.append(f"<{hi}")
        else:
            labels.append(f"{lo}-{hi - 1}")
    return labels


# Band tables hold one row per whole year 0..BAND_TOP, so the SQL looks a band up with an
# equi-join on least(years, BAND_TOP) instead of a range join (far slower in DataFusion).
BAND_TOP = 200


def _bands_table(lower: list[int], **columns: list[float]) -> pa.Table:
    labels = _band_labels(lower)
    which = np.searchsorted(np.asarray(lower), np.arange(BAND_TOP + 1), side="right") - 1
    data = {
        "years": pa.array(np.arange(BAND_TOP + 1), pa.int64()),
        "band": pa.array([labels[i] for i in which], pa.string()),
    }
    data.update({k: pa.array(np.asarray(v, dtype=float)[which], pa.float64()) for k, v in columns.items()})
    return pa.table(data)


def tenure_bands_table(cfg: Config) -> pa.Table:
    tb = cfg.tenure_bands
    return _bands_table(tb.lower, termination_mult=tb.termination_mult, promotion_mult=tb.promotion_mult)


def age_bands_table(cfg: Config) -> pa.Table:
    ab = cfg.age_bands
    return _bands_table(ab.lower, termination_mult=ab.termination_mult, promotion_mult=ab.promotion_mult)


def design_ages_table(cfg: Config) -> pa.Table:
    """Per plan design (by design_rank) and whole year of age: the voluntary enrollment rates and
    the opt-out multiplier of the age groups the design defines."""
    parts = []
    for d in cfg.plan_designs:
        voluntary = _bands_table(d.voluntary_age_lower, voluntary_first_year_rate=d.voluntary_first_year_rate,
                                 voluntary_later_rate=d.voluntary_later_rate,
                                 voluntary_deferral_rate=d.voluntary_deferral_rate)
        opt_out = _bands_table(d.opt_out_age_lower, opt_out_mult=d.opt_out_age_mult)
        rank = pa.array(np.full(voluntary.num_rows, design_ids(cfg).index(d.plan_design_id)), pa.int64())
        parts.append(voluntary.drop_columns(["band"]).append_column("opt_out_mult", opt_out["opt_out_mult"])
                     .append_column("design_rank", rank))
    return pa.concat_tables(parts)


def _cumulative(weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi) slices of [0, 1) proportional to weights; the last hi is exactly 1."""
    w = np.asarray(weights, dtype=float)
    hi = np.cumsum(w) / w.sum()
    hi[-1] = 1.0
    lo = np.concatenate([[0.0], hi[:-1]])
    return lo, hi


HIRE_AGE_CELLS = 1000


def hire_age_cells_table(cfg: Config) -> pa.Table:
    """The hire ages by cell of u_hire_age (cell c holds the draws u with floor(u * HIRE_AGE_CELLS) = c):
    each age, with its slice [u_lo, u_hi) of [0, 1), in every cell the slice reaches. hire.sql finds a
    draw's few candidate ages by an equi-join on its cell and keeps the one whose slice holds it, where a
    range join compares every draw with every age (DataFusion's nested loop join: 25x slower here).
    Exact for any weights: floor(u * count) is monotonic in u, so a draw's cell lies between its slice's
    first and last cells."""
    lo, hi = _cumulative(cfg.hire_ages.weights)
    used = np.flatnonzero(hi > lo)  # an age of weight 0 is never drawn
    first = np.floor(lo[used] * HIRE_AGE_CELLS).astype(np.int64)
    last = np.floor(hi[used] * HIRE_AGE_CELLS).astype(np.int64)
    age = np.repeat(used, last - first + 1)
    cell = np.concatenate([np.arange(f, e + 1) for f, e in zip(first, last)])
    return pa.table({"cell": pa.array(cell, pa.int64()),
                     "age": pa.array(np.asarray(cfg.hire_ages.ages)[age], pa.int32()),
                     "u_lo": lo[age], "u_hi": hi[age]})


def merit_cell_count(cfg: Config) -> int:
    """Cells of [0, 1) for the merit performance lookup: enough that no cell holds two tier boundaries."""
    count = 1000
    while len({int(b * count) for b in cfg.merit_performance.upper[:-1]}) < len(cfg.merit_performance.upper) - 1:
        count *= 10  # config validation keeps boundaries 1e-6 apart, so this stops by 10**6
    return count


def merit_cells_table(cfg: Config) -> pa.Table:
    """The merit performance tiers by cell of u_merit: cell c holds the draws u with floor(u * count) = c.

    A draw in a cell without a tier boundary has the cell's tier (multiplier); in a cell with one,
    the tier below it (multiplier_below) when u < boundary. Exact: floor(u * count) is monotonic in u,
    so a boundary's cell separates the draws below it from those above.
    """
    mp = cfg.merit_performance
    count = merit_cell_count(cfg)
    boundaries = np.asarray(mp.upper[:-1], dtype=float)
    multipliers = np.asarray(mp.multiplier, dtype=float)
    cells = np.arange(count + 1)  # and one past the end, for safety: u < 1 always
    boundary_cell = np.floor(boundaries * count).astype(np.int64)
    tier_below = np.searchsorted(boundary_cell, cells, side="left")  # boundaries in earlier cells
    holds = np.isin(cells, boundary_cell)
    boundary = np.full(len(cells), np.nan)
    boundary[boundary_cell] = boundaries
    return pa.table({
        "cell": pa.array(cells, pa.int64()),
        "boundary": pa.array(boundary, mask=~holds),
        "multiplier_below": multipliers[tier_below],
        "multiplier": multipliers[tier_below + holds],
    })


def per_variant(batch: Batch, table: Callable[[Config], pa.Table]) -> pa.Table:
    """``table`` of each variant's config, one after another, each row with its ``variant``."""
    parts = [table(cfg) for cfg in batch.variants]
    parts = [t.add_column(0, "variant", pa.array(np.full(t.num_rows, v), pa.int64())) for v, t in enumerate(parts)]
    return pa.concat_tables(parts)


def static_tables(batch: Batch | Config) -> dict[str, pa.Table]:
    """Parameter tables that do not change from year to year."""
    batch = Batch.of(batch) if isinstance(batch, Config) else batch
    cfg = batch.base  # what the batch shares
    return {
        "levels": levels_table(cfg),
        "tenure_bands": tenure_bands_table(cfg),
        "age_bands": age_bands_table(cfg),
        "design_ages": per_variant(batch, design_ages_table),
        "hire_age_cells": hire_age_cells_table(cfg),
        "merit_cells": merit_cells_table(cfg),
        "plan_contributions": per_variant(batch, plan_contributions_table),
        "paths": paths_table(batch),
        "scenarios": scenarios_table(batch),
        "plan_designs": per_variant(batch, plan_designs_table),
    }


def year_tables(batch: Batch | Config, year: int) -> dict[str, pa.Table]:
    """Parameter tables that change from year to year: the year's one row of calendar."""
    batch = Batch.of(batch) if isinstance(batch, Config) else batch
    return {"calendar": calendar_table(batch.base, year)}
