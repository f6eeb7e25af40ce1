"""The DataFusion SessionContext a year runs in: threads, batch size, UDFs, tables."""

from __future__ import annotations

import pyarrow as pa
from datafusion import SessionConfig, SessionContext

import udfs

# Python UDFs pay a per-batch toll; large batches amortize it (DATAFUSION_NOTES.md).
BATCH_SIZE = 65536


def new_context(threads: int = 2) -> SessionContext:
    """A context with ``threads`` partitions and the hash_rng UDFs registered."""
    config = (
        SessionConfig()
        .with_target_partitions(threads)
        .with_batch_size(BATCH_SIZE)
        .set("datafusion.optimizer.enable_join_dynamic_filter_pushdown", "false")
    )
    ctx = SessionContext(config)
    udfs.register(ctx)
    return ctx


def register_tables(ctx: SessionContext, tables: dict[str, pa.Table]) -> None:
    """Register Arrow tables by name, replacing any earlier table of that name."""
    for name, table in tables.items():
        if ctx.table_exist(name):
            ctx.deregister_table(name)
        batches = table.to_batches(max_chunksize=BATCH_SIZE) or [pa.RecordBatch.from_pylist([], table.schema)]
        ctx.register_record_batches(name, [batches])
