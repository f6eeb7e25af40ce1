"""What a member defers over a year whose deferral rate changes, and the tiered match: exact
integer arithmetic in NumPy, for queries/contributions.sql.

Pay and the deferral rate are step functions of the day: a starting value, then changes,
each from its date on (a NULL date: no change). The value on a day is that of the latest
change dated on or before it; changes on the same day apply in the order given, so the
last of them holds. (Pay earned, one step function alone, is plain SQL; so are deferrals
at one rate all year.)

Money is rounded half up to the cent, and a half cent is common (a 50% match of an odd
number of cents), so nothing here goes through a binary fraction: pay is integer cents,
rates count in millionths (the engine keeps rates to 6 decimals), and the sums are int64.
The SQL divides them by the days in the year, in integers too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NEVER = np.iinfo(np.int32).max  # a change that does not happen: later than any day
MICRO = 1_000_000  # rates count in millionths


def _days(dates: pa.Array) -> np.ndarray:
    return dates.cast(pa.int32()).fill_null(_NEVER).to_numpy(zero_copy_only=False).astype(np.int64)


def _integers(values: pa.Array, scale: int = 1) -> np.ndarray:
    """Values as int64, times ``scale`` (rates x MICRO), NULL as 0."""
    if pa.types.is_integer(values.type) and scale == 1:
        return values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    numbers = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    return np.rint(numbers * scale).astype(np.int64)


def _changes(pairs: tuple[pa.Array, ...], scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(date, value) argument pairs as (k, rows) arrays of days and integer values."""
    on = np.stack([_days(d) for d in pairs[0::2]])
    return on, np.stack([_integers(v, scale) for v in pairs[1::2]])


def _in_date_order(on: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's changes in date order, the order given on a tie (so the last of a day holds).

    An odd-even transposition sort over the few changes, all rows at once: a row-by-row sort of
    2-4 elements costs more in calls than in comparisons."""
    on, value = on.copy(), value.copy()
    k = len(on)
    for p in range(k):
        for a in range(p % 2, k - 1, 2):
            swap = on[a] > on[a + 1]  # strictly: equal dates keep their order
            if swap.any():
                on[a], on[a + 1] = np.where(swap, on[a + 1], on[a]), np.where(swap, on[a], on[a + 1])
                value[a], value[a + 1] = np.where(swap, value[a + 1], value[a]), np.where(swap, value[a], value[a + 1])
    return on, value


class _Steps:
    """A step function per row, as pieces: ``value[i]`` holds on days ``start[i]`` (inclusive) to
    ``end[i]`` (exclusive), within the row's days ``first`` to ``stop`` (exclusive)."""

    def __init__(self, first: np.ndarray, stop: np.ndarray, initial: np.ndarray, on: np.ndarray,
                 value: np.ndarray) -> None:
        on, value = _in_date_order(on, value)
        cuts = np.clip(on, first, stop)
        self.start = np.concatenate([first[None], cuts])
        self.end = np.concatenate([cuts, stop[None]])
        self.value = np.concatenate([initial[None], value])


def _span(first_day: pa.Array, stop_day: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The days worked, first (inclusive) to stop (exclusive)."""
    return _days(first_day), _days(stop_day)


def deferred(pay_changes: int) -> Callable[..., pa.Array]:
    """The UDF for ``pay_changes`` (date, pay) pairs after the pay, then the deferral rate and
    (date, rate) pairs: the sum of pay x deferral rate in millionths over the days first_day to
    stop_day (exclusive): days x MICRO x the deferrals elected (exact in int64 for pay up to
    $250 million a year)."""

    def deferred_days(first_day: pa.Array, stop_day: pa.Array, pay: pa.Array, *changes: pa.Array) -> pa.Array:
        pay_pairs, rate, rate_pairs = changes[:2 * pay_changes], changes[2 * pay_changes], changes[2 * pay_changes + 1:]
        initial_rate, (rate_on, rate_value) = _integers(rate, MICRO), _changes(rate_pairs, MICRO)
        total = np.zeros(len(initial_rate), np.int64)
        saving = np.flatnonzero((initial_rate != 0) | (rate_value != 0).any(axis=0))  # the rest defer nothing
        if not len(saving):
            return pa.array(total, pa.int64())
        first, stop = (x[saving] for x in _span(first_day, stop_day))
        pay_on, pay_value = _changes(pay_pairs, 1)
        f = _Steps(first, stop, _integers(pay)[saving], pay_on[:, saving], pay_value[:, saving])
        g = _Steps(first, stop, initial_rate[saving], rate_on[:, saving], rate_value[:, saving])
        part = np.zeros(len(saving), np.int64)
        for j in range(len(g.value)):  # each rate piece, times the pay earned over it
            for i in range(len(f.value)):
                days = np.minimum(f.end[i], g.end[j]) - np.maximum(f.start[i], g.start[j])
                part += g.value[j] * f.value[i] * np.maximum(days, 0)
        total[saving] = part
        return pa.array(total, pa.int64())

    return deferred_days


def _row_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sums of consecutive runs of ``values``, ``lengths[r]`` of them for row r (int64, exact)."""
    sums = np.zeros(len(lengths), np.int64)
    filled = lengths > 0
    if filled.any():
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        sums[filled] = np.add.reduceat(values, starts[filled])
    return sums


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
    high, low = _row_sums(rate * (part // MICRO), lengths), _row_sums(rate * (part % MICRO), lengths)
    high, low = high + low // MICRO, low % MICRO
    cap = _integers(max_match, MICRO) * p  # the cap, in the unit of ``high``
    over = (high > cap) | ((high == cap) & (low > 0))
    high, low = np.where(over, cap, high), np.where(over, 0, low)
    cents, rest = high // MICRO, high % MICRO
    return pa.array(cents + (rest * MICRO + low >= MICRO * MICRO // 2), pa.int64())
