"""Census files in, validated; synthetic censuses out.

The census contract is DOMAIN.md section 1 (PlanAlign-style column names).
Reading returns a normalized Arrow table in CENSUS_SCHEMA; any problem raises
one UserError naming the file, the column and the rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.errors import UserError

REQUIRED = ["employee_id", "employee_birth_date", "employee_hire_date", "employee_gross_compensation"]
OPTIONAL = [
    "active",
    "employee_termination_date",
    "employee_deferral_rate",
    "auto_escalation_opt_out",
    "eligibility_override",
    "level_id",
]

# What the rest of the engine sees, whatever file format the census came in.
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
    ]
)

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_SHOW = 5


class _Rows:
    """How a file names its rows: CSV by line number (header is line 1), Parquet by 1-based row."""

    def __init__(self, path: Path, is_csv: bool) -> None:
        self.path = path
        self.is_csv = is_csv

    def describe(self, mask: np.ndarray) -> str:
        idx = np.flatnonzero(mask)
        first = idx[:_SHOW] + (2 if self.is_csv else 1)
        word = "line" if self.is_csv else "row"
        where = ", ".join(str(int(i)) for i in first)
        more = f" and {len(idx) - _SHOW} more" if len(idx) > _SHOW else ""
        plural = "s" if len(idx) > 1 else ""
        return f"{len(idx)} row{plural} ({word}{plural} {where}{more})"

    def error(self, column: str, mask: np.ndarray, problem: str) -> UserError:
        if mask.sum() == 1:  # "1 row (line 7) is not a date", not "are"
            for plural, single in (("are not dates", "is not a date"), ("are not numbers", "is not a number"),
                                   ("are not booleans", "is not a boolean"), ("are ", "is "), ("have ", "has "),
                                   ("repeat ", "repeats ")):
                if problem.startswith(plural):
                    problem = single + problem[len(plural):]
                    break
        return UserError(f"{self.path}: column '{column}': {self.describe(mask)} {problem}")


def _strings(col: pa.ChunkedArray) -> pa.Array:
    """Column as trimmed strings with empty values as null."""
    arr = col.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _np_mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _parse_dates(col: pa.ChunkedArray, name: str, rows: _Rows) -> pa.Array:
    t = col.type
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return col.combine_chunks().cast(pa.date32())
    s = _strings(col)
    parsed = pc.strptime(s, format="%Y-%m-%d", unit="s", error_is_null=True)
    bad = _np_mask(pc.and_(pc.is_valid(s), pc.is_null(parsed)))
    if bad.any():
        sample = s.filter(pa.array(bad))[0].as_py()
        raise rows.error(name, bad, f"are not dates in YYYY-MM-DD form (e.g. {sample!r})")
    return parsed.cast(pa.date32())


_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _parse_numbers(col: pa.ChunkedArray, name: str, rows: _Rows) -> pa.Array:
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return col.combine_chunks().cast(pa.float64())
    s = pc.replace_substring(_strings(col), ",", "")  # "64,400.00" is how spreadsheets write pay
    ok = pc.match_substring_regex(s, _NUMBER)
    bad = _np_mask(pc.and_(pc.is_valid(s), pc.invert(ok)))
    if bad.any():
        sample = s.filter(pa.array(bad))[0].as_py()
        raise rows.error(name, bad, f"are not numbers (e.g. {sample!r})")
    return s.cast(pa.float64())


def _parse_bools(col: pa.ChunkedArray, name: str, rows: _Rows) -> pa.Array:
    if pa.types.is_boolean(col.type):
        return col.combine_chunks()
    if pa.types.is_integer(col.type):
        arr = col.combine_chunks()
        bad = _np_mask(pc.invert(pc.is_in(arr, pa.array([0, 1], arr.type))))
        if bad.any():
            raise rows.error(name, bad, "are not booleans (allowed: true/false, yes/no, 1/0)")
        return pc.equal(arr, 1)
    s = pc.utf8_lower(_strings(col))
    known = pc.is_in(s, pa.array(sorted(_TRUE | _FALSE)))
    bad = _np_mask(pc.and_(pc.is_valid(s), pc.invert(known)))
    if bad.any():
        sample = s.filter(pa.array(bad))[0].as_py()
        raise rows.error(name, bad, f"are not booleans (e.g. {sample!r}; allowed: true/false, yes/no, 1/0)")
    return pc.if_else(pc.is_null(s), pa.scalar(None, pa.bool_()), pc.is_in(s, pa.array(sorted(_TRUE))))


def _read_raw(path: Path) -> tuple[pa.Table, bool]:
    if not path.exists():
        raise UserError(f"{path}: census file not found")
    if path.is_dir():
        raise UserError(f"{path}: census path is a directory, expected a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path), False
        if suffix in (".csv", ".txt"):
            if path.stat().st_size == 0:
                raise UserError(f"{path}: census file is empty (no header, no rows)")
            read = pacsv.ReadOptions(block_size=1 << 24)
            # Read every column as text so that we, not the CSV reader, decide what is malformed.
            with path.open(encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), [])
            opts = pacsv.ConvertOptions(column_types={h: pa.string() for h in header})
            return pacsv.read_csv(path, read_options=read, convert_options=opts), True
    except UserError:
        raise
    except UnicodeDecodeError:
        raise UserError(f"{path}: census is not UTF-8 text ({_first_bad_utf8(path)})") from None
    except (pa.ArrowInvalid, OSError) as e:
        msg = str(e).splitlines()[0]
        if "utf8" in msg.lower():
            raise UserError(f"{path}: census is not UTF-8 text ({_first_bad_utf8(path)})") from None
        raise UserError(f"{path}: cannot read census: {msg}") from None
    raise UserError(f"{path}: unsupported census format '{suffix}' (expected .csv or .parquet)")


def _first_bad_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return f"line {line}: byte 0x{data[e.start]:02x} at offset {e.start}; save the file as UTF-8"
    return "invalid bytes"


def read_census(path: str | Path, start_year: int) -> pa.Table:
    """Read and validate a census file; the cohort starts on Jan 1 of ``start_year``."""
    path = Path(path)
    raw, is_csv = _read_raw(path)
    try:
        return normalize_census(raw, start_year, _Rows(path, is_csv))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as e:
        # a column of a type no census column can have (a list, a struct...) in a Parquet file
        types = ", ".join(f"{f.name}: {f.type}" for f in raw.schema if f.name in REQUIRED + OPTIONAL)
        raise UserError(f"{path}: census columns have unusable types ({types}): {str(e).splitlines()[0]}") from None


def normalize_census(raw: pa.Table, start_year: int, rows: _Rows | None = None) -> pa.Table:
    """Validate a census table in the PlanAlign column format and convert it to CENSUS_SCHEMA."""
    rows = rows or _Rows(Path("<census>"), False)
    path = rows.path
    names = raw.schema.names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        plural = len(repeated) > 1
        raise UserError(f"{path}: column{'s' if plural else ''} {', '.join(repr(n) for n in repeated)} "
                        f"appear{'' if plural else 's'} more than once in the header")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        hints = []
        unknown = [n for n in names if n not in REQUIRED + OPTIONAL]  # only these can be misspellings
        for m in missing:
            close = difflib.get_close_matches(m, unknown, n=1, cutoff=0.6)
            hints.append(f"'{m}'" + (f" (found '{close[0]}': misspelled?)" if close else ""))
        raise UserError(f"{path}: required column{'s' if len(missing) > 1 else ''} missing: {', '.join(hints)}")
    n = raw.num_rows
    if n == 0:
        raise UserError(f"{path}: census has a header but no employee rows")

    ids = _strings(raw["employee_id"])
    null_ids = _np_mask(pc.is_null(ids))
    if null_ids.any():
        raise rows.error("employee_id", null_ids, "have no employee_id")
    dup = _duplicates(ids)
    if dup.any():
        sample = ids.filter(pa.array(dup))[0].as_py()
        raise rows.error("employee_id", dup, f"repeat an employee_id seen earlier (e.g. {sample!r})")

    birth = _parse_dates(raw["employee_birth_date"], "employee_birth_date", rows)
    hire = _parse_dates(raw["employee_hire_date"], "employee_hire_date", rows)
    for name, arr in (("employee_birth_date", birth), ("employee_hire_date", hire)):
        empty = _np_mask(pc.is_null(arr))
        if empty.any():
            raise rows.error(name, empty, "are empty (a date is required)")
    pay = _parse_numbers(raw["employee_gross_compensation"], "employee_gross_compensation", rows)
    pay_np = pay.fill_null(np.nan).to_numpy(zero_copy_only=False)
    bad_pay = ~np.isfinite(pay_np) | (pay_np <= 0)
    if bad_pay.any():
        raise rows.error("employee_gross_compensation", bad_pay, "must be a finite amount > 0")

    if "employee_termination_date" in names:
        term = _parse_dates(raw["employee_termination_date"], "employee_termination_date", rows)
    else:
        term = pa.nulls(n, pa.date32())
    active = _parse_bools(raw["active"], "active", rows) if "active" in names else pa.nulls(n, pa.bool_())
    # a termination date on or after the start is scheduled: the row stays in the cohort until then
    employed_at_start = pc.greater_equal(term, pa.scalar(dt.date(start_year, 1, 1))).fill_null(True)
    active = pc.and_(active.fill_null(True), employed_at_start)

    if "employee_deferral_rate" in names:
        rate = _parse_numbers(raw["employee_deferral_rate"], "employee_deferral_rate", rows).fill_null(0.0)
    else:
        rate = pa.array(np.zeros(n))
    rate_np = rate.to_numpy(zero_copy_only=False).copy()
    pct = rate_np > 1.0
    rate_np[pct] /= 100.0  # 6 means 6%: the percentage rule of DOMAIN.md section 1
    bad_rate = ~np.isfinite(rate_np) | (rate_np < 0) | (rate_np > 1)
    if bad_rate.any():
        raise rows.error("employee_deferral_rate", bad_rate,
                         "are outside 0-1 (values above 1 are read as percentages, so at most 100)")

    aeo = (_parse_bools(raw["auto_escalation_opt_out"], "auto_escalation_opt_out", rows).fill_null(False)
           if "auto_escalation_opt_out" in names else pa.array(np.zeros(n, bool)))
    override = (_parse_bools(raw["eligibility_override"], "eligibility_override", rows)
                if "eligibility_override" in names else pa.nulls(n, pa.bool_()))
    if "level_id" in names:
        lvl = _parse_numbers(raw["level_id"], "level_id", rows)
        lvl_np = lvl.fill_null(1.0).to_numpy(zero_copy_only=False)
        bad_lvl = _np_mask(pc.is_valid(lvl)) & ~np.isin(lvl_np, [1, 2, 3, 4, 5])
        if bad_lvl.any():
            raise rows.error("level_id", bad_lvl, "are not a level 1-5")
        level = lvl.cast(pa.int32())
    else:
        level = pa.nulls(n, pa.int32())

    birth_np = birth.cast(pa.int32()).to_numpy(zero_copy_only=False)
    hire_np = hire.cast(pa.int32()).to_numpy(zero_copy_only=False)
    after = birth_np > hire_np
    if after.any():
        raise rows.error("employee_birth_date", after, "are after the employee_hire_date")
    start = (dt.date(start_year, 1, 1) - dt.date(1970, 1, 1)).days
    late = hire_np >= start
    if late.any():
        raise rows.error("employee_hire_date", late,
                         f"are on or after the simulation start ({start_year}-01-01); "
                         f"the census is the workforce at the end of {start_year - 1}")

    cents = np.floor(pay_np * 100.0 + 0.5).astype(np.int64)  # money: round half up to whole cents, once
    return pa.table(
        [ids, birth, hire, term, pa.array(cents), active, pa.array(rate_np), aeo, override, level],
        schema=CENSUS_SCHEMA,
    )


def _duplicates(ids: pa.Array) -> np.ndarray:
    """True for each row whose id appeared in an earlier row."""
    codes = ids.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    seen = np.zeros(len(codes), bool)
    _, first = np.unique(codes, return_index=True)
    seen[first] = True
    return ~seen


# --- synthetic census ----------------------------------------------------------------------

_LEVEL_SHARE = np.array([0.40, 0.30, 0.17, 0.09, 0.04])
_LEVEL_PAY = np.array([[45_000, 80_000], [80_000, 120_000], [120_000, 160_000], [160_000, 275_000],
                       [275_000, 450_000]], dtype=float)


def synthetic_census(employees: int, seed: int = 42, start_year: int = 2025) -> pa.Table:
    """A realistic census in the PlanAlign column format, deterministic per (employees, seed).

    Ages 22-64, tenures skewed short, pay inside each level's band, ~12% hired
    in the year before the start, ~40% enrolled at 3-10%, 5% escalation opt-outs.
    """
    if employees < 1:
        raise UserError(f"--employees must be at least 1, got {employees}")
    rng = np.random.default_rng(seed)
    n = employees
    base_end = np.datetime64(f"{start_year - 1}-12-31")
    level = rng.choice(5, size=n, p=_LEVEL_SHARE) + 1
    age = np.clip(np.round(rng.normal(41 + 3 * (level - 1), 10, n)), 22, 64).astype(int)
    recent = rng.random(n) < 0.12
    tenure_days = np.where(
        recent,
        rng.integers(0, 365, n),
        np.minimum(rng.exponential(6.0, n) * 365.25, (age - 20) * 365.25).astype(int) + 365,
    )
    hire = base_end - tenure_days.astype("timedelta64[D]")
    birth_offset = (age * 365.25 + rng.integers(0, 365, n)).astype(int)
    birth = base_end - birth_offset.astype("timedelta64[D]")
    birth = np.minimum(birth, hire - np.timedelta64(18 * 365, "D"))
    lo, hi = _LEVEL_PAY[level - 1, 0], _LEVEL_PAY[level - 1, 1]
    pay = np.round(lo + (hi - lo) * rng.beta(2.0, 3.0, n), 2)
    enrolled = rng.random(n) < 0.40
    rate = np.where(enrolled, rng.integers(3, 11, n) / 100.0, 0.0)
    ids = pa.array([f"EMP_{i:07d}" for i in range(1, n + 1)], pa.string())
    return pa.table(
        {
            "employee_id": ids,
            "employee_birth_date": pa.array(birth.astype("datetime64[D]"), pa.date32()),
            "employee_hire_date": pa.array(hire.astype("datetime64[D]"), pa.date32()),
            "employee_gross_compensation": pa.array(pay),
            "active": pa.array(np.ones(n, bool)),
            "employee_termination_date": pa.nulls(n, pa.date32()),
            "employee_deferral_rate": pa.array(rate),
            "auto_escalation_opt_out": pa.array(rng.random(n) < 0.05),
            "eligibility_override": pa.nulls(n, pa.bool_()),
            "level_id": pa.array(level.astype(np.int32)),
        }
    )


def write_census(table: pa.Table, path: str | Path) -> None:
    """Write a census as CSV or Parquet by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    elif path.suffix.lower() == ".csv":
        pacsv.write_csv(table, path)
    else:
        raise UserError(f"{path}: census output must end in .csv or .parquet")
