"""A query worker: the process that runs SQL (and validation) for the Flight service, so that a query which
exhausts memory, crashes or runs away fails alone and the server kills it without losing anything else.

DataFusion's memory pool counts only its operators; string functions over large values and other
uncounted allocations are bounded by a hard cap on the whole process's address space (RLIMIT_AS), set
once the imports are done: what the process had mapped then, plus --query-memory, plus HEADROOM.
Past it an allocation fails: Arrow raises MemoryError, Rust aborts the process; either way the server
reports the limit. Temporary files (DataFusion's spills) go to the worker's scratch directory under the
data directory, which the server removes with the worker.

The pipe carries, after the server's ``("init", {...})`` and the worker's ``("ready",)``, one job at a
time: a dict with ``kind`` ("schema", "query" or "validate"). Answers: ``("schema", ipc)``,
``("batch", ipc)``..., ``("end", rows)``; ``("result", dict)``; or ``("error", kind, message)`` with kind
"user", "memory" or "result" (the result-size cap).
"""

from __future__ import annotations

import io
import os
import resource
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa

from arrow_events.errors import ResourceLimitError, UserError, error_line
from arrow_events.warehouse.sql import plan_query, run_query
from arrow_events.warehouse.validate import validate_warehouse

HEADROOM = 512 << 20  # address space beyond --query-memory for the interpreter, Arrow's buffers, thread stacks


def mapped_bytes() -> int:
    """The process's virtual size now (VmSize), which the address-space cap is measured from."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def query_worker_main(conn: Connection) -> int:
    """The worker's life (``execute.pool.start_worker``): set up its limits, then jobs until the pipe closes."""
    try:
        kind, setup = conn.recv()
    except (EOFError, OSError):
        return 0
    scratch = Path(setup["scratch"])
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(scratch)  # DataFusion's disk manager spills there
    tempfile.tempdir = str(scratch)
    pa.set_memory_pool(pa.system_memory_pool())  # freed buffers go back to the OS between queries
    cap = mapped_bytes() + int(setup["memory"]) + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    conn.send(("ready", cap))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return 0
        if not run_job(conn, job):
            return 3  # after a memory failure the process is not trusted with another job


def run_job(conn: Connection, job: dict[str, Any]) -> bool:
    """One job, answered on ``conn``; False if the worker should exit afterwards."""
    try:
        if job["kind"] == "validate":
            report = validate_warehouse(job["out"])
            conn.send(("result", {"ok": report.ok, "years": report.years, "violations": len(report.violations),
                                  "report": report.render().replace(str(job["out"]), job["name"])}))
        elif job["kind"] == "schema":
            df = plan_query(_warehouses(job), job["sql"], job["memory"], params=_params(job))
            conn.send(("schema", df.schema().serialize().to_pybytes()))
        else:
            _stream(conn, job)
    except UserError as e:
        conn.send(("error", "user", str(e)))
    except ResourceLimitError as e:  # DataFusion's pool refused: the message names --query-memory
        conn.send(("error", "limit", str(e)))
        return False
    except (MemoryError, pa.ArrowMemoryError) as e:  # the address-space cap refused an allocation
        conn.send(("error", "memory", error_line(e)))
        return False
    return True


def _stream(conn: Connection, job: dict[str, Any]) -> None:
    reader = run_query(_warehouses(job), job["sql"], job["memory"], params=_params(job))
    conn.send(("schema", reader.schema.serialize().to_pybytes()))
    sent = rows = 0
    for batch in reader:
        sent += batch.nbytes
        if sent > job["max_result"]:
            conn.send(("error", "result", f"query: the result is over {job['max_result_text']}, the limit of a "
                                          "query's result (--query-max-result); aggregate on the server or add a "
                                          "LIMIT"))
            return
        rows += batch.num_rows
        conn.send(("batch", batch.serialize().to_pybytes()))
    conn.send(("end", rows))


def _warehouses(job: dict[str, Any]) -> Path | dict[str, Path]:
    found = job["warehouses"]
    return Path(found) if isinstance(found, str) else {k: Path(v) for k, v in found.items()}


def _params(job: dict[str, Any]) -> list[Any] | None:
    """The bound parameters (an Arrow IPC stream of one row) as scalars, in column order."""
    raw = job.get("params")
    if not raw:
        return None
    table = pa.ipc.open_stream(io.BytesIO(raw)).read_all()
    if table.num_rows != 1:
        raise UserError(f"query: expected one row of parameters, got {table.num_rows}")
    return [column[0] for column in table.columns]
