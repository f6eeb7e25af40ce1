"""One simulation in its own process: what the Flight service runs for each run.

A process per run isolates it: a run that exhausts its memory, crashes or is cancelled
(terminated) takes nothing else down. The service keeps one spare process started ahead,
its imports done, so a run starts without paying for them. The worker reads the census the
service saved, checks it (answering ``refused`` with the command line's one-line message, or
``checked``), then writes the warehouse with ``arrow_events.simulation.run`` (the single
writer), reporting each committed year. Messages on the pipe are tuples:
``("refused", message)``, ``("checked", census)``, ``("year", summary)``, ``("done", summary)``,
``("failed", message)``.
"""

from __future__ import annotations

import os
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa

from arrow_events.census.intake import Census, read_census
from arrow_events.engine.memory import return_freed_memory
from arrow_events.errors import ResourceLimitError, UserError, error_line
from arrow_events.simulation import YearReport, run


def worker_main(conn: Connection) -> int:
    """A spare worker (``execute.pool.start_worker``): the imports above are done; wait for one job, run it."""
    return_freed_memory()  # the service's own process: Arrow's and glibc's allocators tuned (engine.memory)
    try:
        job = conn.recv()
    except (EOFError, OSError):
        return 0
    return run_job(conn, job)


def run_job(conn: Connection, job: dict[str, Any]) -> int:
    """Check the census, then simulate into the run's warehouse; report on ``conn``. Returns an exit code."""
    req = job["request"]
    if job.get("scratch"):  # temporary files under the data directory, removed by the service with the run
        Path(job["scratch"]).mkdir(parents=True, exist_ok=True)
        os.environ["TMPDIR"] = tempfile.tempdir = job["scratch"]
    try:
        with pa.memory_map(str(job["census"])) as source:
            table = pa.ipc.open_file(source).read_all()
        census = read_census(table, req.cfg.scenario.start_year, on_bad_rows=req.options.on_bad_rows,
                             date_format=req.options.date_format)
    except UserError as e:
        conn.send(("refused", str(e)))
        return 2
    del table
    conn.send(("checked", census_summary(census)))
    try:
        report = run(req.cfg, Path(job["out"]), census=census, options=req.options.replace(years=req.years),
                     progress=lambda y: conn.send(("year", year_summary(y))))
    except (UserError, ResourceLimitError) as e:
        conn.send(("failed", str(e)))
        return 3 if isinstance(e, ResourceLimitError) else 2
    except Exception as e:  # reported to the client as one line; the service keeps serving
        conn.send(("failed", error_line(e)))
        return 1
    conn.send(("done", {"seconds": round(report.total_s, 3)}))
    return 0


def census_summary(census: Census) -> dict[str, Any]:
    return {"rows_read": census.rows_read, "rows_kept": census.table.num_rows,
            "rows_rejected": census.rows_rejected, "notes": census.notes, "warnings": census.warnings,
            "rejected": census.rejected_summary() if census.rows_rejected else None}


def year_summary(y: YearReport) -> dict[str, Any]:
    return {"year": y.year, "headcount_start": y.headcount_start, "headcount_end": y.headcount_end,
            "events": y.events, "events_by_type": y.events_by_type, "shards": y.shards,
            "seconds": round(y.generate_s + y.write_s, 3)}
