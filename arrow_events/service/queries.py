"""The service's query workers: a small pool of processes (``query_worker``) that run SQL and validation,
each job under a time limit, a result-size cap and a hard memory cap, and cancelled when its client goes.

A job that ends cleanly (a result, or a query the user got wrong) leaves its worker idle for the next;
one that times out, is cancelled, hits a memory limit or kills its worker has that process killed and
its scratch directory removed, and a fresh worker takes its place. The server process itself never
runs DataFusion, so nothing a query does can take it down.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from arrow_events.errors import ResourceLimitError, UserError
from arrow_events.execute.pool import death, start_worker
from arrow_events.service.query_worker import query_worker_main
from arrow_events.service.requests import ClientGone, ServerBusy

POLL_S = 0.1  # how often a waiting request looks at its client and deadline


class Cancellable(Protocol):
    def is_cancelled(self) -> bool: ...




def size_text(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


@dataclass
class QueryLimits:
    workers: int = 2  # processes running queries at once (--query-workers)
    memory: int = 2 * 10**9  # DataFusion's pool per query; the process's hard cap is this plus headroom
    timeout: float = 60.0  # seconds a query may take, its result's streaming included (--query-timeout)
    max_result: int = 10**9  # bytes of Arrow data a query may return (--query-max-result)


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    scratch: Path
    retired: bool = False


@dataclass(eq=False)
class Lease:
    """A job on a worker: the deadline, and why it ended if it did not end by itself."""

    worker: _Worker
    deadline: float
    context: Cancellable | None = None
    what: str = "query"  # how messages name the job: "query", or "validate"
    expired: bool = False
    cancelled: bool = False
    finished: bool = False


class QueryPool:
    """Up to ``limits.workers`` query processes; ``call`` for one answer, ``stream`` for a query's batches."""

    def __init__(self, limits: QueryLimits, scratch_root: Path) -> None:
        self.limits, self.scratch_root = limits, scratch_root
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[Lease] = set()
        self._count = 0  # workers alive or starting
        self._ids = itertools.count(1)
        self._stopping = False
        threading.Thread(target=self._monitor, daemon=True, name="query-deadlines").start()
        with self._cond:
            self._count += 1
        self._idle.append(self._spawn())  # a spare, its imports done before the first query arrives

    # -- workers ----------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        scratch = self.scratch_root / f"query-{next(self._ids)}"
        process, conn = start_worker(query_worker_main, name="arrow-events-query")
        conn.send(("init", {"scratch": str(scratch), "memory": self.limits.memory}))
        return _Worker(process, conn, scratch)

    def _acquire(self) -> _Worker:
        wait_until = time.monotonic() + self.limits.timeout
        with self._cond:
            while True:
                if self._stopping:
                    raise ServerBusy("the server is shutting down")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.limits.workers:
                    self._count += 1
                    break
                left = wait_until - time.monotonic()
                if left <= 0:
                    n = self.limits.workers
                    raise ServerBusy(f"query: all {n} query workers are busy (--query-workers {n}); try again later")
                self._cond.wait(min(left, 1.0))
        try:
            return self._spawn()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            raise

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker that cannot be trusted with another job, and remove its scratch directory. Its place
        in the pool is free at once, even while a client still holds the call that used it. (Its pipe is
        closed by whoever reads it, in ``finish``: never under a reader's feet.)"""
        with self._cond:
            if worker.retired:
                return
            worker.retired = True
        worker.process.kill()
        worker.process.join(5)
        shutil.rmtree(worker.scratch, ignore_errors=True)
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def _monitor(self) -> None:
        """Kill the worker of every job past its deadline, whether or not anyone is reading its answer."""
        while True:
            time.sleep(POLL_S)
            now = time.monotonic()
            with self._cond:
                if self._stopping:
                    return
                late = [lease for lease in self._busy if now > lease.deadline and not lease.expired]
                for lease in late:
                    lease.expired = True
            for lease in late:
                self._retire(lease.worker)

    # -- jobs -----------------------------------------------------------------------------------

    def open(self, job: dict[str, Any], context: Cancellable | None) -> Lease:
        worker = self._acquire()
        what = "validate" if job.get("kind") == "validate" else "query"
        lease = Lease(worker, time.monotonic() + self.limits.timeout, context, what)
        with self._cond:
            self._busy.add(lease)
        job = {**job, "memory": self.limits.memory, "max_result": self.limits.max_result,
               "max_result_text": size_text(self.limits.max_result)}
        try:
            worker.conn.send(job)
        except OSError:
            pass  # the worker died before the job: recv reports it
        return lease

    def recv(self, lease: Lease) -> tuple[Any, ...]:
        """The worker's next message (past its start-up answer), or the error that ended the job."""
        conn = lease.worker.conn
        while True:
            while not conn.poll(POLL_S):
                if lease.context is not None and lease.context.is_cancelled():
                    lease.cancelled = True
                    lease.worker.process.kill()
                if self._stopping:
                    lease.worker.process.kill()
            try:
                message = conn.recv()
            except (EOFError, OSError):
                lease.worker.process.join(5)
                raise self._why_ended(lease) from None
            if message[0] != "ready":
                if message[0] == "error":
                    raise _job_error(lease.what, message[1], message[2], self.limits)
                return message

    def _why_ended(self, lease: Lease) -> Exception:
        if lease.cancelled:
            return ClientGone()
        if lease.expired:
            return ResourceLimitError(f"{lease.what}: stopped after {self.limits.timeout:g} s, the time limit of a "
                                      "query (--query-timeout)")
        if self._stopping:
            return UserError("the server is shutting down")
        return ResourceLimitError(f"{lease.what}: {death(lease.worker.process.exitcode)}: it needs more memory "
                                  f"than a query may have ({size_text(self.limits.memory)}, --query-memory), or "
                                  "crashed")

    def finish(self, lease: Lease, reusable: bool) -> None:
        """The job is over: its worker back to the pool, or retired (then a spare is started in its place)."""
        if lease.finished:
            return
        lease.finished = True
        with self._cond:
            self._busy.discard(lease)
            keep = reusable and not lease.expired and not self._stopping and lease.worker.process.is_alive()
            if keep:
                self._idle.append(lease.worker)
                self._cond.notify_all()
        if keep:
            return
        self._retire(lease.worker)
        lease.worker.conn.close()
        with self._cond:
            spare = not self._stopping and not self._idle and self._count < self.limits.workers
            if spare:
                self._count += 1
        if spare:
            worker = self._spawn()
            with self._cond:
                self._idle.append(worker)
                self._cond.notify_all()

    def call(self, job: dict[str, Any], context: Cancellable | None = None) -> tuple[Any, ...]:
        """A job with one answer (a query's schema, a validation)."""
        lease = self.open(job, context)
        reusable = False
        try:
            answer = self.recv(lease)
            reusable = True
            return answer
        except UserError:
            reusable = True
            raise
        finally:
            self.finish(lease, reusable)

    def stream(self, job: dict[str, Any], context: Cancellable | None = None
               ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """A query's schema, once planned, and its batches as the worker computes them. Closing the
        iterator early (the client went away) retires the worker."""
        lease = self.open(job, context)
        try:
            kind, raw = self.recv(lease)
            schema = pa.ipc.read_schema(pa.py_buffer(raw))
        except UserError:
            self.finish(lease, True)
            raise
        except BaseException:
            self.finish(lease, False)
            raise
        return schema, self._batches(lease, schema)

    def _batches(self, lease: Lease, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        ended = False
        try:
            while True:
                message = self.recv(lease)
                if message[0] == "end":
                    ended = True
                    return
                yield pa.ipc.read_record_batch(pa.py_buffer(message[1]), schema)
        finally:
            self.finish(lease, ended)

    def stop(self) -> None:
        """Kill running queries (their clients get 'shutting down'), let idle workers exit, remove scratch."""
        with self._cond:
            self._stopping = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._cond.notify_all()
        for lease in busy:
            lease.worker.process.kill()
        for worker in idle:
            worker.conn.close()  # it reads EOF and exits
        for worker in idle + [lease.worker for lease in busy]:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(2)
            shutil.rmtree(worker.scratch, ignore_errors=True)


def _job_error(what: str, kind: str, message: str, limits: QueryLimits) -> Exception:
    if kind == "user":
        return UserError(message)
    if kind == "memory":
        return ResourceLimitError(f"{what}: needs more memory than a query may have ({size_text(limits.memory)}, "
                                  f"--query-memory): {message}")
    return ResourceLimitError(message)
