"""The cohort that goes into a year: from a census, or from the previous year's snapshot.

Two Arrow tables: ``cohort`` (the workforce, one row per active employee, the
same under every plan design) and ``plan_cohort`` (plan state, one row per plan
design and active employee). An employee with a known future termination (a census
termination date on or after the start) carries it as ``scheduled_termination_date``
from year to year until the year it falls in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.census.intake import CENSUS_SCHEMA, Census, read_census
from arrow_events.config import Config
from arrow_events.schema import money_to_cents

COHORT_SCHEMA = pa.schema(
    [
        ("employee_id", pa.string()),
        ("birth_date", pa.date32()),
        ("hire_date", pa.date32()),
        ("level_id", pa.int32()),
        ("compensation_cents", pa.int64()),
        ("auto_escalation_opt_out", pa.bool_()),
        ("eligibility_override", pa.bool_()),
        ("scheduled_termination_date", pa.date32()),
        # hours of service (docs/model.md §7); NULL: the standard week
        ("scheduled_hours_per_week", pa.float64()),
    ]
)
# a table with these columns is a census already read (Census.table); scheduled hours may be absent (older callers)
_NORMALIZED = set(CENSUS_SCHEMA.names) - {"scheduled_hours_per_week"}
PLAN_COHORT_SCHEMA = pa.schema(
    [
        ("plan_design_id", pa.string()),
        ("employee_id", pa.string()),
        ("deferral_rate", pa.float64()),
        ("enrollment_date", pa.date32()),
        ("opted_out", pa.bool_()),
    ]
)


@dataclass
class CohortState:
    """State at the end of a year: what the next year starts from."""

    cohort: pa.Table
    plan_cohort: pa.Table

    @property
    def headcount(self) -> int:
        return self.cohort.num_rows


def level_from_pay(cents: np.ndarray, cfg: Config) -> np.ndarray:
    """Half-open pay ranges: L1 < pay_min[2] <= L2 < pay_min[3] ... <= L5."""
    floors = np.round(np.asarray(cfg.levels.pay_min[1:]) * 100).astype(np.int64)
    return (np.searchsorted(floors, cents, side="right") + 1).astype(np.int32)


def from_census(census: Census | pa.Table | str | Path | Any, cfg: Config) -> CohortState:
    """The cohort at the end of the year before the first simulated year (``cfg``'s start year).

    ``census``: a ``Census`` (``read_census``), its rows (``Census.table``), or anything ``read_census``
    reads (a path, an Arrow table or stream in the census column format), read and checked here.
    The census keeps a row active when its termination date is on or after the start:
    that date is the employee's scheduled termination.
    """
    if isinstance(census, Census):
        census = read_census(census, cfg.scenario.start_year).table  # refused if checked for another start
    elif not (isinstance(census, pa.Table) and _NORMALIZED <= set(census.column_names)):
        census = read_census(census, cfg.scenario.start_year).table
    active = census.filter(census["active"]).sort_by("employee_id")  # shards are employee_id ranges
    cents = active["compensation_cents"].to_numpy()
    derived = level_from_pay(cents, cfg)
    given = active["level_id"].combine_chunks()
    level = pc.coalesce(given, pa.array(derived, pa.int32()))
    cohort = pa.table(
        [
            active["employee_id"], active["birth_date"], active["hire_date"], level,
            active["compensation_cents"], active["auto_escalation_opt_out"], active["eligibility_override"],
            active["termination_date"], _weekly_hours(active),
        ],
        schema=COHORT_SCHEMA,
    )
    # one plan row per member and design, member-major like the cohort (as a snapshot has them)
    designs = sorted(d.plan_design_id for d in cfg.plan_designs)
    n, d = active.num_rows, len(designs)

    def per_design(column: pa.ChunkedArray) -> pa.ChunkedArray:  # each member's value, once per design
        return column if d == 1 else column.take(pa.array(np.repeat(np.arange(n), d)))

    plan = pa.table(
        [
            pa.array(designs, pa.string()).take(pa.array(np.tile(np.arange(d), n))),
            per_design(active["employee_id"]),
            per_design(active["deferral_rate"]),
            pa.nulls(n * d, pa.date32()),
            pa.array(np.zeros(n * d, bool)),
        ],
        schema=PLAN_COHORT_SCHEMA,
    )
    return CohortState(cohort, plan)


def from_snapshot(snapshot: pa.Table) -> CohortState:
    """The actives of a year's snapshot (contract form) are the next year's cohort."""
    active = snapshot.filter(pc.equal(snapshot["status"], "active"))
    first_design = active["plan_design_id"][0] if active.num_rows else None
    workforce = active.filter(pc.equal(active["plan_design_id"], first_design)) if first_design else active
    cohort = pa.table(
        [
            workforce["employee_id"], workforce["birth_date"], workforce["hire_date"], workforce["level_id"],
            money_to_cents(workforce["compensation"]), workforce["auto_escalation_opt_out"],
            workforce["eligibility_override"], _scheduled(workforce), _weekly_hours(workforce),
        ],
        schema=COHORT_SCHEMA,
    )
    plan = active.select([f.name for f in PLAN_COHORT_SCHEMA]).cast(PLAN_COHORT_SCHEMA)
    return CohortState(cohort, plan)


def _scheduled(workforce: pa.Table) -> pa.ChunkedArray | pa.Array:
    """The still-future scheduled terminations; a snapshot written before they existed has none."""
    if "scheduled_termination_date" in workforce.column_names:
        return workforce["scheduled_termination_date"]
    return pa.nulls(workforce.num_rows, pa.date32())


def _weekly_hours(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Each employee's scheduled hours a week: a census's, or a snapshot's when its config requires hours of
    service (others do not carry them: NULL, the standard week)."""
    if "scheduled_hours_per_week" in table.column_names:
        return table["scheduled_hours_per_week"]
    return pa.nulls(table.num_rows, pa.float64())
