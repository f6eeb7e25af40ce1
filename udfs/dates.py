"""The calendar rules the model uses (docs/model.md §1 and §4), once, for SQL and Python alike.

- ``whole_years(d, year)``: whole years completed on Jan 1 of ``year`` since ``d`` (age from a birth
  date, tenure from a hire date): the calendar difference, less one unless ``d`` is a Jan 1.
- ``anniversary(d, years)``: the same month and day ``years`` later (or earlier); Feb 29 falls on
  Mar 1 in a year that has none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

_DAY = "datetime64[D]"


def _days(dates: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """A date32 array as datetime64[D], nulls filled with the epoch, and its null mask (None: no nulls)."""
    if isinstance(dates, pa.ChunkedArray):
        dates = dates.combine_chunks()
    mask = dates.is_null().to_numpy(zero_copy_only=False) if dates.null_count else None
    days = dates.fill_null(0).to_numpy(zero_copy_only=False).astype(_DAY) if mask is not None else \
        dates.to_numpy(zero_copy_only=False).astype(_DAY)
    return days, mask


def _whole(values: Any, n: int) -> np.ndarray:
    """An int64 column or a scalar as an array of ``n`` int64."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.full(n, int(values), dtype=np.int64)


def whole_years_np(days: np.ndarray, year: np.ndarray | int) -> np.ndarray:
    years = days.astype("datetime64[Y]")
    not_jan1 = days != years.astype(_DAY)
    return np.asarray(year, dtype=np.int64) - (years.astype(np.int64) + 1970) - not_jan1


def anniversary_np(days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    month = days.astype("datetime64[M]")
    into = (days - month.astype(_DAY)).astype(np.int64)  # days into the month: Feb 29 runs on into Mar 1
    moved = (month + np.asarray(years, dtype=np.int64) * 12).astype(_DAY)
    return moved + into


def whole_years(dates: pa.Array, year: pa.Array) -> pa.Array:
    """UDF: whole years completed on Jan 1 of ``year`` since each date (int64; null date, null)."""
    days, mask = _days(dates)
    return pa.array(whole_years_np(days, _whole(year, len(days))), pa.int64(), mask=mask)


def anniversary(dates: pa.Array, years: pa.Array) -> pa.Array:
    """UDF: each date moved by ``years`` calendar years, Feb 29 to Mar 1 where needed (date32)."""
    days, mask = _days(dates)
    return pa.array(anniversary_np(days, _whole(years, len(days))), pa.date32(), mask=mask)
