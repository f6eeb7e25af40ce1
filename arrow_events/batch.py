"""A batch of paths simulated together and measured: what a sweep runs.

Every path of the batch starts from the same census; each year is one global step and one
chain of shards over every path's members at once (arrow_events.engine.paths), so the fixed
cost of planning a year is paid once per batch-year. Nothing is written: a year's snapshot and
contributions are measured (``warehouse.report.metrics_of``, path by path) and its actives become
the next year's cohort, and no event is emitted. A path's metrics are those ``arrow-events
report`` gives of the warehouse ``arrow-events run`` writes of that path alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.census.intake import Census
from arrow_events.config import Config
from arrow_events.engine.paths import Batch
from arrow_events.engine.state import CohortState, from_census, from_snapshot
from arrow_events.engine.year import joined
from arrow_events.execute.shards import year_shards
from arrow_events.options import DEFAULT_OPTIONS, RunOptions
from arrow_events.warehouse.report import metrics_of


def measure_paths(configs: Sequence[Config], years: Sequence[int], census: Census | pa.Table,
                  options: RunOptions = DEFAULT_OPTIONS,
                  progress: Callable[[int], None] | None = None) -> pa.Table:
    """The yearly metrics (``yearly_metrics``' columns, a ``path`` column first: the config's index) of each of
    ``configs`` (a path each, its seed in [scenario].seed) over ``years``, from ``census`` (a Census or its
    checked rows). ``progress`` is called with each year as it is done."""
    batch = Batch.of(configs)
    state = from_census(census, batch.base).for_paths(len(batch))
    measured = []
    for year in years:
        state, metrics = _year(batch, year, state, options)
        measured.append(metrics)
        if progress:
            progress(year)
    return pa.concat_tables(measured).sort_by([("path", "ascending"), ("simulation_year", "ascending"),
                                               ("plan_design_id", "ascending")])


def _year(batch: Batch, year: int, state: CohortState, options: RunOptions) -> tuple[CohortState, pa.Table]:
    """One year of every path: its metrics, and the cohort the next year starts from."""
    shards = list(year_shards(batch, year, state, options, events_of=()))
    del state
    whole = joined(shards)
    del shards
    assert whole.paths is not None
    paths = whole.paths["snapshot"]
    metrics = metrics_of([(year, whole.snapshot, whole.contributions)], [paths])
    active = pc.equal(whole.snapshot["status"], "active")
    return from_snapshot(whole.snapshot.filter(active), paths[active.to_numpy(zero_copy_only=False)]), metrics
