"""A batch of paths simulated together: what a sweep runs.

Every path of the batch starts from the same census; each year is one global step and one
chain of shards over every path's members at once (arrow_events.engine.paths), so the fixed
cost of planning a year is paid once per batch-year. Each year's snapshot and contributions are
measured (``warehouse.report.metrics_of``, path by path) and its actives become the next year's
cohort. Events are emitted only for the paths kept, whose warehouses are written by the single
writer (``simulation.PathWriter``) byte for byte as ``arrow-events run`` writes that path alone;
a path's metrics are those ``arrow-events report`` gives of that warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa

from arrow_events.census.intake import Census
from arrow_events.config import Config
from arrow_events.engine.paths import Batch
from arrow_events.engine.state import CohortState, from_census
from arrow_events.engine.year import Session, YearTables, joined, next_state
from arrow_events.execute.shards import executor_session, year_shards
from arrow_events.options import DEFAULT_OPTIONS, RunOptions
from arrow_events.simulation import PathWriter, builtin_census, new_warehouse
from arrow_events.warehouse.report import metrics_of


def simulate_paths(configs: Sequence[Config], years: Sequence[int], census: Census | None = None,
                   options: RunOptions = DEFAULT_OPTIONS, keep: Mapping[int, Path] | None = None,
                   progress: Callable[[int], None] | None = None) -> pa.Table:
    """The yearly metrics (``yearly_metrics``' columns, a ``path`` column first: the config's index) of each of
    ``configs`` (a path each, its seed in [scenario].seed) over ``years``, from ``census`` (default: the
    built-in one). ``keep``: paths (by index) whose warehouse is written, and where (a new directory each).
    ``progress`` is called with each year as it is done."""
    batch = Batch.of(configs)
    keep = dict(keep or {})
    state = from_census(census or builtin_census(batch.base), batch.base).for_paths(len(batch))
    measured = []
    with ExitStack() as stack:
        stack.enter_context(executor_session(options))
        writers = {p: stack.enter_context(new_warehouse(configs[p], out, list(years), options, census))
                   for p, out in keep.items()}
        session = Session.of(options)
        for year in years:
            state, metrics = _year(batch, year, state, options, writers, session)
            measured.append(metrics)
            if progress:
                progress(year)
    return pa.concat_tables(measured).sort_by([("path", "ascending"), ("simulation_year", "ascending"),
                                               ("plan_design_id", "ascending")])


def _year(batch: Batch, year: int, state: CohortState, options: RunOptions,
          writers: Mapping[int, PathWriter], session: Session | None = None) -> tuple[CohortState, pa.Table]:
    """One year of every path: its metrics, and the cohort the next year starts from; the kept paths' tables
    written as each shard comes."""
    shards: list[YearTables] = []
    with ExitStack() as stack:
        writes = {p: stack.enter_context(w.year(year)) for p, w in writers.items()}
        for shard in year_shards(batch, year, state, options, events_of=writes.keys(), session=session):
            for p, write in writes.items():
                write(shard.of_path(p))
            shards.append(shard)
    del state
    whole = joined(shards)
    del shards
    assert whole.paths is not None
    metrics = metrics_of([(year, whole.snapshot, whole.contributions)], [whole.paths["snapshot"]])
    return next_state(whole), metrics
