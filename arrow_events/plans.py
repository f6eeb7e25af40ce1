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
from datafusion import DataFrame, SessionContext

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
    ("year_events", True),
    ("timeline", True),
]


@dataclass
class YearPlan:
    """A context holding one year's inputs, and the scalars bound to its queries."""

    ctx: SessionContext
    bound: dict[str, pa.Scalar]

    def sql(self, name: str) -> DataFrame:
        return self.ctx.sql(sql(name), param_values=self.bound)


@dataclass
class YearTables:
    """One year's engine output (money as cents), before the writer applies the contract."""

    year: int
    events: pa.Table
    snapshot: pa.Table
    counts: dict[str, int]


def prepare(cfg: Config, year: int, state: CohortState, threads: int) -> YearPlan:
    """A context holding the cohort and every parameter table for ``year``."""
    ctx = new_context(threads)
    register_tables(ctx, params.static_tables(cfg))
    register_tables(ctx, params.year_tables(cfg, year))
    register_tables(ctx, {"cohort": state.cohort, "plan_cohort": state.plan_cohort})
    return YearPlan(ctx, params.scenario_params(cfg, year))


def compose(plan: YearPlan, stages: list[tuple[str, bool]]) -> None:
    """Register each stage's SQL under its name: a view, or a materialized in-memory table.

    Once year_counts exists its one row is bound as scalars too, so the branches
    compare against constants instead of cross-joining a one-row table (which
    DataFusion executes one probe row per batch on a single partition).
    """
    for name, materialize in stages:
        df = plan.sql(name)
        plan.ctx.register_view(name, df.cache() if materialize else df)
        if name == "year_counts":
            row = plan.ctx.table(name).to_arrow_table()
            plan.bound.update({c: row[c][0] for c in row.column_names})


def run_year(cfg: Config, year: int, state: CohortState, threads: int = 2) -> YearTables:
    """Generate one year's events and end-of-year snapshot from ``state`` (the cohort at t-1)."""
    plan = prepare(cfg, year, state, threads)
    compose(plan, FUSED_STAGES)
    events = plan.sql("events").to_arrow_table()
    register_tables(plan.ctx, {"events": events})
    snapshot = plan.sql("snapshot").to_arrow_table()
    counts = {k: plan.bound[k].as_py() for k in plan.ctx.table("year_counts").schema().names}
    return YearTables(year, events, snapshot, counts)
