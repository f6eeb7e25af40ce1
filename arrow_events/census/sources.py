"""Where a census comes from: a CSV or Parquet file, or any Arrow object, as one raw table.

CSV files are read as text in every column, so that the census rules (not the
CSV reader) decide what is malformed; their delimiter is detected from the
header. Every row keeps the number a user can find it by: its line in a CSV
file (the header is line 1), its 1-based row elsewhere.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.errors import UserError, first_line

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


@dataclass
class RawCensus:
    """A census as read, before any rule: columns as found, rows numbered as the user sees them."""

    table: pa.Table
    name: str  # the file, or what kind of object it came from
    unit: str  # "line" (CSV) or "row"
    numbers: np.ndarray  # per row: its line or row number
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
    # rows the CSV reader could not split into the header's columns: (line, problem, text)
    broken: list[tuple[int, str, str]] = field(default_factory=list)


def open_census(source: Any) -> RawCensus:
    """A path, a pyarrow Table or RecordBatchReader, or anything exposing ``__arrow_c_stream__``."""
    if isinstance(source, (str, Path)):
        return _read_file(Path(source))
    name = f"census ({type(source).__module__.split('.')[0]}.{type(source).__name__})"
    if isinstance(source, pa.Table):
        table = source
    elif isinstance(source, pa.RecordBatch):
        table = pa.Table.from_batches([source])
    elif isinstance(source, pa.RecordBatchReader):
        table = source.read_all()
    elif hasattr(source, "__arrow_c_stream__"):
        table = pa.RecordBatchReader.from_stream(source).read_all()
    else:
        raise UserError(f"census: expected a file path, a pyarrow Table or RecordBatchReader, or an object with "
                        f"__arrow_c_stream__ (Polars, pandas, DuckDB), got {type(source).__name__}")
    return RawCensus(table, name, "row", np.arange(1, table.num_rows + 1))


def _read_file(path: Path) -> RawCensus:
    if not path.exists():
        raise UserError(f"{path}: census file not found")
    if path.is_dir():
        raise UserError(f"{path}: census path is a directory, expected a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table = pq.read_table(path)
            return RawCensus(table, str(path), "row", np.arange(1, table.num_rows + 1))
        if suffix in TEXT_SUFFIXES:
            return _read_csv(path)
    except UserError:
        raise
    except UnicodeDecodeError:
        raise UserError(f"{path}: census is not UTF-8 text ({_first_bad_utf8(path)})") from None
    except (pa.ArrowInvalid, OSError) as e:
        msg = first_line(e)
        if "utf8" in msg.lower():
            raise UserError(f"{path}: census is not UTF-8 text ({_first_bad_utf8(path)})") from None
        raise UserError(f"{path}: cannot read census: {msg}") from None
    raise UserError(f"{path}: unsupported census format '{suffix}' (expected .csv, .tsv, .txt or .parquet)")


def _sniff(header_line: str) -> tuple[str, list[str]]:
    """The delimiter that splits the header into the most columns (comma on a tie)."""
    best = ","
    best_fields = next(csv.reader([header_line]), [])
    for d in DELIMITERS:
        fields = next(csv.reader([header_line], delimiter=d), [])
        if len(fields) > len(best_fields):
            best, best_fields = d, fields
    return best, best_fields


def _read_csv(path: Path) -> RawCensus:
    if path.stat().st_size == 0:
        raise UserError(f"{path}: census file is empty (no header, no rows)")
    with path.open(encoding="utf-8-sig", newline="") as f:
        header_line = f.readline().rstrip("\r\n")
    delimiter, header = _sniff(header_line)
    if not any(h.strip() for h in header):
        raise UserError(f"{path}: line 1 should be the header row of column names, but it is empty")
    # columns without a name (trailing delimiters) are extra columns: named only to be told apart
    header = [h if h.strip() else f"(unnamed column {i + 1})" for i, h in enumerate(header)]
    broken: list[tuple[int, str]] = []

    def on_broken_row(row: pacsv.InvalidRow) -> str:
        broken.append((row.number, row.text))
        return "skip"

    def read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 24, use_threads=threads, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                              invalid_row_handler=on_broken_row),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    table = read(True)
    if broken:  # rare: read again on one thread, which knows the line numbers of broken rows
        broken.clear()
        table = read(False)
    numbers = np.arange(2, table.num_rows + 2)
    if broken:  # the lines the reader skipped are not the rows' lines
        lines = np.arange(2, table.num_rows + len(broken) + 2)
        numbers = np.setdiff1d(lines, [n for n, _ in broken])[: table.num_rows]
    width = len(header)
    raw = RawCensus(table, str(path), "line", numbers, delimiter)
    raw.broken = [(n, f"has {_fields(t, delimiter)} fields where the header has {width}", t) for n, t in broken]
    if delimiter != ",":
        raw.notes.append(f"{path}: read as {DELIMITERS[delimiter]}-delimited")
    return raw


def _fields(line: str, delimiter: str) -> int:
    return len(next(csv.reader(io.StringIO(line), delimiter=delimiter), []))


def _first_bad_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return f"line {line}: byte 0x{data[e.start]:02x} at offset {e.start}; save the file as UTF-8"
    return "invalid bytes"


def drop_empty_rows(raw: RawCensus) -> RawCensus:
    """Leave out rows with no value in any column (the ``,,,,`` rows spreadsheets leave at the end)."""
    if not raw.table.num_rows or not raw.table.num_columns:
        return raw
    raw.table = one_chunk_each(raw.table)
    empty = None
    for arr in raw.table.columns:
        arr = arr.chunk(0)
        blank = pc.is_null(arr)
        if pa.types.is_string(arr.type):
            blank = pc.or_(blank, pc.equal(pc.utf8_trim_whitespace(arr), ""))
        empty = blank if empty is None else pc.and_(empty, blank)
    keep = pc.invert(empty.fill_null(True))
    if pc.all(keep).as_py():
        return raw
    raw.numbers = raw.numbers[np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)]
    raw.table = raw.table.filter(keep)
    return raw


def one_chunk_each(table: pa.Table) -> pa.Table:
    """Each column in one chunk, combined a column at a time so that each chunked original is freed before
    the next is combined. The rules read whole columns: combining them there (``values.plain``) would hold
    a combined copy beside the chunked one (a Parquet file reads as one chunk per row group; at 5M rows
    that doubled the 0.3 GB the file holds)."""
    for i in range(table.num_columns):
        if table.column(i).num_chunks != 1:
            table = table.set_column(i, table.field(i), table.column(i).combine_chunks())
    return table
