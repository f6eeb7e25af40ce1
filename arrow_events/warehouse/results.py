"""A query's result for a person or a program: an aligned text table, CSV, JSON or Parquet, values shown as plain
numbers and ISO dates (``arrow-events sql``)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.errors import UserError
from arrow_events.warehouse.writer import replace_atomically


def plain_text(value: Any) -> str:
    """A value as a person reads it: 97612.21 (not Decimal('97612.21')), 2025-02-01, true, and NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def render_result(table: pa.Table, max_rows: int = 100) -> str:
    """The first ``max_rows`` rows as an aligned text table (numbers to the right), and how many more there are."""
    shown = table.slice(0, max_rows)
    rows = [table.column_names] + [[plain_text(v) for v in r.values()] for r in shown.to_pylist()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(table.column_names))]
    right = [_numeric(f.type) for f in table.schema]
    lines = ["  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(row, widths, right)).rstrip() for row in rows]
    lines.append(f"({table.num_rows:,} row{'s' * (table.num_rows != 1)}"
                 + (f", {max_rows:,} shown: --format csv or --out FILE for all)" if table.num_rows > max_rows else ")"))
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def result_text(table: pa.Table, fmt: str) -> str:
    """The result as CSV (a header row) or JSON (an array of objects, amounts as numbers)."""
    if fmt == "csv":
        sink = io.BytesIO()
        pacsv.write_csv(table, sink)
        return sink.getvalue().decode("utf-8")
    if fmt == "json":
        return json.dumps([{k: _json_value(v) for k, v in r.items()} for r in table.to_pylist()], indent=2) + "\n"
    raise UserError(f"--format: expected table, csv, json or parquet, got {fmt!r}")


def write_result(table: pa.Table, path: Path, fmt: str) -> None:
    """The result in ``path``, whole or not at all (a temporary renamed into place)."""
    if fmt == "parquet":
        write = lambda p: pq.write_table(table, p)  # noqa: E731
    else:
        text = result_text(table, "csv" if fmt == "table" else fmt)
        write = lambda p: p.write_text(text, encoding="utf-8")  # noqa: E731
    try:
        replace_atomically(path, write)
    except OSError as e:
        raise UserError(f"{path}: cannot write the result ({e.strerror or e})") from None
