"""A year's shards on the executor the options name: the global step here, then the shards here
(``local``) or as Ray tasks (``ray``), yielded in shard order either way, so the single writer
writes the same bytes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from arrow_events.config import Config
from arrow_events.engine.paths import Batch
from arrow_events.engine.state import CohortState
from arrow_events.engine.year import Session, YearTables, global_step_of, local_shards
from arrow_events.options import DEFAULT_OPTIONS, RunOptions


def year_shards(paths: Config | Batch, year: int, state: CohortState, options: RunOptions = DEFAULT_OPTIONS, *,
                events_of: Iterable[int] | None = None, session: Session | None = None) -> Iterator[YearTables]:
    """One year from ``state`` (the cohort at t-1): its shards' tables, in employee_id order. Of a config,
    that path's tables; of a Batch, every path's (``YearTables.of_path``), events only for ``events_of``.
    ``session``: what the run's years share (``Session.of(options)``: each statement planned once)."""
    batch = paths if isinstance(paths, Batch) else Batch.of(paths)
    with global_step_of(batch, year, state, options, events_of=events_of, session=session) as step:
        if options.executor == "ray":
            from arrow_events.execute.ray_tasks import remote_shards  # Ray is imported only when asked for

            step.release()  # the tasks build contexts of their own: this one need not outlive the global step
            shards = remote_shards(batch, year, step.reduced, step.shards, options, step.events_of)
        else:
            shards = local_shards(step)
        for shard in shards:
            yield shard if isinstance(paths, Batch) else shard.of_path(0)


@contextmanager
def executor_session(options: RunOptions) -> Iterator[None]:
    """What a run's executor keeps up across its years: for the ray executor, one Ray session (else each
    year would start its own). A missing Ray, or a cluster not found, is refused on entering."""
    if options.executor != "ray":
        yield
        return
    from arrow_events.execute.ray_tasks import ray_session

    with ray_session(options.ray_address):
        yield
