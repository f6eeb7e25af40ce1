"""The cohort that goes into a year: from a census, or from the previous year's snapshot.

Two Arrow tables: ``cohort`` (the workforce, one row per active employee, the
same under every plan design) and ``plan_cohort`` (plan state, one row per plan
design and active employee). An employee with a known future termination (a census
termination date on or after the start) carries it as ``scheduled_termination_date``
from year to year until the year it falls in.

The state of a batch of paths (arrow_events.engine.paths) is every path's, path after path:
both tables then start with a ``path`` column. A state without one is a single path's.
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
from arrow_events.engine.paths import Batch
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

    def for_paths(self, count: int) -> CohortState:
        """This (one path's) state as the start of each of ``count`` paths, path after path."""
        def repeated(table: pa.Table) -> pa.Table:
            if "path" in table.column_names:
                table = table.drop_columns(["path"])
            n = table.num_rows
            if count > 1:
                table = table.take(pa.array(np.tile(np.arange(n), count)))
            return table.add_column(0, "path", pa.array(np.repeat(np.arange(count), n), pa.int64()))

        return CohortState(repeated(self.cohort), repeated(self.plan_cohort))

    def path_bounds(self, table: str = "cohort", count: int | None = None) -> np.ndarray:
        """Where each of ``count`` paths' rows of ``table`` start, and the end (default: up to the last path
        with rows; a state without paths is path 0's)."""
        rows = getattr(self, table)
        if "path" not in rows.column_names:
            return np.array([0, rows.num_rows])
        paths = rows["path"].to_numpy()
        count = count if count is not None else (int(paths[-1]) + 1 if len(paths) else 0)
        return np.searchsorted(paths, np.arange(count + 1))


def with_path_keys(state: CohortState, batch: Batch) -> CohortState:
    """``state`` with each member's path, its variant and its seed (the columns the SQL keys its rows and
    draws by); a state without paths is the batch's only path."""
    cohort = state.cohort
    if "path" not in cohort.column_names:
        if len(batch) != 1:
            raise ValueError(f"a state of one path given for a batch of {len(batch)}")
        cohort = cohort.add_column(0, "path", pa.array(np.zeros(cohort.num_rows, np.int64)))
    if "variant" in cohort.column_names:
        return CohortState(cohort, state.plan_cohort)
    path = cohort["path"].to_numpy()
    variant = np.asarray(batch.variant_of, np.int64)[path]
    seed = np.asarray(batch.seeds, np.int64)[path]
    cohort = cohort.add_column(1, "variant", pa.array(variant)).add_column(2, "seed", pa.array(seed))
    return CohortState(cohort, state.plan_cohort)


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
    active = _in_id_order(_active(census))  # shards are employee_id ranges
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


def _active(census: pa.Table) -> pa.Table:
    """The census's active rows: the census itself when they all are (a filter would copy every column)."""
    active = census["active"]
    return census if active.null_count == 0 and pc.all(active).as_py() else census.filter(active)


def _in_id_order(table: pa.Table) -> pa.Table:
    """``table`` sorted by employee_id (unique): itself when already in order, as a census usually is, so
    that the cohort shares the census's buffers instead of copying them (0.25 GB at 5M employees)."""
    ids = table["employee_id"].combine_chunks()
    if len(ids) < 2 or (not ids.null_count and pc.all(pc.less(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py()):
        return table
    return table.sort_by("employee_id")


def from_snapshot(snapshot: pa.Table, paths: np.ndarray | None = None) -> CohortState:
    """The actives of a year's snapshot (contract form) are the next year's cohort; with ``paths`` (each
    row's, ascending), of each path."""
    if paths is not None:
        snapshot = snapshot.add_column(0, "path", pa.array(paths, pa.int64()))
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
    if paths is not None:
        cohort = cohort.add_column(0, "path", workforce["path"])
        plan = plan.add_column(0, "path", active["path"])
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
