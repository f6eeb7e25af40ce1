"""Show how a year is planned, and dump any of its relations for debugging."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from arrow_events.config import Config
from arrow_events.engine.context import register_tables
from arrow_events.engine.params import design_ids
from arrow_events.engine.paths import Batch
from arrow_events.engine.shards import cut
from arrow_events.engine.stages import DUMPABLE, GLOBAL_MATERIALIZED, GLOBAL_STAGES, STAGES
from arrow_events.engine.state import CohortState, with_path_keys
from arrow_events.engine.year import (
    GLOBAL_KEEP,
    SHARD_KEEP,
    YearPlan,
    compose,
    finish,
    global_step,
    prepare,
    reduced,
)
from arrow_events.errors import UserError
from arrow_events.options import RunOptions
from arrow_events.udfs import DrawCounter

_DRAW = r"\b(?:draw|hash_rng_key)\("


def _count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


def _as_one_shard(plan: YearPlan, cfg: Config, state: CohortState, hires: pa.Table) -> None:
    """Register the whole cohort and all the hires as the year's one shard."""
    state = with_path_keys(state, Batch.of(cfg))
    shard = next(cut(state, hires, state.headcount + hires.num_rows + 1, design_ids(cfg)))
    register_tables(plan.ctx, {"cohort": shard.cohort, "hire": shard.hires})


def whole_year(cfg: Config, year: int, state: CohortState, threads: int = 2) -> tuple[YearPlan, list[dict[str, int]]]:
    """The year after its global step, with the whole cohort as its one shard: what explain looks at
    (and the year's counts)."""
    plan = prepare(cfg, year, state, RunOptions(threads=threads))
    step = global_step(plan)
    _as_one_shard(plan, cfg, state, step.hires)
    return plan, step.counts


def explain_year(cfg: Config, year: int, state: CohortState, threads: int = 2) -> str:
    """Each relation's logical and physical plan, cohort scans and draws, after running the year."""
    draws = DrawCounter()
    plan = prepare(cfg, year, state, RunOptions(threads=threads), draws=draws)
    sections, scans, draw_exprs = [], 0, 0
    counts: list[dict[str, int]] = []
    for step, stages, keep in (("global step", GLOBAL_STAGES, GLOBAL_KEEP), ("shard", STAGES, SHARD_KEEP)):
        if step == "shard":
            found = reduced(plan)
            counts = found.counts
            _as_one_shard(plan, cfg, state, found.hires)
        for name in stages:
            df = plan.sql(name)
            logical = df.optimized_logical_plan().display_indent()
            physical = df.execution_plan().display_indent()
            # views run only inside the plans that read them (counted there)
            executed = name in GLOBAL_MATERIALIZED or name in ("hire", "path_year") if step == "global step" \
                else name == stages[-1]
            if executed:
                scans += _count(r"TableScan: cohort\b", logical)
                draw_exprs += _count(_DRAW, physical)
            kept = "materialized in memory" if executed and step == "global step" else "view (inlined where read)"
            if name == stages[-1] and step == "shard":
                kept = "the shard's plan: every relation above inlined, collected once"
            sections.append(f"== {step}: {name}: {kept}\n-- logical\n{logical}\n-- physical\n{physical}")
            compose(plan, [name], keep)
    result = finish(plan, counts)
    c = result.counts
    summary = [
        f"year {year}: fused plan, {threads} thread(s), one shard",
        f"cohort scans in the executed plans: {scans} (each reader's narrow one in the global step, "
        "one in the shard)",
        f"draw expressions in the executed plans: {draw_exprs}",
        f"rows drawn: {draws.rows:,} in {draws.calls} UDF batches "
        f"({c['n_active']:,} employees and {c['hires']:,} hires, each stream once; the termination "
        "key once more in the global step)",
        f"events: {result.events.num_rows:,}; snapshot rows: {result.snapshot.num_rows:,}",
    ]
    return "\n".join(summary) + "\n\n" + "\n\n".join(sections)


def dump_relation(cfg: Config, year: int, state: CohortState, name: str, dest: Path, threads: int = 2) -> Path:
    """Write one named relation of ``year`` to dest/<name>.parquet (never into a warehouse)."""
    if name not in DUMPABLE:
        raise UserError(f"dump: unknown relation {name!r} (choose from {', '.join(DUMPABLE)})")
    if dest.exists() and not dest.is_dir():
        raise UserError(f"out: {dest} exists and is not a directory")
    plan, counts = whole_year(cfg, year, state, threads)
    if name in ("cohort", "hire"):
        table = plan.ctx.table(name).to_arrow_table()
    elif name in ("events", "snapshot"):
        compose(plan, STAGES, SHARD_KEEP)
        result = finish(plan, counts).of_path(0)
        table = result.events if name == "events" else result.snapshot
    else:
        compose(plan, STAGES[: STAGES.index(name) + 1], SHARD_KEEP)
        table = plan.ctx.table(name).to_arrow_table()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}.parquet"
    pq.write_table(table, path)
    return path
