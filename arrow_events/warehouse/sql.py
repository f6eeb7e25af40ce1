"""Read-only SQL over a warehouse, run by DataFusion: its tables (``events``, ``snapshot``, ``contributions``)
with ``simulation_year``, and (``manifests=True``) ``workforce_counts``, the yearly manifests' counts.

The Flight service answers SQL tickets with it, so clients pull aggregates rather than millions of
rows, and ``arrow-events sql`` runs it on a warehouse without a server: one guard for both. Only
queries run: DDL, DML (COPY, INSERT) and statements (SET) are refused at planning, and the memory
pool is bounded (sorts and aggregations spill to the temp directory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


def warehouse_context(out: Path, threads: int = 2, runtime: RuntimeEnvBuilder | None = None,
                      empty_when_missing: bool = False, manifests: bool = False) -> SessionContext:
    """A context over the warehouse ``out``: each contract table with years, as one table of its year
    partitions with ``simulation_year``. A table no year has is left out, or with ``empty_when_missing``
    registered empty, with its contract schema. With ``manifests``, also ``workforce_counts``."""
    config = (SessionConfig().with_target_partitions(threads)  # plain Utf8 out, which every Flight client reads
              .set("datafusion.execution.parquet.schema_force_view_types", "false")
              .set("datafusion.sql_parser.map_string_types_to_utf8view", "false"))
    ctx = SessionContext(config, runtime)
    for name, schema in TABLES.items():
        if existing_years(out, name):
            ctx.register_parquet(name, str(out / name), table_partition_cols=[PARTITION], file_extension=".parquet")
        elif empty_when_missing:
            ctx.register_record_batches(name, [[pa.RecordBatch.from_pylist([], schema.append(pa.field(*PARTITION)))]])
    if manifests:
        counts = workforce_counts(out)
        ctx.register_record_batches("workforce_counts", [counts.to_batches() or [
            pa.RecordBatch.from_pylist([], WORKFORCE_COUNTS_SCHEMA)]])
    return ctx


def plan_query(out: Path, sql: str, memory_limit: int, threads: int = 2, manifests: bool = False) -> DataFrame:
    """The query planned over ``out``'s committed years (nothing executed yet); UserError if it cannot be.
    ``manifests``: the manifests' ``workforce_counts`` are a table too."""
    if not isinstance(sql, str) or not sql.strip():
        raise UserError("query: expected SQL text, e.g. SELECT event_type, count(*) FROM events GROUP BY 1")
    runtime = RuntimeEnvBuilder().with_disk_manager_os().with_fair_spill_pool(memory_limit)
    ctx = warehouse_context(out, threads, runtime, manifests=manifests)
    try:
        return ctx.sql_with_options(sql, READ_ONLY)
    except Exception as e:  # DataFusion raises plain exceptions with its own message
        raise UserError(f"query: {first_line(e)}") from None


SERVER_LIMIT = "the server allows its queries (--query-memory)"


def run_query(out: Path, sql: str, memory_limit: int, threads: int = 2, manifests: bool = False,
              limit: str = SERVER_LIMIT) -> pa.RecordBatchReader:
    """The query's result as a stream of batches, executed as it is read; ``limit`` says, in a memory error,
    what set ``memory_limit``."""
    df = plan_query(out, sql, memory_limit, threads, manifests)
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
