"""Scenario comparison: the report's metrics of several runs side by side, and each one's difference from the
first, per year and plan design.

A source is a warehouse (its yearly metrics, and its workforce metrics, which have no plan design), or a
sweep directory (each of its scenarios, by the median over its seeds, with the percentiles around it).
``compare_metrics`` gives one row per source, year, plan design and metric (long form: easy to filter,
pivot or plot); ``write_comparison`` writes it as comparison.parquet and .csv, the chart overlaying the
sources, and report.html.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.errors import UserError
from arrow_events.warehouse.html import image, meta, page, text_table
from arrow_events.warehouse.report import (
    CHARTS_MISSING,
    HTML_FILE,
    RunInfo,
    charts_available,
    check_out_dir,
    run_info,
    workforce_metrics,
    write_files,
    yearly_metrics,
)

COMPARISON_FILE, COMPARISON_CSV, COMPARISON_CHART = "comparison.parquet", "comparison.csv", "comparison.png"
# a sweep directory: its percentiles beside its paths' metrics (arrow_events.sweep's DISTRIBUTION_FILE and
# METRICS_FILE, a layer above)
SWEEP_DISTRIBUTION, SWEEP_METRICS = "distribution.parquet", "metrics.parquet"
PLAN_METRICS = ["actives", "eligible", "participants", "participation_rate", "mean_deferral_rate",
                "plan_compensation", "employee_deferrals", "employer_match", "employer_core", "employer_cost",
                "employer_cost_rate", "at_deferral_limit"]
WORKFORCE_METRICS = ["headcount_start", "headcount_end", "hires", "experienced_terminations",
                     "experienced_termination_rate", "new_hire_terminations", "new_hire_termination_rate",
                     "promotions", "total_compensation", "mean_compensation", "compensation_growth"]
PERCENTILES = ["p5", "p25", "p75", "p95"]
SCHEMA = pa.schema([("scenario", pa.string()), ("simulation_year", pa.int32()), ("plan_design_id", pa.string()),
                    ("metric", pa.string()), ("value", pa.float64()), ("difference", pa.float64()),
                    ("relative_difference", pa.float64())])
# what the terminal shows of a comparison (the files hold every metric), and how
SHOWN = {"participation_rate": "{:.1%}", "mean_deferral_rate": "{:.2%}", "employer_cost": "{:,.0f}",
         "employer_cost_rate": "{:.2%}", "headcount_end": "{:,.0f}"}
RATES = {m for m in PLAN_METRICS + WORKFORCE_METRICS if m.endswith(("_rate", "_growth"))}


def is_sweep(path: Path) -> bool:
    return (path / SWEEP_DISTRIBUTION).is_file() and (path / SWEEP_METRICS).is_file()


def _warehouse_rows(path: Path, label: str) -> list[dict]:
    metrics = yearly_metrics(path)
    cost = pc.add(metrics["employer_match"], metrics["employer_core"])
    metrics = metrics.append_column("employer_cost", cost)
    rows = [{"scenario": label, "simulation_year": r["simulation_year"], "plan_design_id": r["plan_design_id"],
             "metric": m, "value": None if r[m] is None else float(r[m])}
            for r in metrics.to_pylist() for m in PLAN_METRICS]
    rows += [{"scenario": label, "simulation_year": r["simulation_year"], "plan_design_id": None, "metric": m,
              "value": None if r[m] is None else float(r[m])}
             for r in workforce_metrics(path).to_pylist() for m in WORKFORCE_METRICS]
    return rows


def _sweep_rows(path: Path, prefix: str | None) -> list[dict]:
    distribution = pq.read_table(path / SWEEP_DISTRIBUTION)
    return [{"scenario": r["scenario"] if prefix is None else f"{prefix}:{r['scenario']}",
             "simulation_year": r["simulation_year"], "plan_design_id": r["plan_design_id"], "metric": r["metric"],
             "value": r["p50"], **{p: r[p] for p in PERCENTILES}}
            for r in distribution.to_pylist()]


def compare_metrics(sources: Sequence[str | Path]) -> pa.Table:
    """Each source's metrics (a warehouse's report, or a sweep directory's medians per scenario) and their
    difference from the first source's, absolute (``difference``) and relative to it
    (``relative_difference``, NULL where the first is 0 or has no value), per year and plan design."""
    if not sources:
        raise UserError("report: give at least one warehouse or sweep directory")
    rows: list[dict] = []
    labels = [str(s) for s in sources]
    if len(set(labels)) < len(labels):
        raise UserError(f"report: {next(s for s in labels if labels.count(s) > 1)} is given twice")
    for source in sources:
        path = Path(source)
        if is_sweep(path):
            rows += _sweep_rows(path, None if len(sources) == 1 else str(source))
        else:
            rows += _warehouse_rows(path, str(source))
    base: dict[tuple, float | None] = {}
    first = rows[0]["scenario"] if rows else None
    for r in rows:
        if r["scenario"] == first:
            base[(r["simulation_year"], r["plan_design_id"], r["metric"])] = r["value"]
    for r in rows:
        b = base.get((r["simulation_year"], r["plan_design_id"], r["metric"]))
        r["difference"] = None if b is None or r["value"] is None else r["value"] - b
        r["relative_difference"] = None if r["difference"] is None or b == 0 else r["difference"] / abs(b)
    schema = SCHEMA
    if any("p25" in r for r in rows):
        schema = pa.schema([*SCHEMA, *((p, pa.float64()) for p in PERCENTILES)])
    return pa.Table.from_pylist(rows, schema)


def _shown(metric: str, value: float | None) -> str:
    return "-" if value is None else SHOWN.get(metric, "{:.2%}" if metric in RATES else "{:,.0f}").format(value)


def _difference(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.2f} pts" if metric in RATES else f"{value:+,.0f}"


def comparison_rows(comparison: pa.Table, metrics: Sequence[str] = tuple(SHOWN)) -> list[list[str]]:
    """The comparison as a wide text table: a row per year, plan design and metric of ``metrics``, a value
    column per source, then per source after the first its difference from the first, absolute and
    relative."""
    records = [r for r in comparison.to_pylist() if r["metric"] in metrics]
    sources = list(dict.fromkeys(r["scenario"] for r in comparison.to_pylist()))
    cells: dict[tuple, dict[str, dict]] = {}
    for r in records:
        cells.setdefault((r["simulation_year"], r["plan_design_id"] or "", r["metric"]), {})[r["scenario"]] = r
    order = {m: i for i, m in enumerate(metrics)}
    head = ["year", "design", "metric", *sources]
    for s in sources[1:]:
        head += [f"vs {sources[0]}: {s}", "relative"]
    table = [head]
    for (year, design, metric), by in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]])):
        row = [str(year), design or "(workforce)", metric] + [_shown(metric, by.get(s, {}).get("value"))
                                                              for s in sources]
        for s in sources[1:]:
            r = by.get(s, {})
            rel = r.get("relative_difference")
            row += [_difference(metric, r.get("difference")), "-" if rel is None else f"{rel:+.1%}"]
        table.append(row)
    return table


def render_comparison(comparison: pa.Table) -> str:
    rows = comparison_rows(comparison)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in rows)


def comparison_infos(sources: Sequence[str | Path]) -> list[RunInfo]:
    """What made each warehouse among ``sources`` (a sweep directory has no one run: left out)."""
    return [run_info(s) for s in sources if not is_sweep(Path(s))]


def write_comparison(comparison: pa.Table, directory: str | Path, infos: Sequence[RunInfo] = ()) -> list[Path]:
    """comparison.parquet and .csv, comparison.png (with matplotlib) and report.html in ``directory``."""
    directory = check_out_dir(directory)
    writers: dict[str, Callable[[Path], object]] = {
        COMPARISON_FILE: lambda p: pq.write_table(comparison, p),
        COMPARISON_CSV: lambda p: pacsv.write_csv(comparison, p),
    }
    sections = [meta(info.line()) for info in infos]
    sections += ["<h2>Compared</h2>", text_table(comparison_rows(comparison), 3),
                 meta(f"every metric, per year and plan design: {COMPARISON_CSV}")]
    if charts_available():
        from arrow_events.warehouse.charts import comparison_chart, png

        chart = png(comparison_chart, comparison)
        writers[COMPARISON_CHART] = lambda p: p.write_bytes(chart)
        sections.append(image(chart, "the runs overlaid"))
    else:
        sections.append(meta(CHARTS_MISSING))
    sections += ["<h2>All metrics</h2>", text_table(comparison_rows(comparison, PLAN_METRICS + WORKFORCE_METRICS), 3)]
    text = page(f"arrow-events comparison: {', '.join(dict.fromkeys(comparison['scenario'].to_pylist()))}", sections)
    writers[HTML_FILE] = lambda p: p.write_text(text, encoding="utf-8")
    return write_files(directory, writers)
