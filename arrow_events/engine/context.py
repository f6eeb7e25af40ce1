"""The DataFusion SessionContext a year runs in: threads, batch size, UDFs, tables."""

from __future__ import annotations

import pyarrow as pa
from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext

from arrow_events import udfs

# Python UDFs pay a per-batch toll that large batches amortize (DATAFUSION_NOTES.md), but
# DataFusion sizes its buffers by the batch size: small cohorts run leaner on small batches. Past
# 32,768 rows the toll is noise: a 1M-employee year ran no slower than on 65,536 (generate 5.8 / 5.2 s
# against 6.1 / 5.7 s, interleaved), and its shards' working set shrank (5M x 1 peak 1.55 -> 1.48 GB).
BATCH_SIZE = 32768
SMALL_BATCH_SIZE = 8192
SMALL_COHORT = 200_000


def batch_size_for(rows: int) -> int:
    """The batch size for a cohort of ``rows`` employees (outputs do not depend on it)."""
    return SMALL_BATCH_SIZE if rows < SMALL_COHORT else BATCH_SIZE


def new_context(threads: int = 2, memory_limit: int | None = None, batch_size: int = BATCH_SIZE,
                draws: udfs.DrawCounter | None = None) -> SessionContext:
    """A context with ``threads`` partitions, an optional memory pool limit, and the UDFs registered.

    With a limit, sorts and aggregations spill to the OS temp directory; what cannot
    spill fails with "Resources exhausted" instead of growing past the limit.
    """
    config = (
        SessionConfig()
        .with_target_partitions(threads)
        .with_batch_size(batch_size)
        .set("datafusion.optimizer.enable_join_dynamic_filter_pushdown", "false")
        # one pass: the queries are written in the shape they run in; the second and third passes found
        # nothing more to rewrite, and cost ~10% of a small year (python -m perf.settings)
        .set("datafusion.optimizer.max_passes", "1")
        .set("datafusion.optimizer.join_reordering", "false")
        # plain Utf8 strings, the contract's type: no conversion of every string column at the writer
        .set("datafusion.sql_parser.map_string_types_to_utf8view", "false")
        .set("datafusion.execution.parquet.schema_force_view_types", "false")  # relations read back, likewise
    )
    runtime = None
    if memory_limit is not None:
        runtime = RuntimeEnvBuilder().with_disk_manager_os().with_fair_spill_pool(memory_limit)
    ctx = SessionContext(config, runtime)
    udfs.register(ctx, draws)
    return ctx


def register_tables(ctx: SessionContext, tables: dict[str, pa.Table]) -> None:
    """Register Arrow tables by name, replacing any earlier table of that name."""
    for name, table in tables.items():
        if ctx.table_exist(name):
            ctx.deregister_table(name)
        batches = table.to_batches(max_chunksize=BATCH_SIZE) or [pa.RecordBatch.from_pylist([], table.schema)]
        ctx.register_record_batches(name, [batches])
