"""Compare two warehouses: identical files, or where and how they differ."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from arrow_events.errors import UserError
from arrow_events.schema import TABLES
from arrow_events.validate import KEYS
from arrow_events.writer import DATA_FILE, existing_years, partition_dir, sha256_file

# what a table's rows are counted by when the files differ
COUNT_BY = {"events": "event_type", "snapshot": "status"}


@dataclass
class TableDiff:
    table: str
    year: int
    problem: str = ""  # set when one side has no file or it cannot be read
    rows: tuple[int, int] = (0, 0)
    count_changes: dict[str, tuple[int, int]] = field(default_factory=dict)
    only_in_a: list[tuple] = field(default_factory=list)
    only_in_b: list[tuple] = field(default_factory=list)
    changed: list[tuple[tuple, dict[str, tuple]]] = field(default_factory=list)


@dataclass
class CompareReport:
    a: Path
    b: Path
    files_compared: int = 0
    diffs: list[TableDiff] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.diffs

    def render(self, examples: int = 5) -> str:
        if self.identical:
            return f"identical: {self.files_compared} data files match byte for byte"
        lines = [f"different: {len(self.diffs)} of {self.files_compared} data files differ"]
        for d in self.diffs:
            head = f"{d.table} {d.year}"
            if d.problem:
                lines.append(f"  {head}: {d.problem}")
                continue
            lines.append(f"  {head}: rows {d.rows[0]:,} vs {d.rows[1]:,}")
            for value, (x, y) in sorted(d.count_changes.items()):
                lines.append(f"    {COUNT_BY[d.table]}={value}: {x:,} vs {y:,} ({y - x:+,})")
            for key in d.only_in_a[:examples]:
                lines.append(f"    only in A: {key}")
            for key in d.only_in_b[:examples]:
                lines.append(f"    only in B: {key}")
            for key, cols in d.changed[:examples]:
                shown = ", ".join(f"{c}: {x!r} vs {y!r}" for c, (x, y) in cols.items())
                lines.append(f"    differs at {key}: {shown}")
            hidden = max(0, len(d.changed) - examples)
            if hidden:
                lines.append(f"    ... and {hidden} more rows with differing values")
        return "\n".join(lines)


def compare_warehouses(a: str | Path, b: str | Path, examples: int = 5) -> CompareReport:
    a, b = Path(a), Path(b)
    for d in (a, b):
        if not d.is_dir():
            raise UserError(f"{d}: not a warehouse directory")
    report = CompareReport(a, b)
    for table in TABLES:
        for year in sorted(set(existing_years(a, table)) | set(existing_years(b, table))):
            report.files_compared += 1
            fa, fb = partition_dir(a, table, year) / DATA_FILE, partition_dir(b, table, year) / DATA_FILE
            if not fa.is_file() or not fb.is_file():
                side = "A" if not fa.is_file() else "B"
                report.diffs.append(TableDiff(table, year, problem=f"no data file in {side}"))
            elif sha256_file(fa) != sha256_file(fb):
                report.diffs.append(_diff_table(table, year, fa, fb, examples))
    return report


def _read(path: Path) -> pa.Table | None:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError):
        return None


def _diff_table(table: str, year: int, fa: Path, fb: Path, examples: int) -> TableDiff:
    ta, tb = _read(fa), _read(fb)
    if ta is None or tb is None:
        return TableDiff(table, year, problem=f"unreadable Parquet in {'A' if ta is None else 'B'}")
    diff = TableDiff(table, year, rows=(ta.num_rows, tb.num_rows))
    by = COUNT_BY[table]
    ca, cb = Counter(ta[by].to_pylist()), Counter(tb[by].to_pylist())
    diff.count_changes = {k: (ca[k], cb[k]) for k in ca.keys() | cb.keys() if ca[k] != cb[k]}
    keys = KEYS[table]
    ra = {tuple(r[k] for k in keys): r for r in ta.to_pylist()}
    rb = {tuple(r[k] for k in keys): r for r in tb.to_pylist()}
    diff.only_in_a = sorted(ra.keys() - rb.keys())[:examples]
    diff.only_in_b = sorted(rb.keys() - ra.keys())[:examples]
    for key in sorted(ra.keys() & rb.keys()):
        x, y = ra[key], rb[key]
        cols = {c: (x[c], y[c]) for c in x if c in y and x[c] != y[c]}
        if cols:
            diff.changed.append((key, cols))
    if not (diff.count_changes or diff.only_in_a or diff.only_in_b or diff.changed):
        diff.problem = "same rows, different bytes (encoding or metadata)"
    return diff
