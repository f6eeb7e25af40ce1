"""The calendar UDFs (udfs/dates.py: integer arithmetic on day numbers) against Python's datetime."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from arrow_events.udfs import add_days, anniversary, whole_years

# every day from 1896 to 2104: leap days, century years (1900 and 2100 have no Feb 29, 2000 has) and
# dates before the epoch, whose day numbers are negative
FIRST, LAST = dt.date(1896, 1, 1), dt.date(2104, 12, 31)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(0, (LAST - FIRST).days, 3)]
EDGES = [dt.date(y, m, d) for y in (1900, 1969, 1970, 2000, 2023, 2024, 2100) for m, d in
         ((1, 1), (2, 28), (2, 29), (3, 1), (12, 31)) if (m, d) != (2, 29) or y % 4 == 0 and y % 100 or y % 400 == 0]
DATES = pa.array(DAYS + EDGES, pa.date32())
# dates within 1900-2199 only: looked up in the table of those years, where the dates above (1896-1899
# among them) go through the arithmetic
IN_TABLE = pa.array([d for d in DAYS + EDGES if d.year >= 1900] + [dt.date(2199, 12, 31), dt.date(2150, 2, 28)],
                    pa.date32())


def moved(d: dt.date, years: int) -> dt.date:
    """d's month and day ``years`` later; Feb 29 falls on Mar 1 in a year without one."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return dt.date(d.year + years, 3, 1)


def completed(d: dt.date, year: int) -> int:
    """Whole years from d to Jan 1 of ``year``."""
    jan1 = dt.date(year, 1, 1)
    return jan1.year - d.year - ((jan1.month, jan1.day) < (d.month, d.day))


@pytest.mark.parametrize("dates", [DATES, IN_TABLE], ids=["arithmetic", "table"])
def test_whole_years_counts_completed_years_on_jan_1(dates):
    for year in (1950, 2025, 2100):
        got = whole_years(dates, pa.array([year] * len(dates))).to_pylist()
        assert got == [completed(d, year) for d in dates.to_pylist()], year


@pytest.mark.parametrize("dates", [DATES, IN_TABLE], ids=["arithmetic", "table"])
def test_anniversary_moves_month_and_day_and_feb_29_to_mar_1(dates):
    for years in (-21, -1, 1, 3, 4, 65, 100):
        got = anniversary(dates, pa.array([years] * len(dates))).to_pylist()
        assert got == [moved(d, years) for d in dates.to_pylist()], years


def test_add_days_adds_whole_days_and_keeps_nulls():
    counts = pa.array([(i * 37) % 800 - 100 for i in range(len(DATES))], pa.int64())
    got = add_days(DATES, counts).to_pylist()
    assert got == [d + dt.timedelta(days=n) for d, n in zip(DATES.to_pylist(), counts.to_pylist())]
    some = add_days(pa.array([dt.date(2024, 2, 28), None, dt.date(2024, 12, 31)], pa.date32()),
                    pa.array([1, 5, None], pa.int64()))
    assert some.to_pylist() == [dt.date(2024, 2, 29), None, None]
    assert whole_years(pa.array([None], pa.date32()), pa.array([2025])).to_pylist() == [None]
    assert anniversary(pa.array([None], pa.date32()), pa.array([1])).to_pylist() == [None]
