"""``arrow-events serve``: simulations as an Arrow Flight service (pyarrow.flight).

The protocol is JSON in descriptors, tickets and action bodies, so a client in any language can use it:

- ``do_put``, descriptor ``FlightDescriptor.for_command('{"simulate": {"years": "2025-2027",
  "config": "<TOML text>", "seed": 7}}')``, the census as the stream: starts a run and answers
  ``{"run": "<id>"}`` on the put's metadata channel, once the census is checked. Optional keys:
  threads, engine, memory_limit ("1GB"), shard_rows, on_bad_rows ("fail"/"skip"), date_format.
- ``do_get``, ticket ``{"run": "<id>", "table": "events" | "snapshot" | "contributions", "year": 2025}``:
  that year as written, once it is committed (waiting for it). Ticket ``{"run": "<id>", "sql": "SELECT
  ..."}``: a read-only query over the run's tables (with ``simulation_year``), run by DataFusion on
  the server once the run is done.
- ``list_flights`` (criteria ``{"run": "<id>"}`` or empty) and ``get_flight_info`` (command
  ``{"run": "<id>", "table": "events"}`` or ``{"run": "<id>", "sql": "..."}``): each run's tables
  with schema, rows, bytes, one endpoint per year, and in ``app_metadata`` the run's status and years.
- ``do_action`` ``status``, ``validate``, ``cancel``, ``drop`` with body ``{"run": "<id>"}``: one
  JSON result each.

Errors come back as Flight errors carrying the command line's one-line message (also as the
error's ``extra_info``): bad input as FlightServerError, --max-runs reached as
FlightUnavailableError, a missing or wrong token as FlightUnauthenticatedError.
"""

from __future__ import annotations

import hmac
import json
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq

from arrow_events.errors import ResourceLimitError, UserError, error_line, first_line, os_reason
from arrow_events.schema import TABLES
from arrow_events.service.runs import Run, RunStore, ServerBusy, parse_simulate
from arrow_events.warehouse.sql import plan_query, run_query
from arrow_events.warehouse.validate import validate_warehouse
from arrow_events.warehouse.writer import DATA_FILE, manifest_path, partition_dir

BATCH_ROWS = 65536
ACTIONS = {
    "status": "The run's status, years written, census summary and error: body {\"run\": \"<id>\"}",
    "validate": "arrow-events validate on the run's warehouse, once the run has ended: body {\"run\": \"<id>\"}",
    "cancel": "Stop a running run; the years it committed stay readable: body {\"run\": \"<id>\"}",
    "drop": "Cancel the run if it runs, then delete its warehouse and record: body {\"run\": \"<id>\"}",
}


@dataclass
class ServeOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8815
    max_runs: int = 2
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    query_memory: int = 2 * 10**9  # bytes DataFusion may use per SQL ticket before spilling or failing


class BearerToken(flight.ServerMiddlewareFactory):
    """Refuse every call without the header ``authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._expected = f"Bearer {token}".encode()

    def start_call(self, info: flight.CallInfo, headers: dict[str, list[Any]]) -> None:
        for value in headers.get("authorization", []):
            given = value.encode() if isinstance(value, str) else bytes(value)
            if hmac.compare_digest(given, self._expected):
                return None
        raise flight.FlightUnauthenticatedError("this server needs its token: send the header "
                                                "'authorization: Bearer <token>'")


class EventsServer(flight.FlightServerBase):
    """The Flight service over a RunStore."""

    def __init__(self, location: str, store: RunStore, options: ServeOptions, **kwargs: Any) -> None:
        super().__init__(location, **kwargs)
        self.store, self.options = store, options

    # -- runs in ---------------------------------------------------------------------------------

    def do_put(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor,
               reader: flight.MetadataRecordBatchReader, writer: flight.FlightMetadataWriter) -> None:
        with flight_errors():
            command = _command(descriptor)
            if not isinstance(command, dict) or set(command) != {"simulate"}:
                raise UserError('do_put: expected the command {"simulate": {"years": "2025-2027", ...}} '
                                "with the census as the stream")
            request = parse_simulate(command["simulate"])
            run = self.store.start(request, lambda path: _save_stream(reader, path))
            writer.write(json.dumps({"run": run.id}).encode())

    # -- data out --------------------------------------------------------------------------------

    def do_get(self, context: flight.ServerCallContext, ticket: flight.Ticket) -> flight.FlightDataStream:
        with flight_errors():
            request = _json(ticket.ticket, "ticket")
            run = self.store.get(request.get("run"))
            if "sql" in request:
                reader = run_query(self.store.wait_finished(run), request["sql"], self.options.query_memory)
                return flight.RecordBatchStream(_flight_safe(reader))
            table, year = _table_and_year(request)
            path = partition_dir(self.store.wait_year(run, year), table, year) / DATA_FILE
            source = pq.ParquetFile(path)
            batches = source.iter_batches(batch_size=BATCH_ROWS, use_threads=True)
            return flight.RecordBatchStream(pa.RecordBatchReader.from_batches(source.schema_arrow, batches))

    def list_flights(self, context: flight.ServerCallContext, criteria: bytes) -> Iterator[flight.FlightInfo]:
        with flight_errors():
            wanted = _json(criteria, "criteria").get("run") if criteria else None
            runs = [self.store.get(wanted)] if wanted is not None else self.store.runs()
        for run in runs:
            for table in TABLES:
                yield self._table_info(run, table)

    def get_flight_info(self, context: flight.ServerCallContext,
                        descriptor: flight.FlightDescriptor) -> flight.FlightInfo:
        with flight_errors():
            request = _command(descriptor)
            if not isinstance(request, dict):
                raise UserError('get_flight_info: expected {"run": "<id>", "table": "events"} or {"run": "<id>", '
                                '"sql": "SELECT ..."}')
            run = self.store.get(request.get("run"))
            if "sql" in request:
                df = plan_query(self.store.wait_finished(run), request["sql"], self.options.query_memory)
                ticket = flight.Ticket(json.dumps({"run": run.id, "sql": request["sql"]}))
                return flight.FlightInfo(df.schema(), descriptor, [flight.FlightEndpoint(ticket, [])])
            table = request.get("table")
            if table not in TABLES:
                raise UserError(f"table: expected one of {', '.join(TABLES)}, got {table!r}")
            return self._table_info(run, table)

    def _table_info(self, run: Run, table: str) -> flight.FlightInfo:
        out = self.store.out(run)
        rows, nbytes, endpoints = {}, 0, []
        for year in list(run.years_done):
            entry = json.loads(manifest_path(out, year).read_text(encoding="utf-8"))["files"].get(table)
            if entry is None:  # a year written without the table (contributions turned off, or an older run)
                continue
            rows[str(year)] = entry["rows"]
            nbytes += entry["bytes"]
            ticket = flight.Ticket(json.dumps({"run": run.id, "table": table, "year": year}))
            endpoints.append(flight.FlightEndpoint(ticket, [], app_metadata=json.dumps({"simulation_year": year})))
        meta = {"run": run.id, "table": table, "status": run.status, "years": run.years,
                "years_ready": sorted(int(y) for y in rows), "rows_by_year": rows, "error": run.error}
        descriptor = flight.FlightDescriptor.for_command(json.dumps({"run": run.id, "table": table}))
        return flight.FlightInfo(TABLES[table], descriptor, endpoints, sum(rows.values()), nbytes, True,
                                 json.dumps(meta))

    # -- actions ---------------------------------------------------------------------------------

    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        return list(ACTIONS.items())

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[flight.Result]:
        with flight_errors():
            if action.type not in ACTIONS:
                raise UserError(f"action {action.type!r}: unknown; actions: {', '.join(ACTIONS)}")
            body = action.body.to_pybytes() if action.body is not None else b""
            run = self.store.get(_json(body, f"action {action.type}").get("run"))
            if action.type == "status":
                result = run.record()
            elif action.type == "validate":
                report = validate_warehouse(self.store.wait_ended(run))
                result = {"run": run.id, "status": run.status, "ok": report.ok, "years": report.years,
                          "violations": len(report.violations), "report": report.render()}
            elif action.type == "cancel":
                self.store.cancel(run)
                result = run.record()
            else:
                self.store.drop(run)
                result = {"run": run.id, "dropped": True}
            return [flight.Result(json.dumps(result).encode())]


def _json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{what}: expected JSON, e.g. {{\"run\": \"<id>\", \"table\": \"events\", \"year\": 2025}}, "
                        f"got {bytes(raw)[:60]!r}") from None
    if not isinstance(value, dict):
        raise UserError(f"{what}: expected a JSON object, got {value!r}"[:200])
    return value


def _command(descriptor: flight.FlightDescriptor) -> dict[str, Any]:
    if descriptor.descriptor_type != flight.DescriptorType.CMD:
        raise UserError("descriptor: expected a command descriptor (FlightDescriptor.for_command) holding JSON")
    return _json(descriptor.command, "descriptor")


def _table_and_year(request: dict[str, Any]) -> tuple[str, int]:
    table, year = request.get("table"), request.get("year")
    if table not in TABLES:
        raise UserError(f"ticket: table: expected one of {', '.join(TABLES)}, got {table!r}")
    if isinstance(year, bool) or not isinstance(year, int):
        raise UserError(f"ticket: year: expected a year such as 2025, got {year!r}")
    return table, year


def _save_stream(reader: flight.MetadataRecordBatchReader, path: Path) -> None:
    """The uploaded census, batch by batch, into an Arrow IPC file (the server never holds it whole)."""
    try:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, reader.schema) as out:
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    return
                if chunk.data is not None:
                    out.write_batch(chunk.data)
    except pa.ArrowInvalid as e:
        raise UserError(f"census: cannot read the uploaded stream ({first_line(e)})") from None


def _flight_safe(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """Errors while a result streams (a query running out of memory) reach the client as one line."""

    def batches() -> Iterator[pa.RecordBatch]:
        with flight_errors():
            yield from reader

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


@contextmanager
def flight_errors() -> Iterator[None]:
    """The library's errors as Flight errors with the one-line message; anything else as an internal error."""
    try:
        yield
    except flight.FlightError:
        raise
    except ServerBusy as e:
        raise flight.FlightUnavailableError(str(e), str(e).encode()) from None
    except (UserError, ResourceLimitError) as e:
        raise flight.FlightServerError(str(e), str(e).encode()) from None
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        message = f"internal error: {error_line(e)}"
        raise flight.FlightInternalError(message, message.encode()) from None


def serve(options: ServeOptions, ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C: then runs in progress are interrupted (their committed years kept)."""
    tls = _tls(options)
    _check_address(options.host, options.port)
    store = RunStore(options.data_dir, options.max_runs)
    scheme = "grpc+tls" if tls else "grpc"
    middleware = {"auth": BearerToken(options.token)} if options.token else None
    try:
        server = EventsServer(f"{scheme}://{options.host}:{options.port}", store, options,
                              tls_certificates=tls, middleware=middleware)
    except (pa.ArrowException, OSError) as e:
        store.stop()
        raise UserError(f"{options.host}:{options.port}: cannot serve there ({first_line(e)})") from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready:
            ready(f"{scheme}://{options.host}:{server.port}")
        while not stop.wait(0.5):
            pass
    finally:
        store.stop()
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_address(host: str, port: int) -> None:
    """Say plainly why the address cannot be served (gRPC would log several lines and a vague error)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise UserError(f"--host {host}: cannot resolve it ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise UserError(f"{host}:{port}: cannot listen there ({os_reason(e)})") from None


def _tls(options: ServeOptions) -> list[tuple[bytes, bytes]] | None:
    if (options.tls_cert is None) != (options.tls_key is None):
        raise UserError("--tls-cert and --tls-key go together")
    if options.tls_cert is None or options.tls_key is None:
        return None
    pair = []
    for path in (options.tls_cert, options.tls_key):
        try:
            pair.append(Path(path).read_bytes())
        except OSError as e:
            raise UserError(f"{path}: cannot read ({e.strerror})") from None
    return [flight.CertKeyPair(pair[0], pair[1])]
