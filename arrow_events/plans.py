"""Compose the SQL files in queries/ into the plan for one simulation year.

DataFusion inlines views and CTEs, so a relation referenced by several branches
would be planned (and its draws computed) once per reference. The fused plan
therefore materializes the few shared relations in memory, in dependency order:
the cohort is scanned once, every draw is computed once per employee and
stream, and the branches read the materialized results. Nothing touches disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from datafusion import SessionContext

from arrow_events import params
from arrow_events.config import Config
from arrow_events.context import new_context, register_tables
from arrow_events.state import CohortState
from queries import sql

# (relation, materialize?) in dependency order; every name is queries/<name>.sql.
WORKFORCE_BRANCHES = ["termination", "promotion", "merit"]
PLAN_BRANCHES = ["eligibility", "enrollment", "opt_out", "escalation", "deferral_change"]
FUSED_STAGES: list[tuple[str, bool]] = [
    ("cohort_t", False),
    ("rng", True),
    ("year_counts", True),
    ("hire", True),
    ("members", False),
    ("plan_members", True),
    ("termination", True),
    ("promotion", False),
    ("merit", False),
    ("eligibility", False),
    ("enrollment", False),
    ("opt_out", False),
    ("escalation", False),
    ("deferral_change", False),
]


@dataclass
class YearTables:
    """One year's engine output (money as cents), before the writer applies the contract."""

    year: int
    events: pa.Table
    snapshot: pa.Table
    counts: dict[str, int]


def prepare_context(cfg: Config, year: int, state: CohortState, threads: int) -> SessionContext:
    """A context holding the cohort and every parameter table for ``year``."""
    ctx = new_context(threads)
    register_tables(ctx, params.static_tables(cfg))
    register_tables(ctx, params.year_tables(cfg, year))
    register_tables(ctx, {"cohort": state.cohort, "plan_cohort": state.plan_cohort})
    return ctx


def compose(ctx: SessionContext, stages: list[tuple[str, bool]]) -> None:
    """Register each stage's SQL under its name: a view, or a materialized in-memory table."""
    for name, materialize in stages:
        df = ctx.sql(sql(name))
        ctx.register_view(name, df.cache() if materialize else df)


def run_year(cfg: Config, year: int, state: CohortState, threads: int = 2) -> YearTables:
    """Generate one year's events and end-of-year snapshot from ``state`` (the cohort at t-1)."""
    ctx = prepare_context(cfg, year, state, threads)
    compose(ctx, FUSED_STAGES)
    events = ctx.sql(sql("events")).to_arrow_table()
    register_tables(ctx, {"events": events})
    snapshot = ctx.sql(sql("snapshot")).to_arrow_table()
    counts = ctx.table("year_counts").to_arrow_table().to_pylist()[0]
    return YearTables(year, events, snapshot, counts)
