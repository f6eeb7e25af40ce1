"""Compose the SQL files in queries/ into the plan for one simulation year.

Every engine runs the same relations, one SQL file each, in the same order; the
engines differ only in which relations they materialize, and where.

- ``fused``: DataFusion inlines views and CTEs, so a relation read by several
  branches would be planned (and its draws computed) once per reader. The fused
  engine materializes the few shared relations in memory: the cohort is scanned
  once, every draw is computed once per employee and stream, the branches read
  the materialized results, and nothing touches disk before the writer.
A year runs in two steps. The global step reduces over the whole Jan-1 cohort only what
needs the whole workforce (the year's counts, the termination cutoff, the hires); its
one-row results are bound as scalars. Then the cohort, in employee_id order and merged
with the hires, is cut into employee_id ranges (shards), each planned and run on its own;
shards come out in order, employee-major, so they concatenate (or stream) into the year.

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
from arrow_events.shards import cut
from arrow_events.state import CohortState
from queries import in_dependency_order, parameters, reads, sql

# One-row relations bound as $parameters of everything after them. termination_cutoff has no
# row when nobody is drawn: its parameters are then NULL, and no key compares below NULL.
BOUND = {"year_counts": None, "termination_cutoff": pa.schema([("cutoff_key", pa.float64()),
                                                               ("cutoff_employee_id", pa.string())])}
# The workforce counts a year reports (year_counts' columns), in the manifest.
COUNTS = ["n_active", "n_prior_hires", "target", "scheduled_terms", "experienced_terms", "drawn_terms", "hires",
          "new_hire_terms"]
_BOUND_COLUMNS = {"year_counts": set(COUNTS), "termination_cutoff": set(BOUND["termination_cutoff"].names)}


def needs(name: str) -> set[str]:
    """What queries/<name>.sql needs first: the relations it reads, and those whose row it binds."""
    return reads(name) | {b for b, columns in _BOUND_COLUMNS.items() if parameters(name) & columns}


# The global step and a shard's relations (each name is queries/<name>.sql), in dependency order.
GLOBAL_STAGES = in_dependency_order({"cohort_t", "year_counts", "termination_keys", "termination_cutoff", "hire"},
                                    needs)
# ``hire`` is the global step's, sliced to the shard
STAGES = in_dependency_order({"cohort_t", "rng", "termination_keys", "members", "plan_members", "termination",
                              "promotion", "merit", "eligibility", "enrollment", "opt_out", "escalation",
                              "deferral_change", "year_events", "timeline"}, needs)
BRANCHES = ["hire", "termination", "promotion", "merit", "eligibility", "enrollment", "opt_out", "escalation",
            "deferral_change"]
FUSED_MATERIALIZED = {"cohort_t", "rng", "termination_keys", "plan_members", "termination", "year_events", "timeline"}
ENGINES = ("fused", "legacy")
# Members (cohort and hires) per shard when nothing else says: large enough that per-query
# overhead is noise, small enough that a shard's relations stay a few hundred MB.
SHARD_ROWS = 250_000
# Under a memory limit, a shard gets one member per this many bytes of the limit (so 1GB gives the
# default 250,000): an estimate on the safe side; the 5M-employee year under 1GB completes with it.
BYTES_PER_MEMBER = 4_000


@dataclass(frozen=True)
class EngineOptions:
    """How a year executes; none of it changes a single output byte."""

    threads: int = 2  # DataFusion target partitions
    engine: str = "fused"  # or "legacy", the per-event baseline
    memory_limit: int | None = None  # bytes for DataFusion's memory pool; relations then spill to scratch
    shard_rows: int | None = None  # members per shard; default from the memory limit, else SHARD_ROWS

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; expected one of {ENGINES}")

    @property
    def rows_per_shard(self) -> int:
        """Members per shard: as asked, else as the memory limit allows, else the default."""
        if self.shard_rows is not None:
            return self.shard_rows
        if self.memory_limit is not None:
            return max(10_000, min(SHARD_ROWS, self.memory_limit // BYTES_PER_MEMBER))
        return SHARD_ROWS


DEFAULT_OPTIONS = EngineOptions()


@dataclass
class YearPlan:
    """A context holding one year's inputs, and the scalars bound to its queries."""

    ctx: SessionContext
    bound: dict[str, pa.Scalar]
    year: int

    def sql(self, name: str) -> DataFrame:
        return self.ctx.sql(sql(name), param_values=self.bound)

    def counts(self) -> dict[str, int]:
        """The year's workforce counts, as the global step bound them."""
        return {k: self.bound[k].as_py() for k in COUNTS}


@dataclass
class YearTables:
    """One year's engine output (money as cents), before the writer applies the contract."""

    year: int
    events: pa.Table
    snapshot: pa.Table
    counts: dict[str, int]
    shard: int = 1  # which piece of the year this is, of ``shards``
    shards: int = 1


# How a relation is kept: given its name and query, return what later relations should read.
Materializer = Callable[[str, DataFrame], DataFrame]


def prepare(cfg: Config, year: int, state: CohortState, options: EngineOptions = DEFAULT_OPTIONS) -> YearPlan:
    """A context holding the cohort and every parameter table for ``year``."""
    # under a memory limit, small batches keep each operator's reservations small enough to spill
    small = options.memory_limit is not None
    batch = SMALL_BATCH_SIZE if small else batch_size_for(min(state.headcount, options.rows_per_shard))
    ctx = new_context(options.threads, options.memory_limit, batch)
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
        if plan.ctx.table_exist(name):  # the previous shard's, or the global step's
            plan.ctx.deregister_table(name)
        plan.ctx.register_view(name, df)
        if name in BOUND:
            row = plan.ctx.table(name).to_arrow_table()
            schema = BOUND[name] or row.schema
            plan.bound.update({f.name: row[f.name][0] if row.num_rows else pa.scalar(None, f.type)
                               for f in schema})


def fused_keep(name: str) -> Materializer:
    return in_memory if name in FUSED_MATERIALIZED else as_view


# What the final two queries read; every other relation can be let go before they run.
FINAL_INPUTS = {"year_events", "timeline", "plan_members"}


def finish(plan: YearPlan) -> YearTables:
    """A shard's events and year-end snapshot, from its composed relations."""
    for name in STAGES:  # free the materialized cohort, draws and branches early: peak memory
        if name not in FINAL_INPUTS:
            plan.ctx.deregister_table(name)
    events = plan.sql("events").to_arrow_table()
    plan.ctx.deregister_table("year_events")  # the snapshot reads the timeline, not the events
    snapshot = plan.sql("snapshot").to_arrow_table()
    for name in FINAL_INPUTS - {"year_events"}:
        plan.ctx.deregister_table(name)
    return YearTables(plan.year, events, snapshot, plan.counts())


def global_step(plan: YearPlan, keep: Callable[[str], Materializer]) -> pa.Table:
    """Bind the year's counts and termination cutoff; return all of this year's hires, by employee_id."""
    compose(plan, GLOBAL_STAGES, keep)
    hires = plan.ctx.table("hire").to_arrow_table()
    for name in GLOBAL_STAGES:
        plan.ctx.deregister_table(name)
    return hires


def run_shards(cfg: Config, year: int, state: CohortState,
               options: EngineOptions = DEFAULT_OPTIONS) -> Iterator[YearTables]:
    """One year from ``state`` (the cohort at t-1): its shards' events and snapshots, in employee_id order."""
    engine = options.engine
    plan = prepare(cfg, year, state, options)
    with _memory_errors(year, "events"), tempfile.TemporaryDirectory(prefix=f"arrow-events-{engine}-{year}-") as tmp:
        keep = _keeper(engine, options.memory_limit, plan, Path(tmp))
        hires = global_step(plan, keep)
        for shard in cut(state, hires, options.rows_per_shard):
            register_tables(plan.ctx, {"cohort": shard.cohort, "plan_cohort": shard.plan_cohort, "hire": shard.hires})
            if engine == "legacy":  # like the dbt models it stands for, every branch reads the stored cohort
                for name in ("cohort", "plan_cohort"):
                    stored = keep(name)(name, plan.ctx.table(name))
                    plan.ctx.deregister_table(name)
                    plan.ctx.register_view(name, stored)
            compose(plan, STAGES, keep)
            piece = finish(plan)
            piece.shard, piece.shards = shard.number, shard.of
            yield piece


def _keeper(engine: str, memory_limit: int | None, plan: YearPlan, scratch: Path) -> Callable[[str], Materializer]:
    """Which relations each engine materializes, and where."""
    files = to_parquet(scratch, plan.ctx)
    if engine == "legacy":
        return lambda name: files if name in BRANCHES or name in ("cohort", "plan_cohort") else as_view
    # under a memory limit the shared relations spill to scratch Parquet instead of RAM,
    # leaving the memory pool to the operators
    kept = files if memory_limit is not None else in_memory
    return lambda name: kept if name in FUSED_MATERIALIZED else as_view


def run_year(cfg: Config, year: int, state: CohortState, options: EngineOptions = DEFAULT_OPTIONS) -> YearTables:
    """Generate one year's events and end-of-year snapshot from ``state``, held whole in memory."""
    shards = list(run_shards(cfg, year, state, options))
    return YearTables(year, pa.concat_tables([s.events for s in shards]),
                      pa.concat_tables([s.snapshot for s in shards]), shards[0].counts)


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
