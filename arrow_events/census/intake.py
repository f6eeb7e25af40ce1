"""Census intake: the census contract of docs/model.md §1, and nothing changed silently.

Every cell is either read exactly as written or refused with its line (CSV) or
row (Parquet and Arrow objects). With ``on_bad_rows="skip"`` the rows that break
a row-level rule are set aside with their reasons instead (``Census.rejects``);
problems with the file as a whole (a missing or repeated column, an unreadable
file, an ambiguous date format) always refuse it. What was read in a way worth
knowing (the delimiter, percentages) comes back as notes, what looks implausible
but is allowed as warnings.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.census.sources import RawCensus, drop_empty_rows, open_census
from arrow_events.census.synthetic import synthetic_census, write_census
from arrow_events.census.values import (
    Parsed,
    first_cell,
    is_text,
    mask,
    parse_bools,
    parse_dates,
    parse_numbers,
    plain,
)
from arrow_events.config import STANDARD_WEEKLY_HOURS
from arrow_events.errors import UserError, first_line
from arrow_events.options import ON_BAD_ROWS, parse_choice

__all__ = ["CENSUS_SCHEMA", "Census", "normalize_census", "read_census", "synthetic_census", "write_census"]

REQUIRED = ["employee_id", "employee_birth_date", "employee_hire_date", "employee_gross_compensation"]
OPTIONAL = [
    "active",
    "employee_termination_date",
    "employee_deferral_rate",
    "auto_escalation_opt_out",
    "eligibility_override",
    "level_id",
    "scheduled_hours_per_week",
]

# What the rest of the engine sees, whatever the census came in. An active row may carry a
# termination date on or after the start: a departure already scheduled inside the simulation.
CENSUS_SCHEMA = pa.schema(
    [
        pa.field("employee_id", pa.string(), nullable=False),
        pa.field("birth_date", pa.date32(), nullable=False),
        pa.field("hire_date", pa.date32(), nullable=False),
        pa.field("termination_date", pa.date32()),
        pa.field("compensation_cents", pa.int64(), nullable=False),
        pa.field("active", pa.bool_(), nullable=False),
        pa.field("deferral_rate", pa.float64(), nullable=False),
        pa.field("auto_escalation_opt_out", pa.bool_(), nullable=False),
        pa.field("eligibility_override", pa.bool_()),
        pa.field("level_id", pa.int32()),
        # hours of service (docs/model.md §7): the census's, else STANDARD_WEEKLY_HOURS
        pa.field("scheduled_hours_per_week", pa.float64(), nullable=False),
    ]
)
REJECTS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("unit", pa.string()),  # "line" (CSV, the header is line 1) or "row" (1-based)
        ("number", pa.int64()),
        ("employee_id", pa.string()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
    ]
)

# Pay above this cannot be projected safely: decimal(18, 2) money holds 10^16, which leaves
# a factor of 10^7 for raises (50 years at +38% a year).
MAX_PAY = 1_000_000_000
HOURS_IN_A_WEEK = 168
PLAUSIBLE_PAY = (1_000, 10_000_000)
PLAUSIBLE_AGE = (14, 100)
_SHOW = 5


@dataclass
class Census:
    """A census read and checked: the rows to simulate, and what was set aside or is worth saying."""

    table: pa.Table  # CENSUS_SCHEMA
    source: str
    rows_read: int
    rejects: pa.Table = field(default_factory=REJECTS_SCHEMA.empty_table)  # one row per problem found
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    start_year: int | None = None  # the first simulated year it was checked for (None: not known)

    @property
    def rows_rejected(self) -> int:
        return len(set(self.rejects["number"].to_pylist()))

    def rejected_summary(self) -> str:
        """'9 of 5,000 census rows set aside (employee_birth_date is after the employee_hire_date: 9)'."""
        reasons = pc.binary_join_element_wise(self.rejects["column"], self.rejects["reason"], " ")
        counts = sorted((-c["counts"], c["values"]) for c in reasons.value_counts().to_pylist())
        why = ", ".join(f"{r}: {-n:,}" for n, r in counts)
        return f"{self.rows_rejected:,} of {self.rows_read:,} census rows set aside ({why})"


class _Intake:
    """The rules' bookkeeping: names rows as the user sees them; refuses at once, or sets rows aside."""

    def __init__(self, raw: RawCensus, skip: bool) -> None:
        self.raw = raw
        self.skip = skip
        self.n = raw.table.num_rows
        self.rejected = np.zeros(self.n, bool)
        self.rejects: list[pa.Table] = []
        self.ids: pa.Array = pa.nulls(self.n, pa.string())

    def where(self, bad: np.ndarray) -> str:
        """'3 rows (lines 2, 5, 9)', '12 rows (lines 2, 3, 4, 5, 6 and 7 more)'."""
        idx = np.flatnonzero(bad)
        unit = self.raw.unit
        shown = ", ".join(str(int(i)) for i in self.raw.numbers[idx[:_SHOW]])
        more = f" and {len(idx) - _SHOW} more" if len(idx) > _SHOW else ""
        s = "s" if len(idx) > 1 else ""
        return f"{len(idx)} row{s} ({unit}{s} {shown}{more})"

    def problem(self, column: str, bad: np.ndarray, words: str, cells: pa.Array | None = None,
                example: str | None = None) -> None:
        """Rows in ``bad`` break a row rule: refuse the census, or set them aside with ``words`` as the reason."""
        bad = bad & ~self.rejected  # a row is reported for its first problem
        if not bad.any():
            return
        count = int(bad.sum())
        if not self.skip:
            shown = _singular(words) if count == 1 else words
            eg = f" (e.g. {example!r})" if example is not None else ""
            raise UserError(f"{self.raw.name}: column '{column}': {self.where(bad)} {shown}{eg}")
        idx = pa.array(np.flatnonzero(bad))
        values = (cells.take(idx).cast(pa.string()) if cells is not None else pa.nulls(count, pa.string()))
        self.rejects.append(pa.table(
            [pa.array([self.raw.name] * count), pa.array([self.raw.unit] * count),
             pa.array(self.raw.numbers[bad].astype(np.int64)), self.ids.take(idx), pa.array([column] * count),
             values, pa.array([_singular(words)] * count)],
            schema=REJECTS_SCHEMA,
        ))
        self.rejected |= bad

    def parsed(self, column: str, parsed: Parsed, cells: pa.Array) -> Parsed:
        self.problem(column, parsed.bad, parsed.problem, cells, parsed.example)
        return parsed


_SINGULAR = (("are not dates", "is not a date"), ("are not finite numbers", "is not a finite number"),
             ("are not real calendar dates", "is not a real calendar date"),
             ("are not valid dates", "is not a valid date"), ("are not numbers", "is not a number"),
             ("are not booleans", "is not a boolean"), ("are not a level", "is not a level"),
             ("are ", "is "), ("have ", "has "), ("repeat ", "repeats "), ("must ", "must "))


def _singular(words: str) -> str:
    """'are not dates in YYYY-MM-DD form' -> 'is not a date in YYYY-MM-DD form'."""
    for plural, single in _SINGULAR:
        if words.startswith(plural):
            return single + words[len(plural):]
    return words


def _columns(raw: RawCensus) -> dict[str, pa.Array]:
    """Census columns by their contract name: headers are matched trimmed and case-insensitively."""
    name = raw.name
    found: dict[str, list[str]] = {}
    for original in raw.table.column_names:
        found.setdefault(original.strip().lstrip("\ufeff").strip().lower(), []).append(original)
    repeated = sorted(key for key, originals in found.items() if len(originals) > 1)
    if repeated:
        spelled = [f"'{key}'" + ("" if len(set(found[key])) == 1 else
                                 f" (as {', '.join(repr(o) for o in found[key])}; headers match ignoring case)")
                   for key in repeated]
        raise UserError(f"{name}: column{'s' if len(repeated) > 1 else ''} {', '.join(spelled)} "
                        f"appear{'' if len(repeated) > 1 else 's'} more than once in the header")
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        # only unknown columns can be misspellings; each is offered once, spaces read as underscores
        unknown = {k.replace(" ", "_"): v[0] for k, v in found.items() if k not in REQUIRED + OPTIONAL}
        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, list(unknown), n=1, cutoff=0.6)
            hints.append(f"'{m}'" + (f" (found '{unknown.pop(close[0])}': misspelled?)" if close else ""))
        raise UserError(f"{name}: required column{'s' if len(missing) > 1 else ''} missing: {', '.join(hints)}")
    return {key: plain(raw.table[originals[0]]) for key, originals in found.items() if key in REQUIRED + OPTIONAL}


def read_census(source: Any, start_year: int, *, on_bad_rows: str = "fail", date_format: str | None = None) -> Census:
    """Read and check a census; its cohort is the workforce at the end of ``start_year - 1``.

    ``source``: a .csv/.tsv/.txt or .parquet path, a pyarrow Table or RecordBatchReader, any object
    exposing ``__arrow_c_stream__`` (Polars and pandas DataFrames, DuckDB relations), or a Census
    already read (returned as it is, when it was checked for the same start year). Columns may use
    any Arrow encoding of their values: dictionary-encoded (a pandas category), large or view
    strings, timestamps at midnight for dates, decimals for numbers.
    ``on_bad_rows``: ``"fail"`` refuses the census at the first broken rule; ``"skip"`` sets the
    broken rows aside in ``Census.rejects``. ``date_format``: a strptime format for dates that are
    not YYYY-MM-DD, such as ``%m/%d/%Y``. Raises UserError naming the source, column and rows.
    """
    on_bad_rows = parse_choice(on_bad_rows, "on_bad_rows", ON_BAD_ROWS)
    if isinstance(source, Census):
        if source.start_year not in (None, start_year):
            raise UserError(f"{source.source}: this census was checked for a start in {source.start_year}, not "
                            f"{start_year} (which rows are in the cohort depends on it); read it again for "
                            f"{start_year}: read_census(<its file or table>, {start_year})")
        return source
    raw = drop_empty_rows(open_census(source))
    try:
        return _check(raw, start_year, on_bad_rows == "skip", date_format)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as e:
        # a column of a type no census column can have (a list, a struct...) in a Parquet file
        types = ", ".join(f"{f.name}: {f.type}" for f in raw.table.schema
                          if f.name.strip().lower() in REQUIRED + OPTIONAL)
        raise UserError(f"{raw.name}: census columns have unusable types ({types}): "
                        f"{first_line(e)}") from None


def normalize_census(raw: Any, start_year: int) -> pa.Table:
    """A census (anything ``read_census`` reads) checked and converted to CENSUS_SCHEMA: its rows."""
    return read_census(raw, start_year).table


def _check(raw: RawCensus, start_year: int, skip: bool, date_format: str | None) -> Census:
    cols = _columns(raw)
    intake = _Intake(raw, skip)
    n = intake.n
    for line, why, row_text in raw.broken:
        if not skip:
            raise UserError(f"{raw.name}: line {line} {why} ({row_text[:60]!r})")
        intake.rejects.append(pa.table([[raw.name], ["line"], [line], [None], ["(row)"], [row_text], [why]],
                                       schema=REJECTS_SCHEMA))
    if n == 0 and not intake.rejects:
        raise UserError(f"{raw.name}: census has a header but no employee rows")
    notes: list[str] = list(raw.notes)

    ids = cols["employee_id"]
    ids = pc.utf8_trim_whitespace(ids.cast(pa.string()))
    ids = pc.if_else(pc.equal(ids, ""), pa.scalar(None, pa.string()), ids)
    intake.ids = ids
    intake.problem("employee_id", mask(pc.is_null(ids)), "have no employee_id")
    repeats = _repeats(ids)
    intake.problem("employee_id", repeats, "repeat an employee_id seen earlier", ids, first_cell(ids, repeats))

    def dates(name: str, required: bool) -> pa.Array:
        if name not in cols:
            return pa.nulls(n, pa.date32())
        parsed = intake.parsed(name, parse_dates(cols[name], f"{raw.name}: column '{name}'", date_format), cols[name])
        if required:
            intake.problem(name, parsed.missing, "are empty (a date is required)", cols[name])
        return parsed.values

    birth = dates("employee_birth_date", True)
    hire = dates("employee_hire_date", True)

    pay_col = cols["employee_gross_compensation"]
    pay = parse_numbers(pay_col, currency=True, decimal_comma=_decimal_comma(raw, pay_col))
    intake.parsed("employee_gross_compensation", pay, pay_col)
    pay_np = pay.values.fill_null(np.nan).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        not_pay = ~np.isfinite(pay_np) | (pay_np <= 0)
        too_big = np.isfinite(pay_np) & (pay_np > MAX_PAY)
    intake.problem("employee_gross_compensation", not_pay, "must be a finite amount > 0", pay_col,
                   first_cell(pay_col, not_pay))
    intake.problem("employee_gross_compensation", too_big,
                   f"are above {MAX_PAY:,} a year, more than can be projected in whole cents with years of raises",
                   pay_col, first_cell(pay_col, too_big))

    term = dates("employee_termination_date", False)
    active = _bools(intake, cols, "active")
    rate = _deferral_rates(intake, cols, raw, notes)
    aeo = _bools(intake, cols, "auto_escalation_opt_out")
    override = _bools(intake, cols, "eligibility_override")
    level = _levels(intake, cols, raw)
    hours = _weekly_hours(intake, cols, raw)

    birth_np = _days(birth)
    hire_np = _days(hire)
    readable = ~intake.rejected
    intake.problem("employee_birth_date", readable & (birth_np > hire_np), "are after the employee_hire_date",
                   cols["employee_birth_date"])
    start = (dt.date(start_year, 1, 1) - dt.date(1970, 1, 1)).days
    intake.problem("employee_hire_date", ~intake.rejected & (hire_np >= start),
                   f"are on or after the simulation start {start_year}-01-01 (the first simulated year: "
                   f"[scenario].start_year, or with a census the first year simulated); the census is the workforce "
                   f"at the end of {start_year - 1}", cols["employee_hire_date"])

    cents, rounded = _cents(pay, pay_np)
    keep = ~intake.rejected
    term_np = _days(term)
    # in the cohort: not marked inactive, and not gone before the start (a later date is scheduled)
    past_term = np.isfinite(term_np) & (term_np < start)
    marked = active.fill_null(True).to_numpy(zero_copy_only=False).astype(bool)
    table = pa.table(
        [ids, birth, hire, term, pa.array(cents), pa.array(marked & ~past_term), rate, aeo.fill_null(False),
         override, level, hours],
        schema=CENSUS_SCHEMA,
    )
    if not keep.all():  # a filter copies every column even when it keeps them all: 0.27 GB more at 5M rows
        table = table.filter(pa.array(keep))
    if rounded.any():
        notes.append(f"{raw.name}: column 'employee_gross_compensation': {intake.where(rounded & keep)} "
                     "had fractions of a cent, rounded half up to whole cents")
    rejects = pa.concat_tables(intake.rejects) if intake.rejects else REJECTS_SCHEMA.empty_table()
    rows_read = n + len(raw.broken)
    census = Census(table, raw.name, rows_read, rejects, notes, start_year=start_year)
    census.warnings = _plausibility(intake, keep, birth_np, pay_np, mask(active) & past_term, start_year)
    if not pc.any(table["active"]).as_py():
        where = f" ({census.rows_rejected:,} set aside)" if census.rows_rejected else ""
        rows = f"{table.num_rows:,} row{'' if table.num_rows == 1 else 's'}"
        raise UserError(f"{raw.name}: no active employees at the end of {start_year - 1} "
                        f"({rows}{where}, all inactive or terminated before {start_year}-01-01): nothing to simulate")
    return census


def _cell(raw: RawCensus, col: pa.Array, bad: np.ndarray) -> str:
    """"'6' on line 3": the first cell in ``bad``, as written, and where it is."""
    i = int(np.flatnonzero(bad)[0])
    return f"{str(col[i].as_py())!r} on {raw.unit} {raw.numbers[i]}"


def _repeats(ids: pa.Array) -> np.ndarray:
    """True for each row whose id appeared in an earlier row."""
    order = pc.sort_indices(ids)  # stable: equal ids keep their row order
    ranked = ids.take(order)
    again = mask(pc.equal(ranked.slice(1), ranked.slice(0, len(ranked) - 1))) if len(ids) > 1 else np.zeros(0, bool)
    repeats = np.zeros(len(ids), bool)
    repeats[order.to_numpy()[1:][again]] = True
    return repeats


def _days(dates: pa.Array) -> np.ndarray:
    """Days since 1970 as float, NaN where missing (comparisons with NaN are False)."""
    return dates.cast(pa.int32()).cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)


def _decimal_comma(raw: RawCensus, col: pa.Array) -> bool:
    """Semicolon files write decimals with a comma: decided per column, by whether any cell has one."""
    return raw.delimiter == ";" and is_text(col) and pc.any(pc.match_substring(col, ",")).as_py()


def _bools(intake: _Intake, cols: dict[str, pa.Array], name: str) -> pa.Array:
    if name not in cols:
        return pa.nulls(intake.n, pa.bool_())
    return intake.parsed(name, parse_bools(cols[name]), cols[name]).values


def _deferral_rates(intake: _Intake, cols: dict[str, pa.Array], raw: RawCensus, notes: list[str]) -> pa.Array:
    """Fractions, unless the column is written in percent: decided once for the whole column."""
    name = "employee_deferral_rate"
    if name not in cols:
        return pa.array(np.zeros(intake.n))
    col = cols[name]
    parsed = parse_numbers(col, percent=True, decimal_comma=_decimal_comma(raw, col))
    intake.parsed(name, parsed, col)
    values = parsed.values.fill_null(np.nan).to_numpy(zero_copy_only=False).copy()
    infinite = np.isinf(values)
    intake.problem(name, infinite, "are not finite numbers", col, first_cell(col, infinite))
    signs = parsed.percent_signs if parsed.percent_signs is not None else np.zeros(intake.n, bool)
    ok = ~intake.rejected & np.isfinite(values)
    percent_shaped = ok & (signs | (values > 1))
    fraction_shaped = ok & ~signs & (values > 0) & (values < 1)
    if percent_shaped.any() and fraction_shaped.any():
        raise UserError(f"{raw.name}: column '{name}' mixes fractions ({_cell(raw, col, fraction_shaped)}) and "
                        f"percentages ({_cell(raw, col, percent_shaped)}); write every rate one way: 0.06 or 6 (or 6%)")
    if percent_shaped.any():
        values /= 100.0
        notes.append(f"{raw.name}: column '{name}' is in percent (a value above 1 or with a % sign, e.g. "
                     f"{_cell(raw, col, percent_shaped)}): every rate in it is divided by 100, so 6 means 0.06")
    outside = ok & ((values < 0) | (values > 1))
    intake.problem(name, outside, "are outside 0-1 (or 0-100 in a column written in percent)", col,
                   first_cell(col, outside))
    return pa.array(np.where(np.isnan(values), 0.0, values))


def _levels(intake: _Intake, cols: dict[str, pa.Array], raw: RawCensus) -> pa.Array:
    name = "level_id"
    if name not in cols:
        return pa.nulls(intake.n, pa.int32())
    parsed = intake.parsed(name, parse_numbers(cols[name]), cols[name])
    lvl = parsed.values.fill_null(1.0).to_numpy(zero_copy_only=False)
    bad = mask(pc.is_valid(parsed.values)) & ~np.isin(lvl, [1, 2, 3, 4, 5])
    intake.problem(name, bad, "are not a level 1-5", cols[name], first_cell(cols[name], bad))
    return pc.if_else(pa.array(bad), pa.scalar(None, pa.float64()), parsed.values).cast(pa.int32())


def _weekly_hours(intake: _Intake, cols: dict[str, pa.Array], raw: RawCensus) -> pa.Array:
    """Scheduled hours a week, more than 0 and at most 168; missing: STANDARD_WEEKLY_HOURS."""
    name = "scheduled_hours_per_week"
    if name not in cols:
        return pa.array(np.full(intake.n, STANDARD_WEEKLY_HOURS))
    col = cols[name]
    parsed = intake.parsed(name, parse_numbers(col, decimal_comma=_decimal_comma(raw, col)), col)
    values = parsed.values.fill_null(STANDARD_WEEKLY_HOURS).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        bad = ~intake.rejected & ~((values > 0) & (values <= HOURS_IN_A_WEEK))
    intake.problem(name, bad, f"must be more than 0 and at most {HOURS_IN_A_WEEK} hours a week", col,
                   first_cell(col, bad))
    return pa.array(np.where(bad, STANDARD_WEEKLY_HOURS, values))


def _cents(pay: Any, pay_np: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pay in whole cents, half up; and which rows had fractions of a cent (they are said, not hidden)."""
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(pay_np) & (pay_np > 0) & (pay_np <= MAX_PAY)
        cents = np.where(usable, np.floor(np.where(usable, pay_np, 0) * 100.0 + 0.5), 0).astype(np.int64)
    if pay.text is not None:
        # text is exact: re-round the few cells with more than two decimals as decimals, not floats
        sub_cent = mask(pc.match_substring_regex(pay.text, r"\.\d{2}\d*[1-9]\d*$")) & usable
        for i in np.flatnonzero(sub_cent):
            cents[i] = int((Decimal(pay.text[int(i)].as_py()) * 100).quantize(Decimal(1), ROUND_HALF_UP))
        return cents, sub_cent
    with np.errstate(invalid="ignore"):
        sub_cent = usable & (np.abs(pay_np * 100.0 - np.round(pay_np * 100.0)) > 1e-6)
    return cents, sub_cent


def _jan1(year: int) -> int:
    """Jan 1 of ``year`` in days since 1970. Whole years on Jan 1 of Y as the engine counts them
    (udfs.dates.whole_years) are under A exactly for a birth after Jan 1 of Y - A, and over A for one on
    or before Jan 1 of Y - A - 1: two comparisons per row instead of each row's age (the ages of a 5M-row
    census were a 0.25 GB transient, the peak of reading it). NaN (no date) compares False."""
    return (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days


def _plausibility(intake: _Intake, keep: np.ndarray, birth: np.ndarray, pay: np.ndarray, stale_active: np.ndarray,
                  start_year: int) -> list[str]:
    """Allowed but unlikely values, one warning line each."""
    name = intake.raw.name
    with np.errstate(invalid="ignore"):
        checks = [
            (keep & (birth > _jan1(start_year - PLAUSIBLE_AGE[0])), "employee_birth_date",
             f"are younger than {PLAUSIBLE_AGE[0]} on {start_year}-01-01"),
            (keep & (birth <= _jan1(start_year - PLAUSIBLE_AGE[1] - 1)), "employee_birth_date",
             f"are older than {PLAUSIBLE_AGE[1]} on {start_year}-01-01"),
            (keep & (pay > PLAUSIBLE_PAY[1]), "employee_gross_compensation",
             f"are paid more than {PLAUSIBLE_PAY[1]:,} a year"),
            (keep & (pay < PLAUSIBLE_PAY[0]), "employee_gross_compensation",
             f"are paid less than {PLAUSIBLE_PAY[0]:,} a year (is the column in thousands?)"),
            (keep & stale_active, "employee_termination_date",
             f"are marked active but terminated before {start_year}-01-01; they are left out as terminated"),
        ]
    return [f"{name}: column '{col}': {intake.where(bad)} {_singular(words) if bad.sum() == 1 else words}"
            for bad, col, words in checks if bad.any()]

