"""Vectorized NumPy UDFs registered in every arrow-events SessionContext."""

from __future__ import annotations

import pyarrow as pa
from datafusion import SessionContext, udf

from udfs.hash_rng import DRAWS, draw, draw_key, employee_key, event_id, hash_rng, hash_rng_key

__all__ = ["DRAWS", "draw", "draw_key", "employee_key", "event_id", "hash_rng", "hash_rng_key", "register"]


def register(ctx: SessionContext) -> None:
    """Register hash_rng, hash_rng_key, draw_key, draw and employee_key in ``ctx`` (event ids are made
    outside SQL, by arrow_events.emit)."""
    ctx.register_udf(
        udf(hash_rng, [pa.string(), pa.int64(), pa.string(), pa.int64()], pa.float64(), "immutable", "hash_rng")
    )
    ctx.register_udf(
        udf(hash_rng_key, [pa.int64(), pa.int64(), pa.string(), pa.int64()], pa.float64(), "immutable", "hash_rng_key")
    )
    ctx.register_udf(udf(draw_key, [pa.int64(), pa.int64(), pa.int64()], pa.int64(), "immutable", "draw_key"))
    ctx.register_udf(udf(draw, [pa.int64(), pa.string()], pa.float64(), "immutable", "draw"))
    ctx.register_udf(udf(employee_key, [pa.string()], pa.int64(), "immutable", "employee_key"))
