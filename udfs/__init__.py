"""Vectorized NumPy UDFs registered in every arrow-events SessionContext."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import pyarrow as pa
from datafusion import SessionContext, udf

from arrow_events.udfs.accrual import deferred, tiered_match
from arrow_events.udfs.dates import add_days, anniversary, whole_years
from arrow_events.udfs.hash_rng import draw, draw_key, employee_key, hash_rng, hash_rng_key

__all__ = ["DrawCounter", "add_days", "anniversary", "deferred", "draw", "draw_key", "employee_key", "hash_rng",
           "hash_rng_key", "register", "tiered_match", "whole_years"]

_DATE, _NUMBERS = pa.date32(), pa.list_(pa.float64())


@dataclass
class DrawCounter:
    """Rows drawn by one context's UDFs (``register(ctx, draws=...)``): proves each draw is computed once."""

    rows: int = 0  # rows drawn (hash_rng_key, draw)
    calls: int = 0  # batches drawn

    def counting(self, fn: Callable[..., pa.Array]) -> Callable[..., pa.Array]:
        @wraps(fn)
        def counted(first: pa.Array, *rest: pa.Array) -> pa.Array:
            self.rows += len(first)
            self.calls += 1
            return fn(first, *rest)

        return counted


def register(ctx: SessionContext, draws: DrawCounter | None = None) -> None:
    """Register hash_rng_key, draw_key, draw, employee_key, whole_years, anniversary, add_days, deferred and
    tiered_match in ``ctx``; with
    ``draws``, the rows each draw UDF computes are counted there (event ids are made outside SQL, by
    arrow_events.engine.emit; the string-id ``hash_rng`` is the reference the keyed draws equal)."""
    keyed, by_key = (draws.counting(hash_rng_key), draws.counting(draw)) if draws else (hash_rng_key, draw)
    ctx.register_udf(
        udf(keyed, [pa.int64(), pa.int64(), pa.string(), pa.int64()], pa.float64(), "immutable", "hash_rng_key")
    )
    ctx.register_udf(udf(draw_key, [pa.int64(), pa.int64(), pa.int64()], pa.int64(), "immutable", "draw_key"))
    ctx.register_udf(udf(by_key, [pa.int64(), pa.string()], pa.float64(), "immutable", "draw"))
    ctx.register_udf(udf(employee_key, [pa.string()], pa.int64(), "immutable", "employee_key"))
    # the calendar rules (ages, tenure, birthdays), one definition for SQL and Python
    ctx.register_udf(udf(whole_years, [_DATE, pa.int64()], pa.int64(), "immutable", "whole_years"))
    ctx.register_udf(udf(anniversary, [_DATE, pa.int64()], _DATE, "immutable", "anniversary"))
    ctx.register_udf(udf(add_days, [_DATE, pa.int64()], _DATE, "immutable", "add_days"))
    # the member's pay changes (promotion, merit) and deferral rate changes, (date, value) pairs
    pay_changes, rate_changes = [_DATE, pa.int64()] * 2, [_DATE, pa.float64()] * 2
    ctx.register_udf(udf(deferred(2), [_DATE, _DATE, pa.int64(), *pay_changes, pa.float64(), *rate_changes],
                         pa.int64(), "immutable", "deferred"))
    ctx.register_udf(udf(tiered_match, [pa.int64(), pa.int64(), _NUMBERS, _NUMBERS, _NUMBERS, pa.float64()],
                         pa.int64(), "immutable", "tiered_match"))
