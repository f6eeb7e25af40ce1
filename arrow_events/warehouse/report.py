"""The yearly report over a warehouse: what each plan design does for saving and what it costs, and the
workforce it happens to.

``yearly_metrics`` runs queries/yearly_metrics.sql and ``workforce_metrics`` queries/workforce_metrics.sql
in DataFusion over the warehouse's committed years; ``write_report`` puts them (Parquet, CSV), their charts
and one self-contained page, report.html, in a directory. A warehouse written before the contributions
table existed (or with --no-contributions) still reports its workforce and plan columns; its amounts are
empty. Charts need matplotlib (the ``charts`` extra); without it the report is written without them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from datafusion import SessionConfig, SessionContext

from arrow_events.config import Config, config_from_toml, load_config
from arrow_events.engine import params
from arrow_events.errors import UserError
from arrow_events.options import BREAKDOWNS
from arrow_events.queries import sql
from arrow_events.schema import TABLES
from arrow_events.warehouse.html import html_table, image, meta, page
from arrow_events.warehouse.manifest import YearManifest, read_manifest
from arrow_events.warehouse.sql import PARTITION, warehouse_context
from arrow_events.warehouse.writer import existing_years, manifest_path, replace_atomically

METRICS_FILE, CSV_FILE, CHART_FILE = "metrics.parquet", "metrics.csv", "metrics.png"
WORKFORCE_FILE, WORKFORCE_CSV, WORKFORCE_CHART = "workforce.parquet", "workforce.csv", "workforce.png"
HTML_FILE = "report.html"
CHARTS_MISSING = "charts need matplotlib: pip install 'arrow-events[charts]'"

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
_WORKFORCE_SHOWN = {
    "simulation_year": ("year", "{}"),
    "level": ("level", "{}"),
    "age_band": ("age band", "{}"),
    "tenure_band": ("tenure band", "{}"),
    "headcount_start": ("start", "{:,}"),
    "headcount_end": ("end", "{:,}"),
    "hires": ("hires", "{:,}"),
    "experienced_terminations": ("exp. terms", "{:,}"),
    "experienced_termination_rate": ("rate", "{:.1%}"),
    "new_hire_terminations": ("new-hire terms", "{:,}"),
    "new_hire_termination_rate": ("rate", "{:.1%}"),
    "promotions": ("promotions", "{:,}"),
    "promotion_rate": ("rate", "{:.1%}"),
    "total_compensation": ("total pay", "{:,.0f}"),
    "mean_compensation": ("mean pay", "{:,.0f}"),
    "compensation_growth": ("growth", "{:+.2%}"),
}
_TEXT_COLUMNS = {"simulation_year", "plan_design_id", *BREAKDOWNS}  # read left to right; numbers align right


def _checked(out: str | Path) -> Path:
    out = Path(out)
    if not existing_years(out, "snapshot"):
        raise UserError(f"{out}: not an arrow-events warehouse with a simulated year "
                        f"(no snapshot/simulation_year=<year>/ inside); write one with: arrow-events run {out}")
    return out


def yearly_metrics(out: str | Path) -> pa.Table:
    """The report's metrics per year and plan design, for every year the warehouse ``out`` holds.

    One partition: float sums and means then add up in one order, so the same warehouse gives the
    same bits (a sweep's metrics equal the report's) whatever the machine's cores."""
    out = _checked(out)
    # a warehouse written before contributions existed, or without them: the amounts come out empty
    return _metrics(warehouse_context(out, 1, empty_when_missing=True))


def metrics_of(years: Iterable[tuple[int, pa.Table, pa.Table | None]], paths: Iterable[np.ndarray] | None = None,
               ) -> pa.Table:
    """The same metrics over years held in memory, each ``(year, snapshot, contributions or None)``: what a
    sweep measures of a run it does not keep, equal to ``yearly_metrics`` of that run's warehouse. With
    ``paths`` (for each year, each snapshot row's path, ascending; contributions rows are the snapshot's),
    the years of a batch of paths, measured path by path: a ``path`` column first."""
    tables: dict[str, list[pa.Table]] = {"snapshot": [], "contributions": []}
    year_field = pa.field(*PARTITION, nullable=False)  # as a warehouse's partition key reads
    by_path = iter(paths) if paths is not None else None
    for year, snapshot, contributions in years:
        path = pa.array(next(by_path) if by_path else np.zeros(snapshot.num_rows, np.int64), pa.int64())
        for name, table in (("snapshot", snapshot), ("contributions", contributions)):
            if table is not None:
                tables[name].append(table.append_column(year_field, pa.array([year] * table.num_rows, PARTITION[1]))
                                    .append_column("path", path))
    ctx = SessionContext(SessionConfig().with_target_partitions(1)
                         .set("datafusion.sql_parser.map_string_types_to_utf8view", "false"))
    for name, parts in tables.items():
        schema = TABLES[name].append(year_field).append(pa.field("path", pa.int64()))
        batches = [b for t in parts for b in t.to_batches()] or [pa.RecordBatch.from_pylist([], schema)]
        ctx.register_record_batches(f"measured_{name}", [batches])
    metrics = ctx.sql(sql("yearly_metrics")).to_arrow_table()
    return metrics if paths is not None else metrics.drop_columns(["path"])


def _metrics(ctx: SessionContext) -> pa.Table:
    """yearly_metrics over a warehouse's tables (one path)."""
    for name in ("snapshot", "contributions"):
        ctx.register_view(f"measured_{name}", ctx.sql(f"SELECT *, CAST(0 AS BIGINT) AS path FROM {name}"))
    return ctx.sql(sql("yearly_metrics")).to_arrow_table().drop_columns(["path"])


def workforce_metrics(out: str | Path, by: str | None = None) -> pa.Table:
    """The workforce per year (queries/workforce_metrics.sql): headcount at the start and the end, hires,
    experienced and new-hire terminations and their rates, promotions, total and mean pay of the actives at
    Dec 31 and its growth; overall, or with ``by`` one row per job level (``"level"``), age band
    (``"age_band"``) or tenure band (``"tenure_band"``), in a column of that name."""
    if by is not None and by not in BREAKDOWNS:
        raise UserError(f"by: expected one of {', '.join(BREAKDOWNS)}, got {by!r}")
    out = _checked(out)
    ctx = warehouse_context(out, 1)
    configs = year_configs(out)
    for name, table_of in (("age_bands", params.age_bands_table), ("tenure_bands", params.tenure_bands_table)):
        bands = [table_of(cfg).select(["years", "band"]) for cfg in configs.values()]
        years = [pa.array([y] * t.num_rows, pa.int32()) for y, t in zip(configs, bands)]
        ctx.register_record_batches(name, [pa.concat_tables(
            [t.add_column(0, "simulation_year", y) for t, y in zip(bands, years)]).to_batches()])
    table = ctx.sql(sql("workforce_metrics"), param_values={"by": pa.scalar(by or "all")}).to_arrow_table()
    order = sorted(range(table.num_rows), key=lambda i: (table["simulation_year"][i].as_py(),
                                                         _category_order(table["category"][i].as_py())))
    table = table.take(pa.array(order, pa.int64()))
    if by is None:
        return table.drop_columns(["category"])
    return table.rename_columns([by if c == "category" else c for c in table.column_names])


def _category_order(category: str) -> tuple[int, str]:
    """Levels by number; bands by their lower bound ('<25' first, '65+' last)."""
    if category.startswith("<"):
        return -1, category
    m = re.match(r"\d+", category)
    return (int(m.group()), category) if m else (0, category)


def year_configs(out: Path) -> dict[int, Config]:
    """Each year's config, as its manifest stores it (the defaults where a manifest has none)."""
    configs = {}
    for year in existing_years(out, "snapshot"):
        manifest = _manifest(out, year)
        try:
            configs[year] = config_from_toml(manifest.config_toml or "", "manifest") if manifest else load_config(None)
        except UserError:
            configs[year] = load_config(None)
    return configs


def _manifest(out: Path, year: int) -> YearManifest | None:
    try:
        return read_manifest(manifest_path(out, year))
    except (OSError, ValueError, TypeError):
        return None


@dataclass
class RunInfo:
    """What made a warehouse's years, from their manifests: for a report's heading."""

    warehouse: Path
    years: list[int]
    scenario_ids: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    config_sha256: list[str] = field(default_factory=list)
    plan_design_ids: list[str] = field(default_factory=list)

    def line(self) -> str:
        span = f"{self.years[0]}-{self.years[-1]}" if len(self.years) > 1 else str(self.years[0])
        seeds = ", ".join(str(s) for s in self.seeds) or "unknown"
        configs = ", ".join(c[:12] for c in self.config_sha256) or "unknown"
        return (f"{self.warehouse}: scenario {', '.join(self.scenario_ids) or 'unknown'}, years {span}, seed {seeds}, "
                f"config sha256 {configs}, plan designs {', '.join(self.plan_design_ids)}")


def run_info(out: str | Path) -> RunInfo:
    out = _checked(out)
    info = RunInfo(out, existing_years(out, "snapshot"))
    for year in info.years:
        manifest = _manifest(out, year)
        if manifest is None:
            continue
        for values, value in ((info.scenario_ids, manifest.scenario_id), (info.seeds, manifest.seed),
                              (info.config_sha256, manifest.config_sha256)):
            if value not in (None, "") and value not in values:
                values.append(value)
        info.plan_design_ids += [d for d in manifest.plan_design_ids if d not in info.plan_design_ids]
    return info


def has_amounts(metrics: pa.Table) -> bool:
    return metrics.num_rows > 0 and metrics["plan_compensation"].null_count < metrics.num_rows


def render(table: pa.Table, shown: dict[str, tuple[str, str]]) -> str:
    """``table``'s columns that ``shown`` names, as an aligned text table (a NULL shows as -)."""
    columns = [c for c in shown if c in table.column_names]
    rows = [[shown[c][0] for c in columns]]
    for record in table.to_pylist():
        rows.append(["-" if record[c] is None else shown[c][1].format(record[c]) for c in columns])
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) if c in _TEXT_COLUMNS else v.rjust(w)
                               for c, v, w in zip(columns, r, widths)).rstrip() for r in rows)


def render_table(metrics: pa.Table) -> str:
    """The plan metrics as an aligned text table, one row per year and plan design."""
    return render(metrics, _SHOWN)


def render_workforce(workforce: pa.Table) -> str:
    """The workforce metrics as an aligned text table, one row per year (and group)."""
    return render(workforce, _WORKFORCE_SHOWN)


def plain(value: Any) -> Any:
    """A value as JSON shows it: amounts as numbers (in dollars), dates as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def to_json(metrics: pa.Table, workforce: pa.Table | None = None) -> str:
    """The plan metrics as a JSON array of objects; with ``workforce``, an object holding both arrays,
    ``plan_designs`` and ``workforce``."""
    def rows(table: pa.Table) -> list[dict[str, Any]]:
        return [{k: plain(v) for k, v in r.items()} for r in table.to_pylist()]
    if workforce is None:
        return json.dumps(rows(metrics), indent=2)
    return json.dumps({"plan_designs": rows(metrics), "workforce": rows(workforce)}, indent=2)


def check_out_dir(directory: str | Path) -> Path:
    """``directory`` if the report can be written there (it may not exist yet)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"out: {directory} exists and is not a directory")
    return directory


def charts_available() -> bool:
    """Whether matplotlib (the ``charts`` extra) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_files(directory: Path, writers: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Each file of ``writers`` in ``directory``, appearing whole (a temporary renamed into place)."""
    directory = check_out_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, write in writers.items():
        path = directory / name
        try:
            replace_atomically(path, write)
        except OSError as e:
            raise UserError(f"{path}: cannot write the report ({e.strerror or e})") from None
        written.append(path)
    return written


def write_report(metrics: pa.Table, directory: str | Path, workforce: pa.Table | None = None,
                 info: RunInfo | None = None) -> list[Path]:
    """metrics.parquet and metrics.csv in ``directory`` (with ``workforce``, workforce.parquet and .csv), the
    charts (metrics.png, workforce.png; only with matplotlib) and report.html, the tables and charts on one
    page; each file appears whole."""
    directory = check_out_dir(directory)
    writers: dict[str, Callable[[Path], object]] = {
        METRICS_FILE: lambda p: pq.write_table(metrics, p),
        CSV_FILE: lambda p: pacsv.write_csv(metrics, p),
    }
    if workforce is not None:
        writers[WORKFORCE_FILE] = lambda p: pq.write_table(workforce, p)
        writers[WORKFORCE_CSV] = lambda p: pacsv.write_csv(workforce, p)
    charts: dict[str, bytes] = {}
    if charts_available():
        from arrow_events.warehouse.charts import metrics_chart, png, workforce_chart

        charts[CHART_FILE] = png(metrics_chart, metrics)
        if workforce is not None:
            charts[WORKFORCE_CHART] = png(workforce_chart, workforce)
        for name, data in charts.items():
            writers[name] = lambda p, data=data: p.write_bytes(data)
    page = report_page(metrics, workforce, info, charts)
    writers[HTML_FILE] = lambda p: p.write_text(page, encoding="utf-8")
    return write_files(directory, writers)


def report_page(metrics: pa.Table, workforce: pa.Table | None, info: RunInfo | None, charts: dict[str, bytes]) -> str:
    """One warehouse's report as a page: the plan designs' metrics and the workforce's, each with its chart."""
    sections = [meta(info.line())] if info else []
    sections += ["<h2>Plan designs</h2>", html_table(metrics, _SHOWN, _TEXT_COLUMNS)]
    sections.append(image(charts[CHART_FILE], "plan designs by year") if CHART_FILE in charts
                    else meta(CHARTS_MISSING))
    if workforce is not None:
        by = next((c for c in BREAKDOWNS if c in workforce.column_names), None)
        sections += [f"<h2>Workforce{' by ' + by.replace('_', ' ') if by else ''}</h2>",
                     html_table(workforce, _WORKFORCE_SHOWN, _TEXT_COLUMNS)]
        if WORKFORCE_CHART in charts:
            sections.append(image(charts[WORKFORCE_CHART], "workforce by year"))
    return page(f"arrow-events report: {info.warehouse if info else 'warehouse'}", sections)
