"""Census cells to typed values, exactly as written or not at all.

Each parser takes one column (text from a CSV, or typed from Parquet and Arrow)
and returns the typed values plus a mask of the rows it could not read and why.
Nothing is guessed: an impossible date, an ambiguous date format or a number
with misplaced separators is a problem for the caller to report, never a value
quietly made up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.errors import UserError

# Cells that mean "no value" in the exports analysts have (case-insensitive).
MISSING = ["", "null", "n/a", "na", "none", "nan", "#n/a"]
TRUE = ["true", "t", "yes", "y", "1"]
FALSE = ["false", "f", "no", "n", "0"]

_EPOCH = dt.date(1970, 1, 1)
# 2024-05-01, 2024/5/1, with an optional midnight time part: " 00:00:00", "T00:00:00.000Z", "+00:00"
_ISO = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                  r"(?:Z|[+-]\d{2}:?\d{2})?)?")
_DAY_FIRST_OR_MONTH_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[ T].*)?")


@dataclass
class Parsed:
    """A column read: ``values`` (null where missing or unreadable) and who could not be read, and why."""

    values: pa.Array
    bad: np.ndarray  # rows whose text is not a value of the column's kind
    problem: str = ""  # what is wrong with the bad rows, in the plural ("are not numbers")
    example: str | None = None  # one offending cell, as written

    @property
    def missing(self) -> np.ndarray:
        """Rows with no value at all (an empty or NULL cell), as opposed to an unreadable one."""
        return mask(pc.is_null(self.values)) & ~self.bad


def mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as NumPy, null as False."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def is_text(col: pa.Array) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type)


def text(col: pa.Array) -> pa.Array:
    """Trimmed text with the missing markers (empty, NULL, N/A...) as null."""
    s = pc.utf8_trim_whitespace(col.cast(pa.string()))
    return pc.if_else(pc.is_in(pc.utf8_lower(s), pa.array(MISSING)), pa.scalar(None, pa.string()), s)


def plain(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column in its plain type, whatever encoding its writer chose: dictionary-encoded columns (a pandas
    category, a Polars Categorical) decoded to their values, large and view strings as strings. The parsers
    below then read a category of dates, numbers or booleans exactly as the plain column."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        column = column.cast(pa.string())
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def first_cell(values: pa.Array, bad: np.ndarray) -> str | None:
    """The first cell in ``bad``, as written (for "e.g." in a message)."""
    idx = np.flatnonzero(bad)
    return None if not len(idx) else str(values[int(idx[0])].as_py())


# --- dates ----------------------------------------------------------------------------------

# why a cell is not a date, as codes below any real day number (year 1 is day -719,162)
_NOT_A_DATE, _IMPOSSIBLE, _TIME_OF_DAY, _AMBIGUOUS = -(10**9) - 1, -(10**9) - 2, -(10**9) - 3, -(10**9) - 4


def _days_or_code(cell: str, date_format: str | None) -> int:
    """Days since 1970-01-01 for one distinct cell, or a negative code saying why not."""
    if date_format:
        try:
            when = dt.datetime.strptime(cell, date_format)
        except ValueError as e:
            return _IMPOSSIBLE if "out of range" in str(e) else _NOT_A_DATE
        if when.time() != dt.time(0):
            return _TIME_OF_DAY
        return (when.date() - _EPOCH).days
    m = _ISO.fullmatch(cell)
    if not m:
        return _AMBIGUOUS if _DAY_FIRST_OR_MONTH_FIRST.fullmatch(cell) else _NOT_A_DATE
    if any(int(part or 0) for part in m.group(4, 5, 6)):
        return _TIME_OF_DAY
    try:
        return (dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) - _EPOCH).days
    except ValueError:
        return _IMPOSSIBLE  # 1981-02-29, 2010-04-31, 2024-12-32, month 13


def _ambiguity_error(where: str, cells: list[str]) -> UserError:
    parts = [_DAY_FIRST_OR_MONTH_FIRST.fullmatch(c).group(1, 2) for c in cells]  # type: ignore[union-attr]
    sep = next(ch for ch in cells[0] if not ch.isdigit())
    fmts = {f"%m{sep}%d{sep}%Y", f"%d{sep}%m{sep}%Y"}
    day_first = next((c for c, (a, _) in zip(cells, parts) if int(a) > 12), None)
    month_first = next((c for c, (_, b) in zip(cells, parts) if int(b) > 12), None)
    hint = ""
    if day_first and not month_first:
        hint = f"; '{day_first}' suggests day first: date_format=%d{sep}%m{sep}%Y"
    elif month_first and not day_first:
        hint = f"; '{month_first}' suggests month first: date_format=%m{sep}%d{sep}%Y"
    return UserError(f"{where}: dates like '{cells[0]}' could be month/day/year or day/month/year; "
                     f"pass the file's format, e.g. date_format={' or date_format='.join(sorted(fmts))}{hint}")


def parse_dates(col: pa.Array, where: str, date_format: str | None = None) -> Parsed:
    """A date column: ISO text (a midnight time part is fine), the explicit ``date_format``, or typed dates."""
    t = col.type
    if pa.types.is_date(t):
        return Parsed(col.cast(pa.date32()), np.zeros(len(col), bool))
    if pa.types.is_timestamp(t):
        local = pc.local_timestamp(col) if t.tz else col
        midnight = pc.equal(pc.floor_temporal(local, unit="day"), local)
        bad = ~mask(midnight) & mask(pc.is_valid(local))
        return Parsed(pc.if_else(pa.array(~bad), local.cast(pa.date32()), pa.scalar(None, pa.date32())), bad,
                      "have a time of day other than midnight (dates only)", first_cell(col, bad))
    if not is_text(col):
        bad = mask(pc.is_valid(col))
        return Parsed(pa.nulls(len(col), pa.date32()), bad, f"are {t} values, not dates", first_cell(col, bad))
    cells = text(col).dictionary_encode()
    distinct = cells.dictionary.to_pylist()
    days = np.array([_days_or_code(c, date_format) for c in distinct] or [0], dtype=np.int64)
    codes = cells.indices.fill_null(0).to_numpy(zero_copy_only=False)
    present = mask(pc.is_valid(cells.indices))
    per_row = np.where(present, days[codes], 0)
    ambiguous = np.flatnonzero(days == _AMBIGUOUS)
    if len(ambiguous):
        raise _ambiguity_error(where, [distinct[i] for i in ambiguous])
    problems = [
        (_IMPOSSIBLE, "are not real calendar dates"),
        (_TIME_OF_DAY, "have a time of day other than midnight (dates only)"),
        (_NOT_A_DATE, f"are not dates in {'the date_format ' + repr(date_format) if date_format else 'YYYY-MM-DD'}"
                      " form"),
    ]
    bad = present & (per_row < -(10**9))
    problem, example = "", None
    for code, words in problems:
        hit = present & (per_row == code)
        if hit.any():
            problem, example = words, distinct[int(codes[np.flatnonzero(hit)[0]])]
            break
    if len(np.unique(per_row[bad])) > 1:
        problem = f"are not valid dates ({problem} and more)"
    values = pa.array(per_row.astype(np.int32), pa.int32(), mask=~present | bad).cast(pa.date32())
    return Parsed(values, bad, problem, example)


# --- numbers --------------------------------------------------------------------------------

_PLAIN = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_COMMA_GROUPS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"  # 64,400.00
_DOT_GROUPS = r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?"  # 64.400,00 (decimal comma)
_DECIMAL_COMMA = r"[+-]?\d+(?:,\d*)?"  # 6,5


@dataclass
class Numbers(Parsed):
    percent_signs: np.ndarray | None = None  # rows written with a trailing '%'
    text: pa.Array | None = None  # the normalized text ("64400.005"), where the column was text


def parse_numbers(col: pa.Array, *, currency: bool = False, percent: bool = False,
                  decimal_comma: bool = False) -> Numbers:
    """A number column: typed, or text with optional '$', thousands separators and a '%' sign."""
    n = len(col)
    if pa.types.is_decimal(col.type):  # through its exact text: Arrow's decimal-to-float cast can miss by an ulp
        exact = col.cast(pa.string())
        return Numbers(exact.cast(pa.float64()), np.zeros(n, bool), percent_signs=np.zeros(n, bool), text=exact)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return Numbers(col.cast(pa.float64()), np.zeros(n, bool), percent_signs=np.zeros(n, bool))
    if pa.types.is_boolean(col.type) or not is_text(col):
        bad = mask(pc.is_valid(col))
        return Numbers(pa.nulls(n, pa.float64()), bad, f"are {col.type} values, not numbers", first_cell(col, bad))
    raw = text(col)
    try:  # the common case, plain numbers, in one pass
        return Numbers(raw.cast(pa.float64()), np.zeros(n, bool), percent_signs=np.zeros(n, bool), text=raw)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    s = raw
    signs = mask(pc.ends_with(s, "%"))
    if percent:
        s = pc.utf8_rtrim_whitespace(pc.replace_substring_regex(s, r"%$", ""))
    if currency:
        s = pc.replace_substring_regex(s, r"^([+-]?)\s*\$\s*", r"\1")
    # decide one reading per cell from its shape; any other shape is not a number
    if decimal_comma:
        grouped = pc.match_substring_regex(s, f"^{_DOT_GROUPS}$")
        s = pc.if_else(grouped, pc.replace_substring(s, ".", ""), s)
        comma = pc.match_substring_regex(s, f"^{_DECIMAL_COMMA}$")
        s = pc.if_else(comma, pc.replace_substring(s, ",", "."), s)
    else:
        grouped = pc.match_substring_regex(s, f"^{_COMMA_GROUPS}$")
        s = pc.if_else(grouped, pc.replace_substring(s, ",", ""), s)
    ok = pc.match_substring_regex(s, f"^{_PLAIN}$")
    bad = mask(pc.and_(pc.is_valid(s), pc.invert(ok)))
    values = pc.if_else(pa.array(bad), pa.scalar(None, pa.string()), s).cast(pa.float64())
    return Numbers(values, bad, "are not numbers", first_cell(raw, bad), percent_signs=signs & ~bad, text=s)


# --- booleans -------------------------------------------------------------------------------

_ALLOWED_BOOLS = "allowed: true/false, yes/no, 1/0"


def parse_bools(col: pa.Array) -> Parsed:
    n = len(col)
    if pa.types.is_boolean(col.type):
        return Parsed(col, np.zeros(n, bool))
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        bad = mask(pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col.cast(pa.float64()), pa.array([0.0, 1.0])))))
        values = pc.if_else(pa.array(bad), pa.scalar(None, pa.bool_()), pc.equal(col.cast(pa.float64()), 1.0))
        return Parsed(values, bad, f"are not booleans ({_ALLOWED_BOOLS})", first_cell(col, bad))
    if not is_text(col):
        bad = mask(pc.is_valid(col))
        return Parsed(pa.nulls(n, pa.bool_()), bad, f"are {col.type} values, not booleans", first_cell(col, bad))
    raw = text(col)
    s = pc.utf8_lower(raw)
    bad = mask(pc.and_(pc.is_valid(s), pc.invert(pc.is_in(s, pa.array(TRUE + FALSE)))))
    values = pc.if_else(pc.or_(pc.is_null(s), pa.array(bad)), pa.scalar(None, pa.bool_()), pc.is_in(s, pa.array(TRUE)))
    return Parsed(values, bad, f"are not booleans ({_ALLOWED_BOOLS})", first_cell(raw, bad))
