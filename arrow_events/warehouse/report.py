"""The yearly report: what each plan design does for saving and what it costs, over a warehouse.

``yearly_metrics`` runs queries/yearly_metrics.sql in DataFusion over the warehouse's
committed years; ``write_report`` puts the metrics (Parquet, CSV) and the chart in a directory.
A warehouse written before the contributions table existed (or with --no-contributions) still
reports its workforce and plan columns; its amounts are empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from datafusion import SessionConfig, SessionContext

from arrow_events.errors import UserError
from arrow_events.queries import sql
from arrow_events.schema import TABLES
from arrow_events.warehouse.sql import PARTITION, warehouse_context
from arrow_events.warehouse.writer import existing_years, replace_atomically

METRICS_FILE, CSV_FILE, CHART_FILE = "metrics.parquet", "metrics.csv", "metrics.png"
# how the terminal table shows each column: (heading, format)
_SHOWN = {
    "simulation_year": ("year", "{}"),
    "plan_design_id": ("design", "{}"),
    "actives": ("actives", "{:,}"),
    "eligible": ("eligible", "{:,}"),
    "participants": ("particip.", "{:,}"),
    "participation_rate": ("rate", "{:.1%}"),
    "mean_deferral_rate": ("deferral", "{:.2%}"),
    "plan_compensation": ("plan pay", "{:,.0f}"),
    "employee_deferrals": ("deferrals", "{:,.0f}"),
    "employer_match": ("match", "{:,.0f}"),
    "employer_core": ("core", "{:,.0f}"),
    "employer_cost_rate": ("cost", "{:.2%}"),
    "at_deferral_limit": ("at limit", "{:,}"),
}


def yearly_metrics(out: str | Path) -> pa.Table:
    """The report's metrics per year and plan design, for every year the warehouse ``out`` holds.

    One partition: float sums and means then add up in one order, so the same warehouse gives the
    same bits (a sweep's metrics equal the report's) whatever the machine's cores."""
    out = Path(out)
    if not existing_years(out, "snapshot"):
        raise UserError(f"{out}: not an arrow-events warehouse with a simulated year (no snapshot/"
                        f"simulation_year=<year>/ inside); simulate into it first (`arrow-events run --out {out}`)")
    # a warehouse written before contributions existed, or without them: the amounts come out empty
    return _metrics(warehouse_context(out, 1, empty_when_missing=True))


def metrics_of(years: Iterable[tuple[int, pa.Table, pa.Table | None]]) -> pa.Table:
    """The same metrics over years held in memory, each ``(year, snapshot, contributions or None)``: what a
    sweep measures of a run it does not keep, equal to ``yearly_metrics`` of that run's warehouse."""
    tables: dict[str, list[pa.Table]] = {"snapshot": [], "contributions": []}
    year_field = pa.field(*PARTITION, nullable=False)  # as a warehouse's partition key reads
    for year, snapshot, contributions in years:
        for name, table in (("snapshot", snapshot), ("contributions", contributions)):
            if table is not None:
                tables[name].append(table.append_column(year_field, pa.array([year] * table.num_rows, PARTITION[1])))
    ctx = SessionContext(SessionConfig().with_target_partitions(1)
                         .set("datafusion.sql_parser.map_string_types_to_utf8view", "false"))
    for name, parts in tables.items():
        schema = TABLES[name].append(year_field)
        batches = [b for t in parts for b in t.to_batches()] or [pa.RecordBatch.from_pylist([], schema)]
        ctx.register_record_batches(name, [batches])
    return _metrics(ctx)


def _metrics(ctx: SessionContext) -> pa.Table:
    return ctx.sql(sql("yearly_metrics")).to_arrow_table()


def has_amounts(metrics: pa.Table) -> bool:
    return metrics.num_rows > 0 and metrics["plan_compensation"].null_count < metrics.num_rows


def render_table(metrics: pa.Table) -> str:
    """The metrics as an aligned text table, one row per year and plan design."""
    rows = [[head for head, _ in _SHOWN.values()]]
    for record in metrics.to_pylist():
        rows.append(["-" if record[c] is None else fmt.format(record[c]) for c, (_, fmt) in _SHOWN.items()])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    left = {0, 1}  # year and design read left to right; numbers align right
    return "\n".join("  ".join(v.ljust(w) if i in left else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in rows)


def to_json(metrics: pa.Table) -> str:
    """The metrics as a JSON array of objects (amounts as numbers, in dollars)."""
    def plain(v: Any) -> Any:
        return float(v) if isinstance(v, Decimal) else v
    return json.dumps([{k: plain(v) for k, v in r.items()} for r in metrics.to_pylist()], indent=2)


def check_out_dir(directory: str | Path) -> Path:
    """``directory`` if the report can be written there (it may not exist yet)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"out: {directory} exists and is not a directory")
    return directory


def write_report(metrics: pa.Table, directory: str | Path) -> list[Path]:
    """metrics.parquet, metrics.csv and the chart (metrics.png) in ``directory``; each file appears whole."""
    from arrow_events.warehouse.charts import metrics_chart  # matplotlib loads only when a chart is drawn

    directory = check_out_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[Path], None]] = {
        METRICS_FILE: lambda p: pq.write_table(metrics, p),
        CSV_FILE: lambda p: pacsv.write_csv(metrics, p),
        CHART_FILE: lambda p: metrics_chart(metrics, p),
    }
    written = []
    for name, write in writers.items():
        path = directory / name
        try:
            replace_atomically(path, write)
        except OSError as e:
            raise UserError(f"{path}: cannot write the report ({e.strerror or e})") from None
        written.append(path)
    return written
