"""Worker processes: whole simulations away from the calling process (the Flight service's runs,
a sweep's runs).

Workers are started with "spawn", so that no DataFusion thread is ever forked, and talk to
their parent over a pipe. Each has a watchdog: it dies with its parent (even a killed one), so
that no orphan goes on writing a run nobody tracks. Ctrl-C belongs to the parent, which
decides when a worker stops. A worker leaves without interpreter shutdown, which can abort
after DataFusion work (DATAFUSION_NOTES.md).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

_SPAWN = multiprocessing.get_context("spawn")


def start_worker(target: Callable[[Connection], int | None], name: str = "arrow-events-worker"
                 ) -> tuple[BaseProcess, Connection]:
    """A worker process running ``target(conn)`` (a module-level function), and the parent's end of its pipe.
    The worker's death shows as EOF on that end."""
    parent, child = _SPAWN.Pipe()
    process = _SPAWN.Process(target=_worker, args=(target, child, os.getpid()), daemon=True, name=name)
    process.start()
    child.close()
    return process, parent


def _worker(target: Callable[[Connection], int | None], conn: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    code = target(conn)
    conn.close()
    os._exit(code or 0)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def death(exitcode: int | None) -> str:
    """Why a worker ended before answering: its signal (SIGKILL most often means out of memory) or exit code."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"its worker process was killed by {name}{hint}"
    return f"its worker process exited with code {exitcode}"


def serve_jobs(run_one: Callable[[Any], Any]) -> Callable[[Connection], int]:
    """A worker's loop for ``map_jobs``: receive a job, send ``run_one(job)``, until the pipe closes."""
    return _JobLoop(run_one)


class _JobLoop:
    """Picklable (spawn sends the target by reference): the job function is named, not a closure."""

    def __init__(self, run_one: Callable[[Any], Any]) -> None:
        self.run_one = run_one

    def __call__(self, conn: Connection) -> int:
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return 0
            conn.send(self.run_one(job))


def map_jobs(run_one: Callable[[Job], Result], jobs: list[Job], workers: int,
             failed: Callable[[Job, str], Result]) -> Iterator[Result]:
    """``run_one(job)`` for each job in up to ``workers`` processes, each taking the next job when it finishes
    one (its imports paid once); results as they come. A process that dies fails only the job it had
    (``failed(job, why)``), and another takes its place. Closing the iterator stops every worker."""
    pending = deque(jobs)
    busy: dict[Connection, tuple[BaseProcess, Job]] = {}
    idle: list[tuple[BaseProcess, Connection]] = []
    try:
        while pending or busy:
            while pending and len(busy) < workers:
                proc, conn = idle.pop() if idle else start_worker(serve_jobs(run_one))
                job = pending.popleft()
                conn.send(job)
                busy[conn] = (proc, job)
            for conn in wait(list(busy)):
                proc, job = busy.pop(conn)  # type: ignore[index]
                try:
                    result = conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):  # the worker died during the job
                    conn.close()  # type: ignore[union-attr]
                    proc.join()
                    result = failed(job, death(proc.exitcode))
                else:
                    idle.append((proc, conn))  # type: ignore[arg-type]
                yield result
    finally:
        for proc, _ in busy.values():  # interrupted: the jobs in progress are not finished
            proc.terminate()
        for proc, conn in [(proc, conn) for conn, (proc, _) in busy.items()] + idle:
            conn.close()  # an idle worker reads EOF and exits
            proc.join()
