"""Day-weighted sums over a member's year, and the tiered match, in exact integer arithmetic (NumPy).

Pay and the deferral rate are step functions of the day: a starting value, then changes,
each from its date on (a NULL date: no change). The value on a day is that of the latest
change dated on or before it; changes on the same day apply in the order given, so the
last of them holds (the SQL passes them in the contract's event order).

Money is rounded half up to the cent, and a half cent is common (a 50% match of an odd
number of cents), so nothing here goes through a binary fraction: pay is integer cents,
rates count in millionths (the engine keeps rates to 6 decimals), and the sums are int64.
The SQL divides them by the days in the year, in integers too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NEVER = np.iinfo(np.int32).max  # a change that does not happen: later than any day
MICRO = 1_000_000  # rates count in millionths


def _days(dates: pa.Array) -> np.ndarray:
    return dates.cast(pa.int32()).fill_null(_NEVER).to_numpy(zero_copy_only=False).astype(np.int64)


def _integers(values: pa.Array, scale: int = 1) -> np.ndarray:
    """Values as int64, times ``scale`` (rates x MICRO), NULL as 0."""
    numbers = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    return np.rint(numbers * scale).astype(np.int64)


class _Steps:
    """A step function per row: ``start`` until the first change, then each change from its date."""

    def __init__(self, start: pa.Array, dates: pa.Array, values: pa.Array, scale: int = 1) -> None:
        rows = len(start)
        self.start = _integers(start, scale)
        flat_dates, flat_values = pc.list_flatten(dates), pc.list_flatten(values)
        k = len(flat_dates) // rows if rows else 0  # every row has the same number of changes
        self.on = _days(flat_dates).reshape(rows, k)
        self.value = _integers(flat_values, scale).reshape(rows, k)

    def at(self, day: np.ndarray) -> np.ndarray:
        """Each row's value on its ``day``: the latest change dated on or before it, the last given on a tie."""
        value = self.start.copy()
        latest = np.full(len(day), np.iinfo(np.int64).min)
        for k in range(self.on.shape[1]):
            on = self.on[:, k]
            takes = (on <= day) & (on >= latest)
            value = np.where(takes, self.value[:, k], value)
            latest = np.where(takes, on, latest)
        return value


def _day_sum(first_day: pa.Array, last_day: pa.Array, *functions: _Steps) -> np.ndarray:
    """Sum over the days first..last (inclusive) of the product of ``functions`` (int64)."""
    first, end = _days(first_day), _days(last_day) + 1
    # the product only changes where one of its factors does: cut the days there
    cuts = np.concatenate([first[:, None], *(f.on for f in functions), end[:, None]], axis=1)
    cuts = np.sort(np.clip(cuts, first[:, None], end[:, None]), axis=1)
    total = np.zeros(len(first), np.int64)
    for k in range(cuts.shape[1] - 1):
        value = np.ones(len(first), np.int64)
        for f in functions:
            value *= f.at(cuts[:, k])
        total += value * (cuts[:, k + 1] - cuts[:, k])  # an empty span adds 0
    return total


def earned(first_day: pa.Array, last_day: pa.Array, pay: pa.Array, pay_change_on: pa.Array,
           pay_change: pa.Array) -> pa.Array:
    """Sum of the pay rate (cents a year) over the days worked: days in the year x the pay earned."""
    return pa.array(_day_sum(first_day, last_day, _Steps(pay, pay_change_on, pay_change)), pa.int64())


def deferred(first_day: pa.Array, last_day: pa.Array, pay: pa.Array, pay_change_on: pa.Array, pay_change: pa.Array,
             rate: pa.Array, rate_change_on: pa.Array, rate_change: pa.Array) -> pa.Array:
    """Sum of pay rate x deferral rate in millionths over the days worked: days x MICRO x the deferrals
    elected (exact in int64 for pay up to $250 million a year)."""
    return pa.array(_day_sum(first_day, last_day, _Steps(pay, pay_change_on, pay_change),
                             _Steps(rate, rate_change_on, rate_change, MICRO)), pa.int64())


def tiered_match(deferrals: pa.Array, pay: pa.Array, tier_min: pa.Array, tier_max: pa.Array, tier_rate: pa.Array,
                 max_match: pa.Array) -> pa.Array:
    """The match in cents, rounded half up: the sum over the row's tiers of match_rate x max(0,
    min(deferrals, employee_max x pay) - employee_min x pay), at most max_match x pay. That is the
    tiers applied to the effective rate deferrals / pay, without dividing. Rows may differ in tiers.

    Exact: amounts count in millionths of a cent (times rates in millionths, in two int64 parts)."""
    d, p = _integers(deferrals), _integers(pay)
    lengths = pc.list_value_length(tier_min).fill_null(0).to_numpy(zero_copy_only=False)
    row = np.repeat(np.arange(len(d)), lengths)
    lo, hi, rate = (_integers(pc.list_flatten(t), MICRO) for t in (tier_min, tier_max, tier_rate))
    # each tier's share of the deferrals, in millionths of a cent
    part = np.maximum(0, np.minimum(d[row] * MICRO, hi * p[row]) - lo * p[row])
    # rate x part, in millionths of millionths of a cent, as MICRO x high + low
    high = np.zeros(len(d), np.int64)
    low = np.zeros(len(d), np.int64)
    np.add.at(high, row, rate * (part // MICRO))
    np.add.at(low, row, rate * (part % MICRO))
    high, low = high + low // MICRO, low % MICRO
    cap = _integers(max_match, MICRO) * p  # the cap, in the unit of ``high``
    over = (high > cap) | ((high == cap) & (low > 0))
    high, low = np.where(over, cap, high), np.where(over, 0, low)
    cents, rest = high // MICRO, high % MICRO
    return pa.array(cents + (rest * MICRO + low >= MICRO * MICRO // 2), pa.int64())
