"""Cutting a year into shards: employee_id ranges over the Jan-1 cohort merged with the year's hires.

The cohort is kept in employee_id order (``state``), with each member's plan rows (one
per plan design) beside it in the same order; the hires come sorted from the global
step. A shard is a contiguous run of the merged order, so shards processed one after
another emit the year in employee_id order, whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.state import CohortState


@dataclass
class Shard:
    cohort: pa.Table
    plan_cohort: pa.Table
    hires: pa.Table
    number: int = 1  # 1-based, of ``of``
    of: int = 1


def cut(state: CohortState, hires: pa.Table, rows: int) -> Iterator[Shard]:
    """Shards of about ``rows`` members (cohort and hires) each, in employee_id order."""
    cohort, plan = state.cohort, state.plan_cohort
    n, h = cohort.num_rows, hires.num_rows
    if n + h <= rows:
        yield Shard(cohort, plan, hires)
        return
    count = -(-(n + h) // rows)
    per_member = _plan_rows_per_member(cohort, plan)
    merged = pa.concat_arrays([t["employee_id"].combine_chunks().cast(pa.string()) for t in (cohort, hires)])
    from_hires = pc.sort_indices(merged).to_numpy() >= n
    hires_before = np.concatenate([[0], np.cumsum(from_hires)])
    for start in range(0, n + h, rows):
        end = min(start + rows, n + h)
        h0, h1 = int(hires_before[start]), int(hires_before[end])
        c0, c1 = start - h0, end - h1
        if per_member:
            plan_rows = plan.slice(c0 * per_member, (c1 - c0) * per_member)
        else:
            plan_rows = plan.filter(pc.is_in(plan["employee_id"], cohort["employee_id"].slice(c0, c1 - c0)))
        yield Shard(cohort.slice(c0, c1 - c0), plan_rows, hires.slice(h0, h1 - h0), start // rows + 1, count)


def _plan_rows_per_member(cohort: pa.Table, plan: pa.Table) -> int:
    """D when the plan rows are D per member in the cohort's order (slices then line up), else 0."""
    n = cohort.num_rows
    if not n or plan.num_rows % n:
        return 0
    d = plan.num_rows // n
    ids = plan["employee_id"].combine_chunks()
    for k in range(d):
        every_dth = ids.take(pa.array(np.arange(k, plan.num_rows, d)))
        if not pc.all(pc.equal(every_dth, cohort["employee_id"].combine_chunks())).as_py():
            return 0
    return d
