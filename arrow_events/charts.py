"""Charts of the yearly metrics (matplotlib, drawn off-screen: no display needed)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

# inches x dots per inch: the PNG is 1500 x 1000 pixels
SIZE, DPI = (12.0, 8.0), 125


def _series(metrics: pa.Table, design: str, column: str) -> tuple[list[int], list[float | None]]:
    rows = [r for r in metrics.to_pylist() if r["plan_design_id"] == design]
    return [r["simulation_year"] for r in rows], [None if r[column] is None else float(r[column]) for r in rows]


def metrics_chart(metrics: pa.Table, path: str | Path) -> None:
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


def _employer_cost(metrics: pa.Table) -> pa.Array:
    match, core = metrics["employer_match"].to_pylist(), metrics["employer_core"].to_pylist()
    return pa.array([None if m is None or c is None else float(m + c) for m, c in zip(match, core)], pa.float64())
