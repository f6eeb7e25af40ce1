"""``arrow-events serve``: simulations as an Arrow Flight service (pyarrow.flight).

The protocol is JSON in descriptors, tickets and action bodies, so a client in any language can use it:

- ``do_put``, descriptor ``FlightDescriptor.for_command('{"simulate": {"years": "2025-2027",
  "config": "<TOML text>", "seed": 7, "rows": 20000}}')``, the census as the stream: once the stream
  has ended cleanly (not cancelled, ``rows`` rows if stated, within --max-upload) a run starts and
  the server answers ``{"run": "<id>"}`` on the put's metadata channel, once the census is checked.
  Optional keys: rows, threads, engine, memory_limit ("1GB"), shard_rows, on_bad_rows ("fail"/"skip"),
  date_format.
- ``do_get``, ticket ``{"run": "<id>", "table": "events" | "snapshot" | "contributions", "year": 2025}``:
  that year as written, once it is committed (waiting for it). Ticket ``{"run": "<id>", "sql": "SELECT
  ..."}``: a read-only query over the run's tables (with ``simulation_year``), run by DataFusion on
  the server once the run is done.
- ``list_flights`` (criteria ``{"run": "<id>"}`` or empty) and ``get_flight_info`` (command
  ``{"run": "<id>", "table": "events"}`` or ``{"run": "<id>", "sql": "..."}``): each run's tables
  with schema, rows, bytes, one endpoint per year, and in ``app_metadata`` the run's status and years.
- ``do_action`` ``status``, ``validate``, ``cancel``, ``drop`` with body ``{"run": "<id>"}``: one
  JSON result each.

Beside it, Arrow Flight SQL (``flightsql.py``): a command, ticket or action body that is a Flight SQL
protobuf ``Any`` goes there, anything else is JSON.

Every request is bounded (``requests.py``), every query runs in a query worker (``queries.py``) under
a time limit, a memory cap and a result cap. Errors come back as Flight errors carrying one line (also
as the error's ``extra_info``), on every call: bad input and limits as FlightServerError, a busy or
stopping server as FlightUnavailableError, a missing or wrong token as FlightUnauthenticatedError. An
unexpected failure is logged with a request id that the client's message names.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq

from arrow_events.errors import ResourceLimitError, UserError, first_line, os_reason
from arrow_events.options import MAX_YEARS
from arrow_events.schema import TABLES
from arrow_events.service.connections import drop_connection
from arrow_events.service.flightsql import ACTIONS as SQL_ACTIONS
from arrow_events.service.flightsql import FlightSql
from arrow_events.service.queries import QueryLimits, QueryPool, size_text
from arrow_events.service.requests import ClientGone, ServerBusy, check_size, parse_json, shown, sql_text
from arrow_events.service.runs import Run, RunStore, parse_simulate
from arrow_events.service.wire import Message, WireError, unpack_any
from arrow_events.warehouse.writer import DATA_FILE, manifest_path, partition_dir

BATCH_ROWS = 65536
ACTIONS = {
    "status": "The run's status, years written, census summary and error: body {\"run\": \"<id>\"}",
    "validate": "arrow-events validate on the run's warehouse, once the run has ended: body {\"run\": \"<id>\"}",
    "cancel": "Stop a running run; the years it committed stay readable: body {\"run\": \"<id>\"}",
    "drop": "Cancel the run if it runs, then delete its warehouse and record: body {\"run\": \"<id>\"}",
}
TICKET_EXAMPLE = '{"run": "<id>", "table": "events", "year": 2025}'
MAX_MESSAGE = 1000  # characters of an error message: gRPC carries it in a header


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
    query_timeout: float = 60.0  # seconds a query may take, streaming included
    query_workers: int = 2  # queries running at once, each in its own process
    query_max_result: int = 10**9  # bytes of Arrow data one query may return
    max_upload: int = 10**9  # bytes of Arrow data one census upload may hold (a 5M-row census is ~0.24 GB)
    upload_idle_timeout: float = 60.0  # seconds an upload may send nothing before it is dropped
    max_years: int = MAX_YEARS  # years in one run
    shutdown_timeout: float = 10.0  # seconds from SIGTERM to the process's exit


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
        message = "this server needs its token: send the header 'authorization: Bearer <token>'"
        raise flight.FlightUnauthenticatedError(message, message.encode())


@dataclass(eq=False)
class Upload:
    """A census upload in progress: when it last received data, so a stalled one can be dropped."""

    peer: str
    last: float = field(default_factory=time.monotonic)
    done: bool = False
    dropped: bool = False


class EventsServer(flight.FlightServerBase):
    """The Flight service over a RunStore and a QueryPool."""

    def __init__(self, location: str, store: RunStore, options: ServeOptions, **kwargs: Any) -> None:
        super().__init__(location, **kwargs)
        self.store, self.options = store, options
        limits = QueryLimits(options.query_workers, options.query_memory, options.query_timeout,
                             options.query_max_result)
        self.queries = QueryPool(limits, store.scratch)
        self.sql = FlightSql(store, self.queries)
        self._lock = threading.Lock()
        self._uploads: set[Upload] = set()
        self._stopping = False
        threading.Thread(target=self._watch_uploads, daemon=True, name="upload-idle").start()

    # -- runs in ---------------------------------------------------------------------------------

    def do_put(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor,
               reader: flight.MetadataRecordBatchReader, writer: flight.FlightMetadataWriter) -> None:
        with flight_errors("do_put"):
            message = _flight_sql(_descriptor_bytes(descriptor))
            if message is not None:
                return self.sql.do_put(message, reader, writer)
            command = _command(descriptor)
            if set(command) != {"simulate"}:
                raise UserError('do_put: expected the command {"simulate": {"years": "2025-2027", ...}} '
                                "with the census as the stream")
            request = parse_simulate(command["simulate"], self.options.max_years)
            self._check_accepting()
            path = self.store.upload_path()
            try:
                rows = self._receive(context, reader, path)
                if request.rows is not None and rows != request.rows:
                    raise UserError(f"census: the stream held {rows:,} rows, the command said {request.rows:,} "
                                    "(simulate.rows); no run was started")
                self._check_accepting()
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            run = self.store.start(request, path)  # the store owns the file from here on
            try:
                writer.write(json.dumps({"run": run.id}).encode())
                told = not context.is_cancelled()
            except (flight.FlightError, pa.ArrowException, OSError):
                told = False
            if not told:  # the client went away before hearing of its run: nobody would ever read it
                self.store.drop(run)
                raise ClientGone()

    def _check_accepting(self) -> None:
        if self._stopping:
            raise ServerBusy("the server is shutting down")
        self.store.check_accepting()

    def _receive(self, context: flight.ServerCallContext, reader: flight.MetadataRecordBatchReader,
                 path: Path) -> int:
        """The uploaded census into an Arrow IPC file, batch by batch; its row count. Refused unless the
        stream ended cleanly, within --max-upload, with data arriving at least every --upload-idle-timeout."""
        upload = Upload(context.peer())
        with self._lock:
            self._uploads.add(upload)
        rows = nbytes = 0
        try:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, reader.schema) as out:
                while True:
                    try:
                        chunk = reader.read_chunk()
                    except StopIteration:
                        break
                    upload.last = time.monotonic()
                    if chunk.data is None:
                        continue
                    nbytes += chunk.data.nbytes
                    if nbytes > self.options.max_upload:
                        raise UserError(f"census: the upload is over {size_text(self.options.max_upload)}, the "
                                        "limit of one upload (--max-upload); no run was started")
                    rows += chunk.data.num_rows
                    out.write_batch(chunk.data)
        except pa.ArrowException as e:
            if upload.dropped or context.is_cancelled():
                raise self._incomplete(upload) from None
            raise UserError(f"census: cannot read the uploaded stream ({first_line(e)[:200]}); no run was "
                            "started") from None
        finally:
            with self._lock:
                upload.done = True
                self._uploads.discard(upload)
        if upload.dropped or context.is_cancelled():  # a stream cut short is not a census
            raise self._incomplete(upload)
        return rows

    def _incomplete(self, upload: Upload) -> Exception:
        if upload.dropped and not self._stopping:
            timeout = self.options.upload_idle_timeout
            print(f"upload from {upload.peer}: no data for {timeout:g} s (--upload-idle-timeout); dropped",
                  file=sys.stderr, flush=True)
            return UserError(f"census: no data for {timeout:g} s (--upload-idle-timeout); no run was started")
        if self._stopping:
            return ServerBusy("the server is shutting down; no run was started")
        return ClientGone()

    def _watch_uploads(self) -> None:
        """Drop the connection of an upload that sent nothing for --upload-idle-timeout (its read cannot
        otherwise be interrupted), or of every upload once the server stops."""
        while True:
            time.sleep(min(0.5, self.options.upload_idle_timeout / 4))
            now = time.monotonic()
            with self._lock:
                late = [u for u in self._uploads if not u.done and not u.dropped
                        and (self._stopping or now - u.last > self.options.upload_idle_timeout)]
                for upload in late:
                    upload.dropped = True
            for upload in late:
                drop_connection(upload.peer)

    # -- data out --------------------------------------------------------------------------------

    def do_get(self, context: flight.ServerCallContext, ticket: flight.Ticket) -> flight.FlightDataStream:
        with flight_errors("do_get"):
            raw = ticket.ticket
            check_size(raw, "ticket")
            message = _flight_sql(raw)
            if message is not None:
                schema, batches = self.sql.do_get(context, message)
                return flight.GeneratorStream(schema, _streamed(batches))
            request = parse_json(raw, "ticket", TICKET_EXAMPLE)
            run = self.store.get(request.get("run"))
            if "sql" in request:
                sql = sql_text(request["sql"])
                out = self.store.wait_finished(run, context.is_cancelled)
                job = {"kind": "query", "sql": sql, "warehouses": str(out)}
                schema, batches = self.queries.stream(job, context)
                return flight.GeneratorStream(schema, _streamed(batches))
            table, year = _table_and_year(request)
            path = partition_dir(self.store.wait_year(run, year, context.is_cancelled), table, year) / DATA_FILE
            source = pq.ParquetFile(path)
            batches = source.iter_batches(batch_size=BATCH_ROWS, use_threads=True)
            return flight.GeneratorStream(source.schema_arrow, _streamed(batches))

    def list_flights(self, context: flight.ServerCallContext, criteria: bytes) -> Iterator[flight.FlightInfo]:
        with flight_errors("list_flights"):
            wanted = parse_json(criteria, "criteria", '{"run": "<id>"}').get("run") if criteria else None
            runs = [self.store.get(wanted)] if wanted is not None else self.store.runs()
            infos = [self._table_info(run, table) for run in runs for table in TABLES]
        yield from infos

    def get_flight_info(self, context: flight.ServerCallContext,
                        descriptor: flight.FlightDescriptor) -> flight.FlightInfo:
        with flight_errors("get_flight_info"):
            return self._flight_info(context, descriptor)

    def get_schema(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor) -> flight.SchemaResult:
        # pyarrow's server side of get_schema (unlike every other call's) turns no FlightError into a Flight
        # status: the client gets the message followed by pyarrow's traceback of the exception. So the error
        # is raised afresh here, whose code is named "<arrow-events>" below: that traceback then holds this
        # frame alone and no server path.
        try:
            with flight_errors("get_schema"):
                return flight.SchemaResult(self._flight_info(context, descriptor).schema)
        except flight.FlightError as e:
            raise type(e)(str(e), e.extra_info) from None

    get_schema.__code__ = get_schema.__code__.replace(co_filename="<arrow-events>")

    def _flight_info(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor) -> flight.FlightInfo:
        message = _flight_sql(_descriptor_bytes(descriptor))
        if message is not None:
            return self.sql.flight_info(context, descriptor, message)
        request = _command(descriptor)
        run = self.store.get(request.get("run"))
        if "sql" in request:
            sql = sql_text(request["sql"])
            out = self.store.wait_finished(run, context.is_cancelled)
            _, raw = self.queries.call({"kind": "schema", "sql": sql, "warehouses": str(out)}, context)
            ticket = flight.Ticket(json.dumps({"run": run.id, "sql": sql}))
            return flight.FlightInfo(pa.ipc.read_schema(pa.py_buffer(raw)), descriptor,
                                     [flight.FlightEndpoint(ticket, [])])
        table = request.get("table")
        if table not in TABLES:
            raise UserError(f"table: expected one of {', '.join(TABLES)}, got {shown(table)}")
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
        return flight.FlightInfo(run.schemas[table], descriptor, endpoints, sum(rows.values()), nbytes, True,
                                 json.dumps(meta))

    def do_exchange(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor,
                    reader: flight.MetadataRecordBatchReader, writer: flight.MetadataRecordBatchWriter) -> None:
        with flight_errors("do_exchange"):
            raise UserError("do_exchange: not offered by this server; do_put starts a run, do_get reads it")

    # -- actions ---------------------------------------------------------------------------------

    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        return [*ACTIONS.items(), *SQL_ACTIONS.items()]

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[flight.Result]:
        with flight_errors("do_action"):
            kind = action.type
            body = action.body.to_pybytes() if action.body is not None else b""
            check_size(body, f"action {kind[:60]}")
            message = _flight_sql(body)
            if kind in SQL_ACTIONS or message is not None:
                return self.sql.do_action(context, kind, message)
            if kind not in ACTIONS:
                raise UserError(f"action {shown(kind)}: unknown; actions: {', '.join([*ACTIONS, *SQL_ACTIONS])}")
            run = self.store.get(parse_json(body, f"action {kind}", '{"run": "<id>"}').get("run"))
            return [flight.Result(json.dumps(self._run_action(context, kind, run)).encode())]

    def _run_action(self, context: flight.ServerCallContext, kind: str, run: Run) -> dict[str, Any]:
        if kind == "status":
            return run.record()
        if kind == "validate":
            out = self.store.wait_ended(run, context.is_cancelled)
            _, report = self.queries.call({"kind": "validate", "out": str(out), "name": run.id}, context)
            return {"run": run.id, "status": run.status, **report}
        if kind == "cancel":
            self.store.cancel(run)
            return run.record()
        self.store.drop(run)
        return {"run": run.id, "dropped": True}

    # -- stopping ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking work: uploads in progress are dropped, queries killed, runs interrupted."""
        deadline = time.monotonic() + self.options.shutdown_timeout
        with self._lock:
            self._stopping = True
        self.queries.stop()
        self.store.stop(max(0.5, deadline - time.monotonic() - 1.0))


def _descriptor_bytes(descriptor: flight.FlightDescriptor) -> bytes:
    if descriptor.descriptor_type != flight.DescriptorType.CMD:
        raise UserError("descriptor: expected a command descriptor (FlightDescriptor.for_command) holding JSON "
                        "or a Flight SQL command")
    raw = descriptor.command
    check_size(raw, "descriptor")
    return raw


def _flight_sql(raw: bytes) -> Message | None:
    return unpack_any(raw)


def _command(descriptor: flight.FlightDescriptor) -> dict[str, Any]:
    return parse_json(_descriptor_bytes(descriptor), "descriptor", '{"run": "<id>", "table": "events"}')


def _table_and_year(request: dict[str, Any]) -> tuple[str, int]:
    table, year = request.get("table"), request.get("year")
    if table not in TABLES:
        raise UserError(f"ticket: table: expected one of {', '.join(TABLES)}, got {shown(table)}")
    if isinstance(year, bool) or not isinstance(year, int):
        raise UserError(f"ticket: year: expected a year such as 2025, got {shown(year)}")
    return table, year


def _streamed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Errors while a result streams (a query past a limit, a file dropped meanwhile) reach the client as
    one line, like any other call's."""
    with flight_errors("do_get"):
        yield from batches


def _one_line(text: str) -> str:
    line = first_line(text)
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE] + "..."


@contextmanager
def flight_errors(call: str) -> Iterator[None]:
    """The library's errors as Flight errors with one line (also as extra_info); anything else as an
    internal error, logged with its traceback under a request id that the client's message names."""
    try:
        yield
    except flight.FlightError:
        raise
    except (ServerBusy, ClientGone, UserError, ResourceLimitError, WireError) as e:
        if isinstance(e, ClientGone):
            message = "cancelled: the client went away"
            raise flight.FlightCancelledError(message, message.encode()) from None
        message = _one_line(str(e))
        kind = flight.FlightUnavailableError if isinstance(e, ServerBusy) else flight.FlightServerError
        raise kind(message, message.encode()) from None
    except Exception as e:
        request = secrets.token_hex(4)
        print(f"internal error in {call}, request {request}:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        message = (f"internal error (request {request}): {type(e).__name__} in {call}; the server's log has the "
                   "details")
        raise flight.FlightInternalError(message, message.encode()) from None


def serve(options: ServeOptions, ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C: then no new work is taken, queries are killed, runs in progress are
    interrupted (their committed years kept), and the process exits within --shutdown-timeout."""
    tls = _tls(options)
    _check_address(options.host, options.port)
    store = RunStore(options.data_dir, options.max_runs)
    scheme = "grpc+tls" if tls else "grpc"
    host = f"[{options.host}]" if ":" in options.host else options.host  # an IPv6 address in a URI
    middleware = {"auth": BearerToken(options.token)} if options.token else None
    try:
        server = EventsServer(f"{scheme}://{host}:{options.port}", store, options,
                              tls_certificates=tls, middleware=middleware)
    except (pa.ArrowException, OSError) as e:
        store.stop()
        raise UserError(f"{options.host}:{options.port}: cannot serve there ({first_line(e)})") from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready:
            ready(f"{scheme}://{host}:{server.port}")
        while not stop.wait(0.5):
            pass
    finally:
        _shut_down(server, options.shutdown_timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _shut_down(server: EventsServer, timeout: float) -> None:
    """Stop the work, then gRPC, which waits for the calls still open (a client reading slowly, say): past
    the deadline the process leaves without them."""
    deadline = time.monotonic() + timeout
    server.stop()
    done = threading.Thread(target=server.shutdown, daemon=True, name="grpc-shutdown")
    done.start()
    done.join(max(0.5, deadline - time.monotonic()))
    if done.is_alive():
        print(f"warning: calls still open after --shutdown-timeout {timeout:g} s; exiting without them",
              file=sys.stderr)
        print("stopped", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(0)


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
    # gRPC would only log a mismatched or unreadable pair and fail later: check it here, naming the files
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(options.tls_cert, options.tls_key)
    except ssl.SSLError as e:
        reason = "the key does not match the certificate" if "KEY_VALUES_MISMATCH" in str(e) else (
            f"not a PEM certificate and its private key ({e.reason or first_line(e)})")
        raise UserError(f"--tls-cert {options.tls_cert}, --tls-key {options.tls_key}: {reason}") from None
    return [flight.CertKeyPair(pair[0], pair[1])]
