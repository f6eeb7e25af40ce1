"""Vectorized NumPy UDFs registered in every arrow-events SessionContext."""

from __future__ import annotations

import pyarrow as pa
from arrow_events.udfs.accrual import deferred, tiered_match
from arrow_events.udfs.hash_rng import DRAWS, draw, draw_key, employee_key, event_id, hash_rng, hash_rng_key
from datafusion import SessionContext, udf

__all__ = ["DRAWS", "deferred", "draw", "draw_key", "employee_key", "event_id", "hash_rng", "hash_rng_key",
           "register", "tiered_match"]

_DATE, _NUMBERS = pa.date32(), pa.list_(pa.float64())


def register(ctx: SessionContext) -> None:
    """Register hash_rng, hash_rng_key, draw_key, draw, employee_key, deferred and tiered_match
    in ``ctx`` (event ids are made outside SQL, by arrow_events.engine.emit)."""
    ctx.register_udf(
        udf(hash_rng, [pa.string(), pa.int64(), pa.string(), pa.int64()], pa.float64(), "immutable", "hash_rng")
    )
    ctx.register_udf(
        udf(hash_rng_key, [pa.int64(), pa.int64(), pa.string(), pa.int64()], pa.float64(), "immutable", "hash_rng_key")
    )
    ctx.register_udf(udf(draw_key, [pa.int64(), pa.int64(), pa.int64()], pa.int64(), "immutable", "draw_key"))
    ctx.register_udf(udf(draw, [pa.int64(), pa.string()], pa.float64(), "immutable", "draw"))
    ctx.register_udf(udf(employee_key, [pa.string()], pa.int64(), "immutable", "employee_key"))
    # the member's pay changes (promotion, merit) and deferral rate changes, (date, value) pairs
    pay_changes, rate_changes = [_DATE, pa.int64()] * 2, [_DATE, pa.float64()] * 2
    ctx.register_udf(udf(deferred(2), [_DATE, _DATE, pa.int64(), *pay_changes, pa.float64(), *rate_changes],
                         pa.int64(), "immutable", "deferred"))
    ctx.register_udf(udf(tiered_match, [pa.int64(), pa.int64(), _NUMBERS, _NUMBERS, _NUMBERS, pa.float64()],
                         pa.int64(), "immutable", "tiered_match"))
