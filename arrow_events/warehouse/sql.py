"""Read-only SQL over a warehouse, run by DataFusion: its tables (``events``, ``snapshot``, ``contributions``)
with ``simulation_year``, and (``manifests=True``) ``workforce_counts``, the yearly manifests' counts.

The Flight service answers SQL tickets with it, so clients pull aggregates rather than millions of
rows, and ``arrow-events sql`` runs it on a warehouse without a server: one guard for both. Only
queries run: DDL, DML (COPY, INSERT) and statements (SET) are refused at planning, and the memory
pool is bounded (sorts and aggregations spill to the temp directory). Several warehouses can be
queried at once, each as a schema of the catalog ``arrow_events`` (Flight SQL's view: a schema per
run), and a query may carry positional parameters (``?`` or ``$1``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from datafusion import DataFrame, RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions

from arrow_events.engine.year import COUNTS
from arrow_events.errors import ResourceLimitError, UserError, first_line
from arrow_events.options import parse_size
from arrow_events.schema import TABLES
from arrow_events.warehouse.manifest import read_manifest
from arrow_events.warehouse.writer import existing_years, manifest_path

PARTITION = ("simulation_year", pa.int32())  # the Hive partition key, in the directory names
READ_ONLY = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)
CATALOG = "arrow_events"  # the catalog holding one schema per warehouse, when several are queried
# the manifests' workforce counts (docs/model.md §4), one row per year
WORKFORCE_COUNTS_SCHEMA = pa.schema([PARTITION, ("scenario_id", pa.string()), ("seed", pa.int64()),
                                     *((name, pa.int64()) for name in COUNTS)])


def workforce_counts(out: Path) -> pa.Table:
    """Each committed year's workforce counts as its manifest records them (a manifest that cannot be read, or
    that has none, gives NULLs: validate says why)."""
    rows = []
    for year in existing_years(out, "snapshot"):
        try:
            manifest = read_manifest(manifest_path(out, year))
            counts, scenario, seed = manifest.workforce_counts, manifest.scenario_id, manifest.seed
        except (OSError, ValueError, TypeError):
            counts, scenario, seed = {}, None, None
        rows.append({"simulation_year": year, "scenario_id": scenario, "seed": seed,
                     **{name: counts.get(name) if isinstance(counts, dict) else None for name in COUNTS}})
    return pa.Table.from_pylist(rows, WORKFORCE_COUNTS_SCHEMA)


def _config(threads: int) -> SessionConfig:
    return (SessionConfig().with_target_partitions(threads)  # plain Utf8 out, which every Flight client reads
            .set("datafusion.execution.parquet.schema_force_view_types", "false")
            .set("datafusion.sql_parser.map_string_types_to_utf8view", "false"))


def _register(ctx: SessionContext, out: Path, schema_name: str | None, empty_when_missing: bool) -> None:
    for name, schema in TABLES.items():
        qualified = f'"{schema_name}".{name}' if schema_name else name
        if existing_years(out, name):
            ctx.register_parquet(qualified, str(out / name), table_partition_cols=[PARTITION],
                                 file_extension=".parquet")
        elif empty_when_missing:
            ctx.register_record_batches(qualified,
                                        [[pa.RecordBatch.from_pylist([], schema.append(pa.field(*PARTITION)))]])


def warehouse_context(out: Path, threads: int = 2, runtime: RuntimeEnvBuilder | None = None,
                      empty_when_missing: bool = False, manifests: bool = False) -> SessionContext:
    """A context over the warehouse ``out``: each contract table with years, as one table of its year
    partitions with ``simulation_year``. A table no year has is left out, or with ``empty_when_missing``
    registered empty, with its contract schema. With ``manifests``, also ``workforce_counts``."""
    ctx = SessionContext(_config(threads), runtime)
    _register(ctx, out, None, empty_when_missing)
    if manifests:
        counts = workforce_counts(out)
        ctx.register_record_batches("workforce_counts", [counts.to_batches() or [
            pa.RecordBatch.from_pylist([], WORKFORCE_COUNTS_SCHEMA)]])
    return ctx


def warehouses_context(warehouses: Mapping[str, Path], threads: int = 2,
                       runtime: RuntimeEnvBuilder | None = None) -> SessionContext:
    """A context with each warehouse as a schema of the catalog CATALOG, named by its key (a run id);
    the key "" puts that warehouse's tables unqualified."""
    from datafusion.catalog import Schema

    ctx = SessionContext(_config(threads).with_default_catalog_and_schema(CATALOG, "public")
                         .with_create_default_catalog_and_schema(True), runtime)
    catalog = ctx.catalog(CATALOG)
    for name, out in warehouses.items():
        if name:
            catalog.register_schema(name, Schema.memory_schema())
        _register(ctx, Path(out), name or None, False)
    return ctx


def positional_placeholders(sql: str) -> str:
    """``?`` placeholders (ODBC, JDBC and ADBC's style) as DataFusion's ``$1, $2, ...``; a ``?`` inside a
    string, a quoted identifier or a comment stays as it is."""
    out, n, i = [], 0, 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"":  # a literal or quoted identifier, its doubled quote as an escape
            end = i + 1
            while end < len(sql) and not (sql[end] == ch and sql[end + 1:end + 2] != ch):
                end += 2 if sql[end] == ch else 1
            out.append(sql[i:end + 1])
            i = end + 1
        elif sql.startswith("--", i) or sql.startswith("/*", i):
            end = sql.find("\n" if ch == "-" else "*/", i + 2)
            end = len(sql) if end < 0 else end + (1 if ch == "-" else 2)
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def plan_query(warehouses: Path | Mapping[str, Path], sql: str, memory_limit: int, threads: int = 2,
               params: list[Any] | None = None, manifests: bool = False) -> DataFrame:
    """The query planned (nothing executed yet) over a warehouse's committed years, or over several as
    schemas; ``params`` fill the placeholders in order; with ``manifests`` (one warehouse), its
    ``workforce_counts`` too. UserError if it cannot be planned."""
    if not isinstance(sql, str) or not sql.strip():
        raise UserError("query: expected SQL text, e.g. SELECT event_type, count(*) FROM events GROUP BY 1")
    runtime = RuntimeEnvBuilder().with_disk_manager_os().with_fair_spill_pool(memory_limit)
    if isinstance(warehouses, Mapping):
        ctx = warehouses_context(warehouses, threads, runtime)
    else:
        ctx = warehouse_context(Path(warehouses), threads, runtime, manifests=manifests)
    values = {str(i + 1): v for i, v in enumerate(params)} if params else None
    try:
        return ctx.sql_with_options(positional_placeholders(sql), READ_ONLY, param_values=values)
    except Exception as e:  # DataFusion raises plain exceptions with its own message
        raise UserError(f"query: {first_line(e)}") from None


SERVER_LIMIT = "the server allows its queries (--query-memory)"


def run_query(warehouses: Path | Mapping[str, Path], sql: str, memory_limit: int, threads: int = 2,  # noqa: PLR0913
              params: list[Any] | None = None, manifests: bool = False,
              limit: str = SERVER_LIMIT) -> pa.RecordBatchReader:
    """The query's result as a stream of batches, executed as it is read; ``limit`` says, in a memory error,
    what set ``memory_limit``."""
    df = plan_query(warehouses, sql, memory_limit, threads, params, manifests)
    try:
        stream = pa.RecordBatchReader.from_stream(df)
    except Exception as e:
        raise _execution_error(e, limit) from None
    return pa.RecordBatchReader.from_batches(stream.schema, _batches(stream, limit))


def query(warehouse: str | Path, sql: str, memory_limit: int | str = "2GB", threads: int = 2) -> pa.Table:
    """Read-only SQL over a warehouse, as ``arrow-events sql`` runs it: its tables ``events``, ``snapshot``,
    ``contributions`` (with ``simulation_year``) and ``workforce_counts`` (the manifests' counts). The same
    guard as Flight's SQL tickets: only queries, within ``memory_limit`` (bytes, or text like "2GB")."""
    out = Path(warehouse)
    if not existing_years(out, "snapshot"):
        raise UserError(f"{out}: not an arrow-events warehouse with a simulated year (no "
                        "snapshot/simulation_year=<year>/ inside)")
    limit = parse_size(memory_limit, "memory_limit")
    return run_query(out, sql, limit, threads, manifests=True, limit="its memory_limit").read_all()


def _batches(stream: pa.RecordBatchReader, limit: str) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = stream.read_next_batch()
        except StopIteration:
            return
        except Exception as e:
            raise _execution_error(e, limit) from None
        yield batch


def _execution_error(e: Exception, limit: str) -> Exception:
    if "Resources exhausted" in str(e):
        return ResourceLimitError(f"query: needs more memory than {limit}: {first_line(e)}")
    return UserError(f"query: {first_line(e)}")
