"""Charts of the yearly metrics, the workforce, a comparison of runs and a sweep's spread (matplotlib, the
``charts`` extra, drawn off-screen: no display needed)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

# inches x dots per inch: the PNG is 1500 x 1000 pixels
SIZE, DPI = (12.0, 8.0), 125


def _series(metrics: pa.Table, design: str, column: str) -> tuple[list[int], list[float | None]]:
    rows = [r for r in metrics.to_pylist() if r["plan_design_id"] == design]
    return [r["simulation_year"] for r in rows], [None if r[column] is None else float(r[column]) for r in rows]


def metrics_chart(metrics: pa.Table, path: str | Path | io.BytesIO) -> None:
    """Participation rate, mean deferral rate, employer cost and headcount by year, one line per plan design."""
    metrics = metrics.append_column("employer_cost", _employer_cost(metrics))
    designs = sorted(set(metrics["plan_design_id"].to_pylist()))
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    panels = [
        ("participation_rate", "Participation rate (enrolled / eligible actives)", PercentFormatter(1.0)),
        ("mean_deferral_rate", "Mean deferral rate of participants", PercentFormatter(1.0, decimals=1)),
        ("employer_cost", "Employer cost (match + core), $ millions", FuncFormatter(lambda v, _: f"{v / 1e6:,.1f}")),
        ("actives", "Headcount (actives at Dec 31)", FuncFormatter(lambda v, _: f"{v:,.0f}")),
    ]
    for ax, (column, title, formatter) in zip(fig.subplots(2, 2).flat, panels):
        for design in designs:
            years, values = _series(metrics, design, column)
            ax.plot(years, values, marker="o", label=design)
        ax.set_title(title, fontsize=11)
        ax.yaxis.set_major_formatter(formatter)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.axes[0].legend(title="plan design", fontsize=9)
    fig.suptitle("Plan designs side by side", fontsize=13)
    fig.savefig(path, format="png", metadata={"Software": None})


def png(chart: Callable[..., None], *args: Any) -> bytes:
    """The PNG bytes ``chart(*args, path)`` draws."""
    buffer = io.BytesIO()
    chart(*args, buffer)
    return buffer.getvalue()


def workforce_chart(workforce: pa.Table, path: str | Path | io.BytesIO) -> None:
    """Headcount and mean pay at Dec 31 (a line per group when broken down), hires and terminations, and the
    termination rates, by year."""
    group = next((c for c in ("level", "age_band", "tenure_band") if c in workforce.column_names), None)
    rows = workforce.to_pylist()
    groups = list(dict.fromkeys(r[group] for r in rows)) if group else [None]
    years = sorted({r["simulation_year"] for r in rows})
    totals = {y: {k: sum(r[k] or 0 for r in rows if r["simulation_year"] == y)
                  for k in ("headcount_start", "hires", "experienced_terminations", "new_hire_terminations")}
              for y in years}
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax_head, ax_flow, ax_rate, ax_pay = fig.subplots(2, 2).flat
    for g in groups:
        mine = [r for r in rows if group is None or r[group] == g]
        label = "all" if g is None else f"{group.replace('_', ' ')} {g}"
        ax_head.plot([r["simulation_year"] for r in mine], [r["headcount_end"] for r in mine], marker="o",
                     label=label)
        ax_pay.plot([r["simulation_year"] for r in mine],
                    [None if r["mean_compensation"] is None else float(r["mean_compensation"]) for r in mine],
                    marker="o", label=label)
    for key, label in (("hires", "hires"), ("experienced_terminations", "experienced terminations"),
                       ("new_hire_terminations", "new-hire terminations")):
        ax_flow.plot(years, [totals[y][key] for y in years], marker="o", label=label)
    for num, den, label in (("experienced_terminations", "headcount_start", "experienced (of the start)"),
                            ("new_hire_terminations", "hires", "new-hire (of the hires)")):
        ax_rate.plot(years, [totals[y][num] / totals[y][den] if totals[y][den] else None for y in years],
                     marker="o", label=label)
    panels = [(ax_head, "Headcount (actives at Dec 31)", FuncFormatter(lambda v, _: f"{v:,.0f}")),
              (ax_flow, "Hires and terminations", FuncFormatter(lambda v, _: f"{v:,.0f}")),
              (ax_rate, "Termination rates", PercentFormatter(1.0)),
              (ax_pay, "Mean pay of actives at Dec 31, $", FuncFormatter(lambda v, _: f"{v:,.0f}"))]
    for ax, title, formatter in panels:
        ax.set_title(title, fontsize=11)
        ax.yaxis.set_major_formatter(formatter)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Workforce" + (f" by {group.replace('_', ' ')}" if group else ""), fontsize=13)
    fig.savefig(path, format="png", metadata={"Software": None})


# the comparison chart's panels: (metric of comparison.parquet, title, y-axis formatter)
COMPARISON_PANELS = [
    ("participation_rate", "Participation rate", PercentFormatter(1.0)),
    ("mean_deferral_rate", "Mean deferral rate of participants", PercentFormatter(1.0, decimals=1)),
    ("employer_cost", "Employer cost (match + core), $ millions", FuncFormatter(lambda v, _: f"{v / 1e6:,.1f}")),
    ("employer_cost_rate", "Employer cost rate (of plan pay)", PercentFormatter(1.0, decimals=2)),
]
_STYLES = ["-", "--", ":", "-."]


def comparison_chart(comparison: pa.Table, path: str | Path | io.BytesIO) -> None:
    """Runs (or a sweep's scenarios, by their medians) overlaid: one colour per run, one line style per plan
    design; with a sweep's percentiles, the 25th-75th percentile band around each median."""
    rows = comparison.to_pylist()
    runs = list(dict.fromkeys(r["scenario"] for r in rows))
    designs = sorted({r["plan_design_id"] for r in rows if r["plan_design_id"] is not None})
    banded = "p25" in comparison.column_names
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (metric, title, formatter) in zip(fig.subplots(2, 2).flat, COMPARISON_PANELS):
        for i, run in enumerate(runs):
            for j, design in enumerate(designs):
                points = sorted((r for r in rows if r["scenario"] == run and r["plan_design_id"] == design
                                 and r["metric"] == metric and r["value"] is not None),
                                key=lambda r: r["simulation_year"])
                if not points:
                    continue
                years = [p["simulation_year"] for p in points]
                ax.plot(years, [p["value"] for p in points], color=f"C{i % 10}", linestyle=_STYLES[j % 4],
                        marker="o", markersize=3, label=f"{run} / {design}")
                if banded:
                    ax.fill_between(years, [p["p25"] for p in points], [p["p75"] for p in points],
                                    color=f"C{i % 10}", alpha=0.2, linewidth=0)
        ax.set_title(title, fontsize=11)
        ax.yaxis.set_major_formatter(formatter)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.axes[0].legend(title="run / plan design", fontsize=8)
    band = " (medians, 25th-75th percentile bands)" if banded else ""
    fig.suptitle(f"{len(runs)} runs compared{band}", fontsize=13)
    fig.savefig(path, format="png", metadata={"Software": None})


def _employer_cost(metrics: pa.Table) -> pa.Array:
    match, core = metrics["employer_match"].to_pylist(), metrics["employer_core"].to_pylist()
    return pa.array([None if m is None or c is None else float(m + c) for m, c in zip(match, core)], pa.float64())


# the fan chart's panels: (metric of distribution.parquet, title, y-axis formatter)
FAN_PANELS = [
    ("participation_rate", "Participation rate", PercentFormatter(1.0)),
    ("mean_deferral_rate", "Mean deferral rate of participants", PercentFormatter(1.0, decimals=1)),
    ("employer_cost_rate", "Employer cost rate (of plan pay)", PercentFormatter(1.0, decimals=2)),
    ("employer_cost", "Employer cost (match + core), $ millions", FuncFormatter(lambda v, _: f"{v / 1e6:,.1f}")),
]
FAN_PANEL_SIZE, FAN_DPI = (4.5, 3.6), 100  # inches per panel; 4 panels a row: 1800 pixels wide


def fan_chart(distribution: pa.Table, path: str | Path) -> None:
    """A sweep's spread: per plan design (one colour each), the median line, the 25-75th percentile band
    and the 5-95th; one panel per metric. Several scenarios are overlaid in the same panels
    (``overlaid_fan_chart``), so that they compare at a glance."""
    rows = distribution.to_pylist()
    scenarios = sorted({r["scenario"] for r in rows})
    if len(scenarios) > 1:
        overlaid_fan_chart(distribution, path)
        return
    designs = sorted({r["plan_design_id"] for r in rows})
    colours = {d: f"C{i % 10}" for i, d in enumerate(designs)}
    series: dict[tuple[str, str, str], list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["simulation_year"]):
        series.setdefault((r["scenario"], r["plan_design_id"], r["metric"]), []).append(r)
    width, height = FAN_PANEL_SIZE
    titled = len(scenarios) > 1
    fig = Figure(figsize=(width * len(FAN_PANELS), (height + 0.3 * titled) * len(scenarios) + 0.9), dpi=FAN_DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    top: list[Any] = []
    for scenario, sub in zip(scenarios, fig.subfigures(len(scenarios), 1, squeeze=False)[:, 0]):
        if titled:
            sub.suptitle(scenario, fontsize=11, fontweight="bold")
        for j, (ax, (metric, title, formatter)) in enumerate(zip(sub.subplots(1, len(FAN_PANELS)), FAN_PANELS)):
            for design in designs:
                _fan(ax, series.get((scenario, design, metric), []), colours[design], design)
            if len(top) > j:
                ax.sharey(top[j])
            else:
                top.append(ax)
            ax.set_title(title, fontsize=10)
            ax.yaxis.set_major_formatter(formatter)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colours[d], marker="o", markersize=4, label=f"{d} (median)") for d in designs]
    handles += [Patch(color="grey", alpha=0.45, label="25th-75th percentile"),
                Patch(color="grey", alpha=0.18, label="5th-95th percentile")]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)
    runs = max((r["runs"] for r in rows), default=0)
    fig.suptitle(f"Spread over {runs} runs (seeds) per scenario and plan design", fontsize=12)
    fig.savefig(path, format="png", metadata={"Software": None})


def _fan(ax: Any, points: list[dict], colour: str, label: str) -> None:
    if not points:
        return
    years = [p["simulation_year"] for p in points]
    value = {q: [math.nan if p[q] is None else p[q] for p in points] for q in ("p5", "p25", "p50", "p75", "p95")}
    ax.fill_between(years, value["p5"], value["p95"], color=colour, alpha=0.15, linewidth=0)
    ax.fill_between(years, value["p25"], value["p75"], color=colour, alpha=0.35, linewidth=0)
    if len(years) == 1:  # a band needs two years: show the one year's spread as whiskers
        ax.vlines(years, value["p5"], value["p95"], color=colour, alpha=0.4, linewidth=6)
        ax.vlines(years, value["p25"], value["p75"], color=colour, alpha=0.7, linewidth=6)
    ax.plot(years, value["p50"], color=colour, marker="o", markersize=3, label=label)


def overlaid_fan_chart(distribution: pa.Table, path: str | Path | io.BytesIO) -> None:
    """Several scenarios' spreads in the same panels: per scenario and plan design (one colour each) the
    median line, the 25-75th percentile band and, fainter, the 5-95th; one panel per metric."""
    rows = distribution.to_pylist()
    series: dict[tuple[str, str, str], list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["simulation_year"]):
        series.setdefault((r["scenario"], r["plan_design_id"], r["metric"]), []).append(r)
    lines = sorted({(s, d) for s, d, _ in series})
    colours = {line: f"C{i % 10}" for i, line in enumerate(lines)}
    width, height = FAN_PANEL_SIZE
    fig = Figure(figsize=(width * 2, height * 2 + 1.2), dpi=FAN_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (metric, title, formatter) in zip(fig.subplots(2, 2).flat, FAN_PANELS):
        for scenario, design in lines:
            points = series.get((scenario, design, metric), [])
            if not points:
                continue
            years = [p["simulation_year"] for p in points]
            value = {q: [math.nan if p[q] is None else p[q] for p in points]
                     for q in ("p5", "p25", "p50", "p75", "p95")}
            colour = colours[(scenario, design)]
            ax.fill_between(years, value["p5"], value["p95"], color=colour, alpha=0.08, linewidth=0)
            ax.fill_between(years, value["p25"], value["p75"], color=colour, alpha=0.25, linewidth=0)
            ax.plot(years, value["p50"], color=colour, marker="o", markersize=3)
        ax.set_title(title, fontsize=10)
        ax.yaxis.set_major_formatter(formatter)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colours[line], marker="o", markersize=4, label=f"{line[0]} / {line[1]} (median)")
               for line in lines]
    handles += [Patch(color="grey", alpha=0.35, label="25th-75th percentile"),
                Patch(color="grey", alpha=0.12, label="5th-95th percentile")]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize=9, frameon=False)
    runs = max((r["runs"] for r in rows), default=0)
    fig.suptitle(f"{len({s for s, _ in lines})} scenarios overlaid: spread over {runs} runs (seeds) each",
                 fontsize=12)
    fig.savefig(path, format="png", metadata={"Software": None})
