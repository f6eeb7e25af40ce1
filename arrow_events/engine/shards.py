"""Cutting a year into shards: (path, employee_id) ranges over the Jan-1 cohort merged with the year's hires.

The cohort is kept in (path, employee_id) order (``state``), with each member's plan rows (one
per plan design) beside it in the same order; the hires come sorted from the global
step. A shard is a contiguous run of the merged order, so shards processed one after
another emit the year path after path, each in employee_id order, whatever their number.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.engine.paths import Batch
from arrow_events.engine.state import CohortState, with_path_keys


@dataclass
class Shard:
    cohort: pa.Table  # with member_ix and each member's plan state (plan_* lists, one element per design)
    hires: pa.Table  # with member_ix
    number: int = 1  # 1-based, of ``of``
    of: int = 1


def numbered(members: pa.Table, places: np.ndarray | None = None) -> pa.Table:
    """``members`` with member_ix, each one's place in the shard (default: the order given)."""
    ix = np.arange(members.num_rows) if places is None else places
    return members.append_column("member_ix", pa.array(ix, pa.int64()))


def cut(state: CohortState, hires: pa.Table, rows: int, designs: list[str],
        batch: Batch | None = None, hire_weight: int = 1) -> Iterator[Shard]:
    """Shards of about ``rows`` members (cohort and hires, a hire counting ``hire_weight`` times) each, in
    employee_id order.

    Each member carries member_ix, its place in the shard; each of the cohort its plan state at
    Jan 1 under every design as lists in ``designs`` order (plan_deferral_rates,
    plan_enrollment_dates, plan_opted_out), so a plan row is found without a join. With ``batch``,
    each shard's cohort gets its path keys (``with_path_keys``) as it is cut, so that they are never
    held for the whole cohort.
    """
    cohort, members_of = state.cohort, _plan_state_of(state, designs)
    n, h = cohort.num_rows, hires.num_rows
    places = _places_by_path(cohort, hires)
    # each hire's place in the merged employee_id order: it follows `places` cohort members (a cohort
    # member's is found per shard: an array of them all would be held through every shard)
    hire_at = places + np.arange(h)
    bounds = _bounds(n, hire_at, rows, hire_weight)
    count = len(bounds) - 1
    for number, (start, end) in enumerate(zip(bounds[:-1], bounds[1:]), 1):
        h0, h1 = (int(i) for i in np.searchsorted(hire_at, [start, end]))
        c0, c1 = start - h0, end - h1  # the merged places before start hold h0 hires, the rest are the cohort's
        cohort_ix = np.arange(c0, c1)
        cohort_at = cohort_ix + np.searchsorted(places, cohort_ix, side="right")
        members = members_of(c0, c1)
        if batch is not None:
            members = with_path_keys(CohortState(members, state.plan_cohort), batch).cohort
        # ``hires`` keeps only the rows not yet cut, so the chunks of those already run are freed
        # (otherwise every hire, 0.17 GB at 5M employees, is held until the last shard; they come last)
        taken, hires = hires.slice(0, h1 - h0), hires.slice(h1 - h0)
        yield Shard(numbered(members, cohort_at - start), numbered(taken, hire_at[h0:h1] - start),
                    number, count)


def _bounds(n: int, hire_at: np.ndarray, rows: int, hire_weight: int) -> list[int]:
    """Where each shard starts in the merged order of ``n`` cohort members and the hires (at ``hire_at``),
    and the end: ``rows`` members a shard, a hire counting ``hire_weight`` times."""
    total = n + len(hire_at)
    if not total:
        return [0, 0]

    def cost(place: int) -> int:  # the members before ``place``
        return place + (hire_weight - 1) * int(np.searchsorted(hire_at, place))

    starts = {bisect_left(range(total), at, key=cost) for at in range(0, cost(total), rows)}
    return sorted(s for s in starts if s < total) + [total]


def _places_by_path(cohort: pa.Table, hires: pa.Table) -> np.ndarray:
    """For each hire, how many of the cohort come before it in (path, employee_id) order."""
    if "path" not in hires.column_names or "path" not in cohort.column_names or not hires.num_rows:
        return _hire_places(_ids(cohort), _ids(hires))
    cohort_paths, hire_paths = cohort["path"].to_numpy(), hires["path"].to_numpy()
    places = np.empty(hires.num_rows, np.int64)
    cohort_ids, hire_ids = _ids(cohort), _ids(hires)
    for path in np.unique(hire_paths):
        c0, c1 = np.searchsorted(cohort_paths, [path, path + 1])
        h0, h1 = np.searchsorted(hire_paths, [path, path + 1])
        places[h0:h1] = c0 + _hire_places(cohort_ids[c0:c1], hire_ids[h0:h1])
    return places


def _plan_state_of(state: CohortState, designs: list[str]) -> Callable[[int, int], pa.Table]:
    """The cohort's members ``c0:c1`` with their plan state (``with_plan_state``). When the plan rows line up
    with the members (as a census or a snapshot gives them), each shard's lists are made from its own slice
    when it is cut: made for the whole cohort at once, they would be held through every shard (0.1 GB at 5M)."""
    cohort, plan, d = state.cohort, state.plan_cohort, len(designs)
    if _aligned(cohort, plan, designs):
        return lambda c0, c1: _with_plan_lists(cohort.slice(c0, c1 - c0), plan.slice(c0 * d, (c1 - c0) * d), d)
    whole = with_plan_state(state, designs)
    return lambda c0, c1: whole.slice(c0, c1 - c0)


def with_plan_state(state: CohortState, designs: list[str]) -> pa.Table:
    """The cohort with its plan rows as lists, one element per design in ``designs`` (NULL: no row)."""
    cohort, plan = state.cohort, state.plan_cohort
    if "path" in cohort.column_names and not _aligned(cohort, plan, designs):
        count = int(pc.max(cohort["path"]).as_py() or 0) + 1
        bounds, plan_bounds = state.path_bounds(count=count), state.path_bounds("plan_cohort", count)
        if len(bounds) > 2:  # employee ids repeat across paths: line up each path's plan rows on its own
            return pa.concat_tables(with_plan_state(CohortState(cohort.slice(a, b - a), plan.slice(c, d - c)), designs)
                                    for a, b, c, d in zip(bounds[:-1], bounds[1:], plan_bounds[:-1], plan_bounds[1:]))
    n, d = cohort.num_rows, len(designs)
    into = None  # which plan row fills each member's slot for each design; None: they line up already
    if not _aligned(cohort, plan, designs):  # the designs changed since the plan rows were written
        member = pc.index_in(plan["employee_id"], _ids(cohort))
        if member.null_count:
            raise ValueError("plan_cohort has rows for employees not in the cohort")
        design = pc.index_in(plan["plan_design_id"], pa.array(designs, pa.string()))
        known = pc.is_valid(design).to_numpy(zero_copy_only=False)  # rows of designs no longer configured drop
        slot = member.to_numpy()[known].astype(np.int64) * d + design.to_numpy(zero_copy_only=False)[known].astype(
            np.int64)
        into = np.full(n * d, -1, np.int64)
        into[slot] = np.flatnonzero(known)
    return _with_plan_lists(cohort, plan, d, into)


def _with_plan_lists(cohort: pa.Table, plan: pa.Table, d: int, into: np.ndarray | None = None) -> pa.Table:
    """The cohort with its plan rows as lists of ``d`` elements: the plan rows in order, or those ``into``
    places (-1: none) in each member's slot for each design."""
    n = cohort.num_rows
    offsets = pa.array(np.arange(0, n * d + 1, d, dtype=np.int32))
    for name, column in (("plan_deferral_rates", "deferral_rate"), ("plan_enrollment_dates", "enrollment_date"),
                         ("plan_opted_out", "opted_out")):
        values = plan[column].combine_chunks()
        if into is not None:
            values = values.take(pa.array(into, mask=into < 0))
        cohort = cohort.append_column(name, pa.ListArray.from_arrays(offsets, values))
    return cohort


def _aligned(cohort: pa.Table, plan: pa.Table, designs: list[str]) -> bool:
    """Whether the plan rows are the members' in order, each member with every design in order."""
    n, d = cohort.num_rows, len(designs)
    if plan.num_rows != n * d:
        return False
    design = pc.index_in(plan["plan_design_id"], pa.array(designs, pa.string()))
    if design.null_count or not (design.to_numpy() == np.tile(np.arange(d), n)).all():
        return False
    ids = _ids(cohort)
    return _ids(plan).equals(ids if d == 1 else ids.take(pa.array(np.repeat(np.arange(n), d))))


def _ids(table: pa.Table) -> pa.Array:
    return table["employee_id"].combine_chunks().cast(pa.string())


def _hire_places(cohort_ids: pa.Array, hire_ids: pa.Array) -> np.ndarray:
    """For each hire (in employee_id order), how many of the cohort (in order) sort before it."""
    if not len(hire_ids):
        return np.zeros(0, np.int64)
    first, last = hire_ids[0], hire_ids[-1]
    between = pc.sum(pc.and_(pc.greater(cohort_ids, first), pc.less(cohort_ids, last))).as_py()
    if not between:  # the usual case: the year's ids (NH_<year>_...) sort as one block
        return np.full(len(hire_ids), pc.sum(pc.less(cohort_ids, first)).as_py() or 0, np.int64)
    merged = pc.sort_indices(pa.concat_arrays([cohort_ids, hire_ids])).to_numpy()
    rank = np.empty(len(merged), np.int64)
    rank[merged] = np.arange(len(merged))
    return rank[len(cohort_ids):] - np.arange(len(hire_ids))
