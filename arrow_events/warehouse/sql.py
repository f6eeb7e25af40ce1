"""Read-only SQL over a warehouse, run by DataFusion: its tables (``events``, ``snapshot``, ``contributions``)
with ``simulation_year``.

The Flight service answers SQL tickets with it, so clients pull aggregates rather than millions of
rows. Only queries run: DDL, DML (COPY, INSERT) and statements (SET) are refused at planning, and
the memory pool is bounded (sorts and aggregations spill to the temp directory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from datafusion import DataFrame, RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions

from arrow_events.errors import ResourceLimitError, UserError, first_line
from arrow_events.schema import TABLES
from arrow_events.warehouse.writer import existing_years

PARTITION = ("simulation_year", pa.int32())  # the Hive partition key, in the directory names
READ_ONLY = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)


def warehouse_context(out: Path, threads: int = 2, runtime: RuntimeEnvBuilder | None = None,
                      empty_when_missing: bool = False) -> SessionContext:
    """A context over the warehouse ``out``: each contract table with years, as one table of its year
    partitions with ``simulation_year``. A table no year has is left out, or with ``empty_when_missing``
    registered empty, with its contract schema."""
    config = (SessionConfig().with_target_partitions(threads)  # plain Utf8 out, which every Flight client reads
              .set("datafusion.execution.parquet.schema_force_view_types", "false")
              .set("datafusion.sql_parser.map_string_types_to_utf8view", "false"))
    ctx = SessionContext(config, runtime)
    for name, schema in TABLES.items():
        if existing_years(out, name):
            ctx.register_parquet(name, str(out / name), table_partition_cols=[PARTITION], file_extension=".parquet")
        elif empty_when_missing:
            ctx.register_record_batches(name, [[pa.RecordBatch.from_pylist([], schema.append(pa.field(*PARTITION)))]])
    return ctx


def plan_query(out: Path, sql: str, memory_limit: int, threads: int = 2) -> DataFrame:
    """The query planned over ``out``'s committed years (nothing executed yet); UserError if it cannot be."""
    if not isinstance(sql, str) or not sql.strip():
        raise UserError("query: expected SQL text, e.g. SELECT event_type, count(*) FROM events GROUP BY 1")
    runtime = RuntimeEnvBuilder().with_disk_manager_os().with_fair_spill_pool(memory_limit)
    ctx = warehouse_context(out, threads, runtime)
    try:
        return ctx.sql_with_options(sql, READ_ONLY)
    except Exception as e:  # DataFusion raises plain exceptions with its own message
        raise UserError(f"query: {first_line(e)}") from None


def run_query(out: Path, sql: str, memory_limit: int, threads: int = 2) -> pa.RecordBatchReader:
    """The query's result as a stream of batches, executed as it is read."""
    df = plan_query(out, sql, memory_limit, threads)
    try:
        stream = pa.RecordBatchReader.from_stream(df)
    except Exception as e:
        raise _execution_error(e) from None
    return pa.RecordBatchReader.from_batches(stream.schema, _batches(stream))


def _batches(stream: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = stream.read_next_batch()
        except StopIteration:
            return
        except Exception as e:
            raise _execution_error(e) from None
        yield batch


def _execution_error(e: Exception) -> Exception:
    if "Resources exhausted" in str(e):
        return ResourceLimitError(f"query: needs more memory than the server allows its queries "
                                  f"(--query-memory): {first_line(e)}")
    return UserError(f"query: {first_line(e)}")
