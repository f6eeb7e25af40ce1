"""The ray executor: a year's shards as Ray tasks, each in a DataFusion context of its own.

The global step runs on the driver (``execute.shards.year_shards``); each shard then goes to a task
running ``engine.year.shard_tables``, the per-shard work the local executor does too, from the
batch of paths, the year, what the global step reduced (each path's row of path_year and counts)
and the shard's cohort and hires. The
tasks' ``YearTables`` come back through Ray's object store and are yielded in shard order,
so the single writer on the driver writes the same bytes as with the local executor.

Ray is imported only here, and only when the ray executor is asked for: it is an optional
dependency (``pip install 'arrow-events[ray]'``).
"""

from __future__ import annotations

import logging
import re
import socket
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from arrow_events.engine.paths import Batch
from arrow_events.engine.shards import Shard
from arrow_events.engine.year import Reduced, YearTables, shard_tables
from arrow_events.errors import ResourceLimitError, UserError, first_line, os_reason
from arrow_events.options import OptionError, RunOptions

MISSING_RAY = "executor=ray needs Ray: pip install 'arrow-events[ray]'"
# Shards submitted ahead of the one being written, per CPU of the cluster: enough to keep every
# worker busy while the driver writes, few enough that the shards waiting bound the memory.
IN_FLIGHT_PER_CPU = 2


def import_ray() -> ModuleType:
    """The ray module, or the command line's one-line error when it is not installed."""
    try:
        import ray
    except ImportError:
        raise UserError(MISSING_RAY) from None
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the length of a run: the session this process already has, else one started here
    (``address`` None: a local Ray of ``num_cpus`` CPUs, default all) or joined (``"auto"``,
    ``"ray://host:10001"``) and shut down at the end. A session found open is left open."""
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    if address:
        _answers(address)
    # "local" starts a Ray of this process's own even where RAY_ADDRESS names a cluster
    options: dict[str, Any] = {"address": address or "local"}
    if num_cpus is not None:
        options["num_cpus"] = num_cpus
    try:
        # quiet: the command line's output is its own, and a worker's errors come back with its task
        ray.init(**options, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    except ConnectionError as e:
        raise OptionError("ray_address", f"{address}: {first_line(e)}; a cluster with token "
                          "authentication also needs RAY_AUTH_MODE=token here") from None
    try:
        yield
    finally:
        ray.shutdown()


def _answers(address: str) -> None:
    """Refuse a HOST:PORT nothing listens on in seconds, where Ray would retry for a minute or more
    ("auto" and the like Ray looks up itself, and says what it found)."""
    m = re.fullmatch(r"(?:ray://)?(\[[^\]]+\]|[^:/]+):(\d+)", address)
    if not m:
        return
    try:
        socket.create_connection((m.group(1).strip("[]"), int(m.group(2))), timeout=5).close()
    except OSError as e:
        raise OptionError("ray_address", f"{address}: no Ray cluster answers there ({os_reason(e)}); start one "
                          "with ray start --head, or leave ray_address out for a local Ray") from None


def remote_shards(batch: Batch, year: int, reduced: Reduced, shards: Iterable[Shard], options: RunOptions,
                  events_of: frozenset[int] | None = None) -> Iterator[YearTables]:
    """Each shard run as a Ray task; their tables in shard order, with a bounded number of tasks in flight."""
    ray = import_ray()
    with ray_session(options.ray_address):
        # one task per CPU: a task's DataFusion partitions (options.threads) share it
        task = ray.remote(num_cpus=1)(shard_tables)
        batch_ref, reduced_ref = ray.put(batch), ray.put(reduced)  # once for the year, not once per shard
        limit = IN_FLIGHT_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", 1)))
        in_flight: deque[Any] = deque()
        try:
            for shard in shards:
                in_flight.append(task.remote(batch_ref, year, reduced_ref, shard, options, events_of))
                if len(in_flight) >= limit:
                    yield _result(ray, in_flight.popleft())
            while in_flight:
                yield _result(ray, in_flight.popleft())
        finally:  # stopped early (an error, a consumer that went away): the rest of the year is not wanted
            if ray.is_initialized():  # a stream dropped after its simulation closed finds Ray gone
                for ref in in_flight:
                    ray.cancel(ref)


def _result(ray: ModuleType, ref: Any) -> YearTables:
    """A task's tables; the errors the command line reports in one line come back as themselves."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, UserError | ResourceLimitError):
            raise e.cause from None
        raise
