"""Compose the SQL files in queries/ into the plan for one simulation year.

Every engine runs the same relations, one SQL file each, in the same order; the
engines differ only in which relations they materialize, and where.

- ``fused``: DataFusion inlines views and CTEs, so a relation read by several
  branches would be planned (and its draws computed) once per reader. The fused
  engine materializes the few shared relations in memory: the cohort is scanned
  once, every draw is computed once per employee and stream, the branches read
  the materialized results, and nothing touches disk before the writer.
- ``legacy``: the per-event baseline the epic replaces. Each event branch is its
  own query that scans the cohort and computes its own draws through plain
  views, and is materialized as an intermediate Parquet file in a scratch
  directory; the union step reads those files back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datafusion import DataFrame, SessionContext

from arrow_events import params
from arrow_events.config import Config
from arrow_events.context import SMALL_BATCH_SIZE, batch_size_for, new_context, register_tables
from arrow_events.errors import ResourceLimitError
from arrow_events.state import CohortState
from queries import sql

# Every relation of a year, in dependency order; each name is queries/<name>.sql.
STAGES = [
    "cohort_t",
    "rng",
    "year_counts",
    "hire",
    "members",
    "plan_members",
    "termination",
    "promotion",
    "merit",
    "eligibility",
    "enrollment",
    "opt_out",
    "escalation",
    "deferral_change",
    "year_events",
    "timeline",
]
BRANCHES = ["hire", "termination", "promotion", "merit", "eligibility", "enrollment", "opt_out", "escalation",
            "deferral_change"]
FUSED_MATERIALIZED = {"rng", "year_counts", "hire", "plan_members", "termination", "year_events", "timeline"}
ENGINES = ("fused", "legacy")


@dataclass
class YearPlan:
    """A context holding one year's inputs, and the scalars bound to its queries."""

    ctx: SessionContext
    bound: dict[str, pa.Scalar]
    year: int

    def sql(self, name: str) -> DataFrame:
        return self.ctx.sql(sql(name), param_values=self.bound)


@dataclass
class YearTables:
    """One year's engine output (money as cents), before the writer applies the contract."""

    year: int
    events: pa.Table
    snapshot: pa.Table
    counts: dict[str, int]


# How a relation is kept: given its name and query, return what later relations should read.
Materializer = Callable[[str, DataFrame], DataFrame]


def prepare(cfg: Config, year: int, state: CohortState, threads: int, memory_limit: int | None = None) -> YearPlan:
    """A context holding the cohort and every parameter table for ``year``."""
    # under a memory limit, small batches keep each operator's reservations small enough to spill
    batch = SMALL_BATCH_SIZE if memory_limit is not None else batch_size_for(state.headcount)
    ctx = new_context(threads, memory_limit, batch)
    register_tables(ctx, params.static_tables(cfg))
    register_tables(ctx, params.year_tables(cfg, year))
    register_tables(ctx, {"cohort": state.cohort, "plan_cohort": state.plan_cohort})
    return YearPlan(ctx, params.scenario_params(cfg, year), year)


def in_memory(name: str, df: DataFrame) -> DataFrame:
    return df.cache()


def as_view(name: str, df: DataFrame) -> DataFrame:
    return df


def to_parquet(scratch: Path, ctx: SessionContext) -> Materializer:
    """Stream the relation into scratch/<name>.parquet, batch by batch, and read it back from there."""

    def materialize(name: str, df: DataFrame) -> DataFrame:
        path = scratch / f"{name}.parquet"
        # batches may differ in nullability flags: write them all under the all-nullable schema
        schema = pa.schema([f.with_nullable(True) for f in df.schema()])
        with pq.ParquetWriter(path, schema) as writer:
            for batch in df.execute_stream():
                writer.write_batch(batch.to_pyarrow().cast(schema))
        return ctx.read_parquet(str(path))

    return materialize


def compose(plan: YearPlan, stages: list[str], keep: Callable[[str], Materializer]) -> None:
    """Register each stage's SQL under its name, kept as ``keep(name)`` says.

    Once year_counts exists its one row is bound as scalars too, so the branches
    compare against constants instead of cross-joining a one-row table (which
    DataFusion executes one probe row per batch on a single partition).
    """
    for name in stages:
        with _memory_errors(plan.year, name):
            df = keep(name)(name, plan.sql(name))
        plan.ctx.register_view(name, df)
        if name == "year_counts":
            row = plan.ctx.table(name).to_arrow_table()
            plan.bound.update({c: row[c][0] for c in row.column_names})


def fused_keep(name: str) -> Materializer:
    return in_memory if name in FUSED_MATERIALIZED else as_view


# What the final two queries read; every other relation can be let go before they run.
FINAL_INPUTS = {"year_events", "timeline", "plan_members"}


def finish(plan: YearPlan) -> YearTables:
    """The events partition and the year-end snapshot, from the composed relations."""
    counts = {k: plan.bound[k].as_py() for k in plan.ctx.table("year_counts").schema().names}
    for name in STAGES:  # free the materialized cohort, draws and branches early: peak memory
        if name not in FINAL_INPUTS:
            plan.ctx.deregister_table(name)
    events = plan.sql("events").to_arrow_table()
    plan.ctx.deregister_table("year_events")  # the snapshot reads the timeline, not the events
    snapshot = plan.sql("snapshot").to_arrow_table()
    return YearTables(plan.year, events, snapshot, counts)


def run_year(cfg: Config, year: int, state: CohortState, threads: int = 2, engine: str = "fused",
             memory_limit: int | None = None) -> YearTables:
    """Generate one year's events and end-of-year snapshot from ``state`` (the cohort at t-1)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
    plan = prepare(cfg, year, state, threads, memory_limit)
    with _memory_errors(year, "events"):
        if engine == "fused" and memory_limit is None:
            compose(plan, STAGES, fused_keep)
            return finish(plan)
        with tempfile.TemporaryDirectory(prefix=f"arrow-events-{engine}-{year}-") as scratch:
            files = to_parquet(Path(scratch), plan.ctx)
            if engine == "fused":
                # under a memory limit the shared relations spill to scratch Parquet instead of RAM,
                # leaving the memory pool to the operators
                compose(plan, STAGES, lambda name: files if name in FUSED_MATERIALIZED else as_view)
            else:
                # like the dbt models it stands for, every branch reads the stored cohort from disk
                for name in ("cohort", "plan_cohort"):
                    stored = files(name, plan.ctx.table(name))
                    plan.ctx.deregister_table(name)
                    plan.ctx.register_view(name, stored)
                compose(plan, STAGES, lambda name: files if name in BRANCHES else as_view)
            return finish(plan)


@contextmanager
def _memory_errors(year: int, relation: str) -> Iterator[None]:
    """Turn DataFusion's "Resources exhausted" into a ResourceLimitError naming the relation.

    The innermost relation wins: an error already translated passes through unchanged.
    """
    try:
        yield
    except ResourceLimitError:
        raise
    except Exception as e:
        if "Resources exhausted" not in str(e):
            raise
        detail = str(e).split("Resources exhausted:", 1)[-1].strip().splitlines()[0]
        raise ResourceLimitError(f"year {year} needs more memory than the limit allows, computing {relation} "
                                 f"({detail}); raise --memory-limit or use fewer --threads") from None
