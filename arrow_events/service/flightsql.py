"""Arrow Flight SQL, read-only, over the service's finished runs: what ADBC, the Flight SQL JDBC driver,
DBeaver and BI tools speak.

Each finished run is a schema named by its run id in the catalog ``arrow_events``, holding ``events``,
``snapshot`` and ``contributions`` (with ``simulation_year``): ``SELECT count(*) FROM "<run id>".events``.
Implemented, from Arrow's format/FlightSql.proto:

- ``CommandStatementQuery`` -> FlightInfo (the query planned, its schema) -> DoGet of its
  ``TicketStatementQuery``;
- prepared statements: the actions ``CreatePreparedStatement`` (with the result's schema) and
  ``ClosePreparedStatement``, ``CommandPreparedStatementQuery`` by GetFlightInfo, and by DoPut for binding
  parameters (``?`` or ``$1``, one row), answered with ``DoPutPreparedStatementResult``;
- metadata: ``CommandGetSqlInfo``, ``CommandGetCatalogs``, ``CommandGetDbSchemas``, ``CommandGetTables``
  (``include_schema`` too), ``CommandGetTableTypes``; the key and type-info commands answer empty.

Handles and tickets are stateless: a statement's handle is its SQL text and bound parameters (an Arrow
IPC stream), so the server keeps nothing per statement and a client that never closes one leaks
nothing. Queries run in the query workers with the JSON tickets' SQL guard and limits. Updates,
ingestion, Substrait and transactions are refused in one line: the server is read-only.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from arrow_events.errors import UserError
from arrow_events.schema import TABLES
from arrow_events.service.queries import Cancellable, QueryPool
from arrow_events.service.requests import MAX_REQUEST_BYTES, check_size, parse_json, sql_text
from arrow_events.service.runs import Run, RunStore
from arrow_events.service.wire import Message, encode, pack_any
from arrow_events.warehouse.sql import CATALOG, PARTITION
from arrow_events.warehouse.writer import existing_years

ACTIONS = {
    "CreatePreparedStatement": "Flight SQL: prepare a read-only query (ActionCreatePreparedStatementRequest)",
    "ClosePreparedStatement": "Flight SQL: close a prepared statement (nothing is held per statement)",
}
TABLE_TYPE = "TABLE"
SERVER_VERSION = "0.1.0"

# the result schemas the specification fixes for each metadata command
CATALOGS_SCHEMA = pa.schema([pa.field("catalog_name", pa.string(), False)])
DB_SCHEMAS_SCHEMA = pa.schema([pa.field("catalog_name", pa.string()), pa.field("db_schema_name", pa.string(), False)])
TABLES_SCHEMA = pa.schema([pa.field("catalog_name", pa.string()), pa.field("db_schema_name", pa.string()),
                           pa.field("table_name", pa.string(), False), pa.field("table_type", pa.string(), False)])
TABLES_WITH_SCHEMA = TABLES_SCHEMA.append(pa.field("table_schema", pa.binary(), False))
TABLE_TYPES_SCHEMA = pa.schema([pa.field("table_type", pa.string(), False)])
SQL_INFO_VALUE = pa.dense_union([
    pa.field("string_value", pa.string()), pa.field("bool_value", pa.bool_()),
    pa.field("bigint_value", pa.int64()), pa.field("int32_bitmask", pa.int32()),
    pa.field("string_list", pa.list_(pa.string())),
    pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.int32())))])
SQL_INFO_SCHEMA = pa.schema([pa.field("info_name", pa.uint32(), False), pa.field("value", SQL_INFO_VALUE, False)])
_KEYS = [pa.field("key_sequence", pa.int32(), False), pa.field("key_name", pa.string())]
PRIMARY_KEYS_SCHEMA = pa.schema([pa.field("catalog_name", pa.string()), pa.field("db_schema_name", pa.string()),
                                 pa.field("table_name", pa.string(), False),
                                 pa.field("column_name", pa.string(), False), *_KEYS])
FOREIGN_KEYS_SCHEMA = pa.schema(
    [pa.field(f"{side}_{name}", pa.string(), name in ("table_name", "column_name"))
     for side in ("pk", "fk") for name in ("catalog_name", "db_schema_name", "table_name", "column_name")]
    + [pa.field("key_sequence", pa.int32(), False), pa.field("fk_key_name", pa.string()),
       pa.field("pk_key_name", pa.string()), pa.field("update_rule", pa.uint8(), False),
       pa.field("delete_rule", pa.uint8(), False)])
XDBC_TYPE_INFO_SCHEMA = pa.schema([pa.field("type_name", pa.string(), False), pa.field("data_type", pa.int32(), False)])
EMPTY_RESULTS = {"CommandGetPrimaryKeys": PRIMARY_KEYS_SCHEMA, "CommandGetExportedKeys": FOREIGN_KEYS_SCHEMA,
                 "CommandGetImportedKeys": FOREIGN_KEYS_SCHEMA, "CommandGetCrossReference": FOREIGN_KEYS_SCHEMA,
                 "CommandGetXdbcTypeInfo": XDBC_TYPE_INFO_SCHEMA}
READ_ONLY_TEXT = "Flight SQL: this server is read-only: {what} is not supported"
REFUSED = {"CommandStatementUpdate": "an update", "CommandPreparedStatementUpdate": "an update",
           "CommandStatementIngest": "bulk ingestion", "CommandStatementSubstraitPlan": "a Substrait plan",
           "ActionCreatePreparedSubstraitPlanRequest": "a Substrait plan"}

# SqlInfo ids (FlightSql.proto's enum SqlInfo) -> (union type code, value)
_STRING, _BOOL, _BIGINT, _INT32 = 0, 1, 2, 3
SQL_INFO: dict[int, tuple[int, Any]] = {
    0: (_STRING, "arrow-events"),  # FLIGHT_SQL_SERVER_NAME
    1: (_STRING, SERVER_VERSION),  # FLIGHT_SQL_SERVER_VERSION
    2: (_STRING, pa.__version__),  # FLIGHT_SQL_SERVER_ARROW_VERSION
    3: (_BOOL, True),  # FLIGHT_SQL_SERVER_READ_ONLY
    4: (_BOOL, True),  # FLIGHT_SQL_SERVER_SQL
    5: (_BOOL, False),  # FLIGHT_SQL_SERVER_SUBSTRAIT
    8: (_INT32, 0),  # FLIGHT_SQL_SERVER_TRANSACTION: none
    9: (_BOOL, False),  # FLIGHT_SQL_SERVER_CANCEL: a client cancels by cancelling its call
    100: (_INT32, 0),  # FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT: handles never expire (they hold nothing)
    500: (_BOOL, False), 501: (_BOOL, False), 502: (_BOOL, False),  # SQL_DDL_CATALOG, _SCHEMA, _TABLE
    503: (_INT32, 3),  # SQL_IDENTIFIER_CASE: SQL_CASE_SENSITIVITY_LOWERCASE (unquoted names are lowered)
    504: (_STRING, '"'),  # SQL_IDENTIFIER_QUOTE_CHAR
    506: (_BOOL, True),  # SQL_ALL_TABLES_ARE_SELECTABLE
    529: (_STRING, "schema"), 530: (_STRING, "procedure"), 531: (_STRING, "catalog"),  # terms
    532: (_BOOL, True),  # SQL_CATALOG_AT_START
}


def _like(pattern: str | None) -> Callable[[str], bool]:
    """A Flight SQL filter pattern ('%' any run, '_' one character) as a test; None matches everything."""
    if pattern is None:
        return lambda name: True
    regex = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern) + r"\Z",
                       re.DOTALL)
    return lambda name: regex.match(name) is not None


def table_schema(schema: pa.Schema) -> pa.Schema:
    """A table (of its run's ``schemas``) as a query returns it: the table's schema and the partition column."""
    return schema.append(pa.field(*PARTITION, nullable=False))


def _handle(sql: str, params: bytes | None = None) -> bytes:
    handle = json.dumps({"sql": sql, "params": base64.b64encode(params).decode() if params else None}).encode()
    check_size(handle, "Flight SQL: the statement with its parameters")
    return handle


def _statement(handle: bytes) -> tuple[str, bytes | None]:
    value = parse_json(handle, "Flight SQL: prepared statement handle", '{"sql": "SELECT ..."}')
    sql = sql_text(value.get("sql"))
    params = value.get("params")
    try:
        return sql, base64.b64decode(params, validate=True) if params else None
    except (ValueError, TypeError):
        raise UserError("Flight SQL: prepared statement handle: its parameters are not base64") from None


def _ticket(handle: bytes) -> flight.Ticket:
    return flight.Ticket(pack_any("TicketStatementQuery", [(1, handle)]))


class FlightSql:
    """The Flight SQL commands, actions and tickets, over the store's finished runs and the query pool."""

    def __init__(self, store: RunStore, queries: QueryPool) -> None:
        self.store, self.queries = store, queries

    # -- what a statement sees -------------------------------------------------------------------

    def _runs(self) -> list[Run]:
        return [run for run in self.store.runs() if run.status == "done"]

    def _job(self, kind: str, sql: str, params: bytes | None) -> dict[str, Any]:
        """A query job over the finished runs the SQL names (a schema only exists if its id is in the text)."""
        text = sql.lower()
        warehouses = {run.id: str(self.store.out(run)) for run in self._runs() if run.id in text}
        return {"kind": kind, "sql": sql, "params": params, "warehouses": warehouses}

    def _schema(self, sql: str, params: bytes | None, context: Cancellable) -> pa.Schema:
        try:
            _, raw = self.queries.call(self._job("schema", sql, params), context)
        except UserError as e:
            if "not found" in str(e) and "table" in str(e):
                raise UserError(f'{e} (each finished run is a schema: FROM "<run id>".events)') from None
            raise
        return pa.ipc.read_schema(pa.py_buffer(raw))

    # -- GetFlightInfo / GetSchema ---------------------------------------------------------------

    def flight_info(self, context: Cancellable, descriptor: flight.FlightDescriptor,
                    message: Message) -> flight.FlightInfo:
        name = message.name
        if name == "CommandStatementQuery":
            sql = sql_text(message.text(1))
            handle = _handle(sql)
            schema = self._schema(sql, None, context)
        elif name == "CommandPreparedStatementQuery":
            handle = message.raw(1)
            sql, params = _statement(handle)
            schema = self._schema(sql, params, context)
        elif name in REFUSED:
            raise UserError(READ_ONLY_TEXT.format(what=REFUSED[name]))
        else:
            schema = self._metadata_schema(message)
            return flight.FlightInfo(schema, descriptor, [flight.FlightEndpoint(descriptor.command, [])], -1, -1)
        return flight.FlightInfo(schema, descriptor, [flight.FlightEndpoint(_ticket(handle), [])], -1, -1)

    def _metadata_schema(self, message: Message) -> pa.Schema:
        schemas = {"CommandGetCatalogs": CATALOGS_SCHEMA, "CommandGetDbSchemas": DB_SCHEMAS_SCHEMA,
                   "CommandGetTableTypes": TABLE_TYPES_SCHEMA, "CommandGetSqlInfo": SQL_INFO_SCHEMA, **EMPTY_RESULTS}
        if message.name == "CommandGetTables":
            return TABLES_WITH_SCHEMA if message.flag(5) else TABLES_SCHEMA
        if message.name not in schemas:
            raise UserError(f"Flight SQL: {message.name[:60]} is not supported by this server")
        return schemas[message.name]

    # -- DoGet -----------------------------------------------------------------------------------

    def do_get(self, context: Cancellable, message: Message) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        if message.name == "TicketStatementQuery":
            sql, params = _statement(message.raw(1))
            return self.queries.stream(self._job("query", sql, params), context)
        table = self._metadata(message)
        return table.schema, iter(table.to_batches())

    def _metadata(self, message: Message) -> pa.Table:
        name = message.name
        if name == "CommandGetCatalogs":
            return pa.table({"catalog_name": [CATALOG]}, schema=CATALOGS_SCHEMA)
        if name == "CommandGetDbSchemas":
            rows = [(CATALOG, run) for run, _ in self._schemas(message.text(1), message.text(2))]
            return pa.Table.from_pylist([dict(zip(DB_SCHEMAS_SCHEMA.names, r, strict=True)) for r in rows],
                                        schema=DB_SCHEMAS_SCHEMA)
        if name == "CommandGetTables":
            return self._tables(message)
        if name == "CommandGetTableTypes":
            return pa.table({"table_type": [TABLE_TYPE]}, schema=TABLE_TYPES_SCHEMA)
        if name == "CommandGetSqlInfo":
            return sql_info(message.uints(1))
        if name in EMPTY_RESULTS:  # no keys, no type catalogue: an empty answer keeps BI tools going
            return EMPTY_RESULTS[name].empty_table()
        raise UserError(f"Flight SQL: {name[:60]} is not supported by this server")

    def _schemas(self, catalog: str | None, pattern: str | None) -> list[tuple[str, Run]]:
        if catalog is not None and catalog != CATALOG:
            return []
        matches = _like(pattern)
        return [(run.id, run) for run in self._runs() if matches(run.id)]

    def _tables(self, message: Message) -> pa.Table:
        types = message.texts(4)
        with_schema = message.flag(5)
        matches = _like(message.text(3))
        rows = []
        if not types or TABLE_TYPE in types:
            for run_id, run in self._schemas(message.text(1), message.text(2)):
                out = self.store.out(run)
                for name in TABLES:
                    if matches(name) and existing_years(out, name):
                        row = {"catalog_name": CATALOG, "db_schema_name": run_id, "table_name": name,
                               "table_type": TABLE_TYPE}
                        if with_schema:
                            row["table_schema"] = table_schema(run.schemas[name]).serialize().to_pybytes()
                        rows.append(row)
        schema = TABLES_WITH_SCHEMA if with_schema else TABLES_SCHEMA
        return pa.Table.from_pylist(rows, schema=schema)

    # -- DoAction --------------------------------------------------------------------------------

    def do_action(self, context: Cancellable, kind: str, message: Message | None) -> list[flight.Result]:
        if kind == "ClosePreparedStatement":
            return []  # a handle holds nothing on the server
        if kind == "CreatePreparedStatement":
            if message is None or message.name != "ActionCreatePreparedStatementRequest":
                raise UserError("Flight SQL: CreatePreparedStatement expects an ActionCreatePreparedStatementRequest")
            sql = sql_text(message.text(1))
            schema = self._schema(sql, None, context)
            result = pack_any("ActionCreatePreparedStatementResult",
                              [(1, _handle(sql)), (2, schema.serialize().to_pybytes())])
            return [flight.Result(result)]
        what = REFUSED.get(message.name if message else "", f"the action {kind[:60]!r}")
        raise UserError(READ_ONLY_TEXT.format(what=what))

    # -- DoPut -----------------------------------------------------------------------------------

    def do_put(self, message: Message, reader: flight.MetadataRecordBatchReader,
               writer: flight.FlightMetadataWriter) -> None:
        """Parameters for a prepared statement: answered with the new handle that carries them."""
        if message.name != "CommandPreparedStatementQuery":
            raise UserError(READ_ONLY_TEXT.format(what=REFUSED.get(message.name, message.name[:60])))
        sql, _ = _statement(message.raw(1))
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, reader.schema) as out:
            for chunk in reader:
                if chunk.data is not None:
                    out.write_batch(chunk.data)
                if sink.tell() > MAX_REQUEST_BYTES:
                    raise UserError(f"Flight SQL: parameters over the {MAX_REQUEST_BYTES // 1024} KB limit")
        params = sink.getvalue()
        if pa.ipc.open_stream(params).read_all().num_rows > 1:
            raise UserError("Flight SQL: one row of parameters at a time (a batch of parameter sets is not supported)")
        writer.write(encode([(1, _handle(sql, params))]))  # DoPutPreparedStatementResult


def sql_info(wanted: list[int]) -> pa.Table:
    """CommandGetSqlInfo's answer: the ids asked for that the server knows (all when none are asked for)."""
    ids = [i for i in wanted if i in SQL_INFO] if wanted else sorted(SQL_INFO)
    children: list[list[Any]] = [[] for _ in range(6)]
    types, offsets = [], []
    for i in ids:
        code, value = SQL_INFO[i]
        types.append(code)
        offsets.append(len(children[code]))
        children[code].append(value)
    arrays = [pa.array(values, type=f.type) for values, f in zip(children, SQL_INFO_VALUE, strict=True)]
    union = pa.UnionArray.from_dense(pa.array(types, pa.int8()), pa.array(offsets, pa.int32()), arrays,
                                     [f.name for f in SQL_INFO_VALUE], list(range(6)))
    return pa.Table.from_arrays([pa.array(ids, pa.uint32()), union], schema=SQL_INFO_SCHEMA)

