"""Compose the SQL files in queries/ into the plan for one simulation year.

A year runs in two steps, for one path or a batch of them (arrow_events.engine.paths: every row
carries its path). The global step reduces over each path's whole Jan-1 cohort only what needs
the whole workforce (the year's counts, the termination cutoff, the hires); its results per path
(path_year, a row each) are a table the shards read. Then the cohort, in (path, employee_id)
order and merged with the hires, is cut into ranges (shards), each planned and run on its own.

A shard is member-major: each branch adds its outcome to the member's row (one file per
branch, each reading the one before), giving member_year, one row per plan design and
member with the whole year on it. The events are read off that row already in order
(arrow_events.engine.emit) and the snapshot from the same row, so shards come out employee-major
and concatenate (or stream) into the year with no union, join or sort across them.

Every engine runs the same relations, one SQL file each, in the same order; they differ
only in which relations they materialize, and where.

- ``fused``: DataFusion inlines views, so a relation read by several others would be
  planned (and its draws computed) once per reader: those, and only those, are
  materialized in memory. A shard's chain has one reader per relation and runs as one
  plan; nothing touches disk before the writer.
- ``legacy``: the per-event baseline the epic replaces, like the dbt models it stands for:
  the cohort is stored, and every branch is its own query, materialized as a Parquet file
  in a scratch directory that the next one reads back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datafusion import DataFrame, SessionContext

from arrow_events.config import Config
from arrow_events.engine import emit, params
from arrow_events.engine.context import SMALL_BATCH_SIZE, batch_size_for, new_context, register_tables
from arrow_events.engine.memory import return_freed_memory
from arrow_events.engine.paths import Batch
from arrow_events.engine.session import PlannedContext
from arrow_events.engine.shards import Shard, cut, numbered
from arrow_events.engine.stages import (
    BRANCHES,
    GLOBAL_MATERIALIZED,
    GLOBAL_STAGES,
    KEPT,
    KEPT_STAGES,
    SHARD_MATERIALIZED,
    STAGES,
    needs,
)
from arrow_events.engine.state import CohortState, from_snapshot, with_path_keys
from arrow_events.errors import ResourceLimitError, first_line
from arrow_events.options import DEFAULT_OPTIONS, RunOptions
from arrow_events.queries import composed, sql
from arrow_events.schema import CONTRIBUTIONS_SCHEMA
from arrow_events.udfs import DrawCounter

# The workforce counts a year reports per path (year_counts' columns), in the manifest.
COUNTS = ["n_active", "n_prior_hires", "target", "scheduled_terms", "experienced_terms", "drawn_terms", "hires",
          "new_hire_terms"]


@dataclass
class YearPlan:
    """A context holding one year's inputs for a batch of paths, and the scalars bound to its queries."""

    ctx: SessionContext
    bound: dict[str, pa.Scalar]  # what the paths and years share (params.shared_params)
    year: int
    designs: int  # plan designs: rows per member and path in member_year
    contributions: bool = True  # whether member_rows computes them
    hours_of_service: bool = False  # whether the snapshot carries scheduled hours (Config.hours_of_service)
    events_of: frozenset[int] | None = None  # the paths whose events are emitted (None: all)
    planned: PlannedContext | None = None  # the run's context (Session), whose statements are planned once

    def sql(self, name: str) -> DataFrame:
        return self.ctx.sql(sql(name), param_values=self.bound)


@dataclass
class Session:
    """What a run keeps from one year to the next: one context, its statements planned once
    (arrow_events.engine.session). The global step reads the whole cohort as ``global_cohort``; once
    its statements are planned, the names they read it and their relations by are free for the shards'
    own (``cohort``, ``hire``, ``path_year``). Only the fused engine without a memory limit keeps a
    session (the others materialize relations per year)."""

    context: PlannedContext | None = None

    @staticmethod
    def of(options: RunOptions) -> Session | None:
        """A session for a run under ``options``, or None where each year plans afresh."""
        return Session() if options.engine == "fused" and options.memory_limit is None else None


@dataclass
class YearTables:
    """One year's (or one shard's) events and year-end snapshot, in contract form, of one path or, with
    ``paths``, of several: then each table's rows are path after path and ``paths`` says whose each is."""

    year: int
    events: pa.Table
    snapshot: pa.Table
    counts: dict[str, int]  # the path's; of a batch, its first path's (``path_counts``: each one's)
    shard: int = 1  # which piece of the year this is, of ``shards``
    shards: int = 1
    contributions: pa.Table | None = None  # None: turned off
    paths: dict[str, np.ndarray] | None = None  # per table, each row's path (ascending); None: one path
    path_counts: list[dict[str, int]] | None = None  # each path's counts, for a batch

    def tables(self) -> dict[str, pa.Table]:
        """The contract tables by name, those turned off left out."""
        tables = {"events": self.events, "snapshot": self.snapshot, "contributions": self.contributions}
        return {name: t for name, t in tables.items() if t is not None}

    def of_path(self, path: int) -> YearTables:
        """Path ``path``'s rows (slices, no copy), as a run of that path alone has them."""
        if self.paths is None:
            return self
        parts = {}
        for name, table in self.tables().items():
            rows = self.paths["snapshot" if name == "contributions" else name]
            lo, hi = np.searchsorted(rows, [path, path + 1])
            parts[name] = table.slice(int(lo), int(hi - lo))
        counts = self.path_counts[path] if self.path_counts else self.counts
        return YearTables(self.year, parts["events"], parts["snapshot"], counts, self.shard, self.shards,
                          parts.get("contributions"))


# How a relation is kept: given its name and query, return what later relations should read.
Materializer = Callable[[str, DataFrame], DataFrame]


def prepare(paths: Batch | Config, year: int, state: CohortState, options: RunOptions = DEFAULT_OPTIONS, *,
            draws: DrawCounter | None = None, events_of: Iterable[int] | None = None,
            session: Session | None = None) -> YearPlan:
    """A context holding the cohort (every path's) and every parameter table for ``year`` (its draws counted
    in ``draws``); events are emitted for the paths ``events_of`` (default: all). With a ``session``, the
    session's context, refilled."""
    batch = as_batch(paths)
    cohort = numbered(with_path_keys(state, batch).cohort)
    planned = None if session is None else _planned(session, batch, year, options, state, draws)
    if planned is None:
        ctx = _parameter_context(batch, year, options, min(state.headcount, options.rows_per_shard), draws)
        register_tables(ctx, {"cohort": cohort})
    else:
        ctx = planned.ctx
        planned.refill({GLOBAL_COHORT: cohort})
    return YearPlan(ctx, params.shared_params(batch.base), year, len(batch.base.plan_designs),
                    options.contributions, batch.base.hours_of_service,
                    None if events_of is None else frozenset(events_of), planned)


# the whole cohort, as the session's global step reads it (the shards' slices are ``cohort``)
GLOBAL_COHORT = "global_cohort"


def _planned(session: Session, batch: Batch, year: int, options: RunOptions, state: CohortState,
             draws: DrawCounter | None = None) -> PlannedContext:
    """The session's context holding ``year``'s parameter tables: made the first year (sized as ``prepare``
    sizes one), refilled after."""
    if session.context is None:
        session.context = PlannedContext(_sized_context(options, min(state.headcount, options.rows_per_shard), draws))
        static = params.static_tables(batch)
        session.context.refill(static)
        session.context.once.update(static)
    session.context.refill(params.year_tables(batch, year))
    return session.context


def as_batch(paths: Batch | Config) -> Batch:
    return paths if isinstance(paths, Batch) else Batch.of(paths)


def _parameter_context(batch: Batch, year: int, options: RunOptions, rows: int,
                       draws: DrawCounter | None = None) -> SessionContext:
    """A context holding every parameter table for ``year``, batches sized for ``rows`` members at a time."""
    ctx = _sized_context(options, rows, draws)
    register_tables(ctx, params.static_tables(batch))
    register_tables(ctx, params.year_tables(batch, year))
    return ctx


def _sized_context(options: RunOptions, rows: int, draws: DrawCounter | None = None) -> SessionContext:
    """An empty context, batches sized for ``rows`` members at a time."""
    # under a memory limit, small batches keep each operator's reservations small enough to spill
    size = SMALL_BATCH_SIZE if options.memory_limit is not None else batch_size_for(rows)
    # no more partitions than the shard has batches: splitting one batch only adds repartitioning
    # (outputs do not depend on it, as on the thread count)
    partitions = max(1, min(options.threads, -(-rows // size)))
    return new_context(partitions, options.memory_limit, size, draws)


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
    """Register each stage's SQL under its name, kept as ``keep(name)`` says."""
    for name in stages:
        with _memory_errors(plan.year, name):
            df = keep(name)(name, plan.sql(name))
        if plan.ctx.table_exist(name):  # the previous shard's, or the global step's
            plan.ctx.deregister_table(name)
        plan.ctx.register_view(name, df)


def compose_as_one(plan: YearPlan, stages: list[str]) -> None:
    """Register the last of ``stages`` as one statement holding them all (none may be materialized)."""
    name = stages[-1]
    with _memory_errors(plan.year, name):
        df = plan.ctx.sql(composed(stages), param_values=plan.bound)
    if plan.ctx.table_exist(name):
        plan.ctx.deregister_table(name)
    plan.ctx.register_view(name, df)


def keeper(materialized: set[str]) -> Callable[[str], Materializer]:
    """The fused engine's way: ``materialized`` in memory, everything else a view."""
    return lambda name: in_memory if name in materialized else as_view


GLOBAL_KEEP, SHARD_KEEP = keeper(GLOBAL_MATERIALIZED), keeper(SHARD_MATERIALIZED)


def member_rows(plan: YearPlan) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """A shard's member rows (member_year, collected) and the snapshot and contributions queries'
    rows over them (contributions None when turned off)."""
    if plan.planned is not None:
        return _planned_member_rows(plan, plan.planned)
    members = plan.ctx.table("member_year").to_arrow_table()
    for name in STAGES:  # free the shard's relations before the output is built: peak memory
        plan.ctx.deregister_table(name)
    register_tables(plan.ctx, {"member_year": members})
    snapshot = plan.sql("snapshot").to_arrow_table()
    contributions = plan.sql("contributions").to_arrow_table() if plan.contributions else None
    plan.ctx.deregister_table("member_year")
    return members, snapshot, contributions


def _planned_member_rows(plan: YearPlan, planned: PlannedContext) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """``member_rows`` in the session's context: the shard's chain as one statement, and the snapshot
    and contributions over its rows, each planned once per run."""
    members = planned.frame("member_year", lambda: plan.ctx.sql(composed(STAGES), param_values=plan.bound))
    members = members.to_arrow_table()
    planned.refill({"member_year": members})
    snapshot = planned.frame("snapshot", lambda: plan.sql("snapshot")).to_arrow_table()
    contributions = (planned.frame("contributions", lambda: plan.sql("contributions")).to_arrow_table()
                     if plan.contributions else None)
    planned.empty(["member_year", "cohort", "hire"])  # the context holds nothing of a shard between shards
    return members, snapshot, contributions


def emitted(plan: YearPlan, counts: list[dict[str, int]], members: pa.Table, snapshot: pa.Table,
            contributions: pa.Table | None, shard: int = 1, shards: int = 1) -> YearTables:
    """A shard's tables in contract form, each row's path beside them (no SessionContext: may run on a
    thread). ``counts``: each path's workforce counts."""
    snapshot_paths = emit.in_row_order(snapshot, "path", plan.designs)
    snapshot = emit.snapshot_rows(snapshot, plan.designs, plan.hours_of_service)
    if plan.events_of is not None:
        members = members.filter(pc.is_in(members["path"], pa.array(sorted(plan.events_of), pa.int64())))
    events, event_paths = emit.events(members, plan.designs, plan.year)
    return YearTables(plan.year, events, snapshot, counts[0], shard, shards,
                      None if contributions is None else
                      emit.contract_rows(contributions, plan.designs, CONTRIBUTIONS_SCHEMA, beside=snapshot),
                      paths={"events": event_paths, "snapshot": snapshot_paths}, path_counts=counts)


def finish(plan: YearPlan, counts: list[dict[str, int]]) -> YearTables:
    """A shard's events and year-end snapshot, read off its member rows (``counts``: each path's)."""
    return emitted(plan, counts, *member_rows(plan))


@dataclass
class Reduced:
    """What a year's global step leaves the shards: all of its hires, by (path, employee_id); each path's
    row of path_year (its scenario's values, its new-hire termination count and termination cutoff)
    and its workforce counts, by path."""

    hires: pa.Table
    path_year: pa.Table
    counts: list[dict[str, int]]


def global_step(plan: YearPlan, keep: Callable[[str], Materializer] = GLOBAL_KEEP) -> Reduced:
    """Reduce the whole cohort of every path to its year's counts, termination cutoff and hires."""
    if plan.planned is not None:
        return _planned_global_step(plan, plan.planned)
    compose(plan, GLOBAL_STAGES, keep)
    return reduced(plan)


# what the global step collects: the shards read them
REDUCED = ["path_year", "hire", "year_counts"]


def _planned_global_step(plan: YearPlan, planned: PlannedContext) -> Reduced:
    """``global_step`` in the session's context: the first year plans each relation (the kept ones fill
    tables that their readers read) and what it collects; later years fill the kept tables again and run
    the same statements."""
    if REDUCED[0] not in planned.frames:
        # the statements read the whole cohort as ``cohort`` while they are planned, then keep it bound
        read_as = {"cohort", *GLOBAL_STAGES} - GLOBAL_MATERIALIZED
        for name in read_as:
            if plan.ctx.table_exist(name):  # a shard's table, or an earlier plan's view
                plan.ctx.deregister_table(name)
        plan.ctx.register_table("cohort", plan.ctx.catalog().schema().table(GLOBAL_COHORT))
        for name in GLOBAL_STAGES:
            with _memory_errors(plan.year, name):
                df = plan.sql(name)
                if name in GLOBAL_MATERIALIZED:
                    planned.fill(name, df)
                else:
                    plan.ctx.register_view(name, df)
        planned.frames.update({name: plan.ctx.table(name) for name in REDUCED})
        for name in read_as:
            plan.ctx.deregister_table(name)
    else:
        for name in GLOBAL_STAGES:
            # a kept relation of the run's static tables alone (hazards) is the same every year
            if name in GLOBAL_MATERIALIZED and not needs(name) <= planned.once:
                with _memory_errors(plan.year, name):
                    planned.fill(name)
    collected = _collected(planned.frames.__getitem__)
    planned.refill({"path_year": collected.path_year})  # the shards', as ``reduced`` leaves it
    return collected


def reduced(plan: YearPlan) -> Reduced:
    """Collect what the global step's relations (composed in ``plan``) leave the shards; drop the rest."""
    collected = _collected(plan.ctx.table)
    for name in set(GLOBAL_STAGES) - KEPT:
        plan.ctx.deregister_table(name)
    register_tables(plan.ctx, {"path_year": collected.path_year})
    return collected


def _collected(table: Callable[[str], DataFrame]) -> Reduced:
    """The hires, path_year and counts, ``table(name)`` giving each relation's statement."""
    # path_year first: past a memory limit, its cutoff fails with DataFusion's own error, the hires with a panic
    path_year = table("path_year").to_arrow_table().sort_by("path")
    hires = table("hire").to_arrow_table()
    if not _ascending(hires["path"], hires["employee_id"]):
        hires = hires.sort_by([("path", "ascending"), ("employee_id", "ascending")])  # the SQL sorts them; make sure
    counts = table("year_counts").to_arrow_table().sort_by("path").select(COUNTS).to_pylist()
    return Reduced(hires, path_year, counts)


def _ascending(paths: pa.ChunkedArray, ids: pa.ChunkedArray) -> bool:
    """Whether rows are in (path, id) order."""
    if len(ids) < 2:
        return True
    p, i = paths.combine_chunks(), ids.combine_chunks()
    p0, p1, i0, i1 = p.slice(0, len(p) - 1), p.slice(1), i.slice(0, len(i) - 1), i.slice(1)
    return pc.all(pc.or_(pc.less(p0, p1), pc.and_(pc.equal(p0, p1), pc.less(i0, i1)))).as_py()


@dataclass
class GlobalStep:
    """A year after its global step: the scalars bound, what it reduced, and the year's shards, still to
    be run."""

    plan: YearPlan | None  # None once released
    bound: dict[str, pa.Scalar]
    reduced: Reduced
    shards: Iterator[Shard]
    keep: Callable[[str], Materializer]  # how the shards' relations are kept
    engine: str
    events_of: frozenset[int] | None = None  # the paths whose events are emitted (None: all)

    def release(self) -> None:
        """Drop the global step's context: shards that run in contexts of their own do not need it."""
        self.plan = None


@contextmanager
def global_step_of(paths: Batch | Config, year: int, state: CohortState, options: RunOptions = DEFAULT_OPTIONS, *,
                   draws: DrawCounter | None = None, events_of: Iterable[int] | None = None,
                   session: Session | None = None) -> Iterator[GlobalStep]:
    """Run ``year``'s global step from ``state`` (every path's cohort at t-1); its shards are run by the
    caller (``local_shards`` here, or ``shard_tables`` anywhere else) before the block ends. With a
    ``session`` (``Session.of(options)``), in the run's one context, each statement planned once."""
    if options.tune_memory:
        return_freed_memory()
    batch = as_batch(paths)
    with _memory_errors(year, "events"), _scratch(options.engine, year) as scratch:
        plan = prepare(batch, year, state, options, draws=draws, events_of=events_of, session=session)
        reduced = global_step(plan, _keeper(options, plan, scratch, GLOBAL_MATERIALIZED))
        # the whole cohort with its path keys is the global step's alone: freed here, the shards key
        # their own slices (peak memory: 3 columns of the whole cohort held through every shard)
        if plan.planned is not None:
            plan.planned.empty([GLOBAL_COHORT])
        else:
            plan.ctx.deregister_table("cohort")
        shards = cut(state, reduced.hires, options.rows_per_shard, params.design_ids(batch), batch,
                     options.hire_weight)
        reduced.hires = reduced.hires.slice(0, 0)  # the shards hold them now
        yield GlobalStep(plan, plan.bound, reduced, shards, _keeper(options, plan, scratch, SHARD_MATERIALIZED),
                         options.engine, plan.events_of)


def local_shards(step: GlobalStep) -> Iterator[YearTables]:
    """The shards one after another in the global step's context (its parameter tables and kept relations)."""
    plan, keep = step.plan, step.keep
    assert plan is not None, "the global step's context was released"
    # a shard's events are emitted (NumPy) on a thread while DataFusion computes the next one's rows
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="arrow-events-emit") as emitter:
        pending: Future[YearTables] | None = None
        for shard in step.shards:
            job = emitter.submit(emitted, plan, step.reduced.counts, *shard_member_rows(plan, shard, keep, step.engine),
                                 shard.number, shard.of)
            if pending is not None:
                yield pending.result()
            pending = job
        if pending is not None:
            yield pending.result()


def shard_member_rows(plan: YearPlan, shard: Shard, keep: Callable[[str], Materializer],
                      engine: str) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """One shard's member rows, snapshot and contributions rows (``member_rows``), in a context holding
    the year's parameter tables and the relations the global step keeps, with the year's scalars bound:
    the per-shard work of every executor."""
    if plan.planned is not None:
        plan.planned.refill({"cohort": shard.cohort, "hire": shard.hires})
        return member_rows(plan)
    register_tables(plan.ctx, {"cohort": shard.cohort, "hire": shard.hires})
    if engine == "legacy":  # like the dbt models it stands for, the chain starts from the stored cohort
        stored = keep("cohort")("cohort", plan.ctx.table("cohort"))
        plan.ctx.deregister_table("cohort")
        plan.ctx.register_view("cohort", stored)
    if engine == "fused" and not SHARD_MATERIALIZED:  # the shard's chain is one plan anyway
        compose_as_one(plan, STAGES)
    else:
        compose(plan, STAGES, keep)
    return member_rows(plan)


def shard_tables(batch: Batch, year: int, reduced: Reduced, shard: Shard, options: RunOptions = DEFAULT_OPTIONS,
                 events_of: frozenset[int] | None = None) -> YearTables:
    """One shard of ``year`` in a context of its own, from what the global step reduced (its hires aside:
    the shard has its own): what a Ray task runs. The rows are those of the same shard run in the global
    step's context."""
    if options.tune_memory:
        return_freed_memory()
    with _memory_errors(year, "events"), _scratch(options.engine, year) as scratch:
        ctx = _parameter_context(batch, year, options, shard.cohort.num_rows + shard.hires.num_rows)
        base = batch.base
        plan = YearPlan(ctx, params.shared_params(base), year, len(base.plan_designs), options.contributions,
                        base.hours_of_service, events_of)
        register_tables(ctx, {"path_year": reduced.path_year})
        # the kept relations read only parameter tables (KEPT_STAGES): recomputed here, not shipped
        compose(plan, KEPT_STAGES, _keeper(options, plan, scratch, GLOBAL_MATERIALIZED))
        rows = shard_member_rows(plan, shard, _keeper(options, plan, scratch, SHARD_MATERIALIZED), options.engine)
        return emitted(plan, reduced.counts, *rows, shard.number, shard.of)


@contextmanager
def _scratch(engine: str, year: int) -> Iterator[Path]:
    """A directory for the relations an engine keeps on disk (legacy, or under a memory limit)."""
    with tempfile.TemporaryDirectory(prefix=f"arrow-events-{engine}-{year}-") as tmp:
        yield Path(tmp)


def _keeper(options: RunOptions, plan: YearPlan, scratch: Path,
            materialized: set[str]) -> Callable[[str], Materializer]:
    """Which relations each engine materializes (the fused engine: ``materialized``), and where."""
    files = to_parquet(scratch, plan.ctx)
    if options.engine == "legacy":
        return lambda name: files if name in BRANCHES or name == "cohort" else as_view
    if options.memory_limit is None:
        return keeper(materialized)
    # under a memory limit the shared relations spill to scratch Parquet instead of RAM,
    # leaving the memory pool to the operators
    return lambda name: files if name in materialized else as_view


def run_year(cfg: Config, year: int, state: CohortState, options: RunOptions = DEFAULT_OPTIONS, *,
             draws: DrawCounter | None = None) -> YearTables:
    """Generate one year's events and end-of-year snapshot from ``state``, held whole in memory (draws
    counted in ``draws``)."""
    with global_step_of(cfg, year, state, options, draws=draws) as step:
        return joined(list(local_shards(step)))


def run_years(paths: Batch | Config, years: Iterable[int], state: CohortState, options: RunOptions = DEFAULT_OPTIONS,
              *, session: Session | None = None) -> Iterator[YearTables]:
    """Year after year from ``state``, held whole in memory: each year's tables (every path's), the next
    starting from its actives. ``session``: each statement planned once (``Session.of(options)``)."""
    for year in years:
        with global_step_of(paths, year, state, options, session=session) as step:
            tables = joined(list(local_shards(step)))
        yield tables
        state = next_state(tables)


def next_state(tables: YearTables) -> CohortState:
    """The cohort the year after ``tables`` starts from: its snapshot's actives, each with its path."""
    active = pc.equal(tables.snapshot["status"], "active")
    paths = None if tables.paths is None else tables.paths["snapshot"][active.to_numpy(zero_copy_only=False)]
    return from_snapshot(tables.snapshot.filter(active), paths)


def joined(shards: list[YearTables]) -> YearTables:
    """A year's shards as one table each (of every path in them; ``of_path`` for one)."""
    first = shards[0]
    tables = {name: pa.concat_tables([s.tables()[name] for s in shards]) for name in first.tables()}
    paths = None if first.paths is None else {
        name: np.concatenate([s.paths[name] for s in shards]) for name in first.paths}  # type: ignore[index]
    return YearTables(first.year, tables["events"], tables["snapshot"], first.counts,
                      contributions=tables.get("contributions"), paths=paths, path_counts=first.path_counts)


# the panic a repartition's consumer reports when its producer stopped at the memory limit
_SIBLING_FAILED = "partition not used yet"


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
        if "Resources exhausted" in str(e):
            detail = first_line(str(e).split("Resources exhausted:", 1)[-1])
        elif _SIBLING_FAILED in str(e):  # DataFusion 55: a repartition's other side panics once one side failed
            detail = "a join or repartition could not reserve memory"
        else:
            raise
        raise ResourceLimitError(f"year {year} needs more memory than the limit allows, computing {relation} "
                                 f"({detail}); raise memory_limit or use fewer threads") from None
