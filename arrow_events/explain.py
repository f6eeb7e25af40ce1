"""Show how a year is planned, and dump any of its relations for debugging."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq

from arrow_events.config import Config
from arrow_events.context import register_tables
from arrow_events.errors import UserError
from arrow_events.plans import (
    BOUND,
    FUSED_MATERIALIZED,
    GLOBAL_STAGES,
    STAGES,
    EngineOptions,
    YearPlan,
    compose,
    finish,
    fused_keep,
    global_step,
    prepare,
)
from arrow_events.state import CohortState
from udfs import DRAWS

DUMPABLE = ["cohort", "plan_cohort", "hire", *STAGES, "events", "snapshot"]


def _count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


def whole_year(cfg: Config, year: int, state: CohortState, threads: int = 2) -> YearPlan:
    """The year after its global step, with the whole cohort as its one shard: what explain looks at."""
    plan = prepare(cfg, year, state, EngineOptions(threads))
    register_tables(plan.ctx, {"hire": global_step(plan, fused_keep)})
    return plan


def explain_year(cfg: Config, year: int, state: CohortState, threads: int = 2) -> str:
    """Each relation's logical and physical plan, cohort scans and UDF work, after running the year."""
    plan = prepare(cfg, year, state, EngineOptions(threads))
    sections, scans, draw_exprs = [], 0, 0
    DRAWS.reset()
    for step, stages in (("global step", GLOBAL_STAGES), ("shard", STAGES)):
        if step == "shard":
            register_tables(plan.ctx, {"hire": plan.ctx.table("hire").to_arrow_table()})
        for name in stages:
            if step == "shard" and name in GLOBAL_STAGES:
                plan.ctx.deregister_table(name)
            df = plan.sql(name)
            logical = df.optimized_logical_plan().display_indent()
            physical = df.execution_plan().display_indent()
            # views run only inside the plans that read them (counted there)
            if name in FUSED_MATERIALIZED or (step == "global step" and name in (*BOUND, "hire")):
                scans += _count(r"TableScan: cohort\b", logical)
                draw_exprs += _count(r"hash_rng_key\(", physical)
            kept = "materialized in memory" if name in FUSED_MATERIALIZED else "view (inlined where read)"
            sections.append(f"== {step}: {name}: {kept}\n-- logical\n{logical}\n-- physical\n{physical}")
            compose(plan, [name], fused_keep)
    final = plan.sql("events")
    logical = final.optimized_logical_plan().display_indent()
    scans += _count(r"TableScan: cohort\b", logical)
    sections.append(f"== events: the year partition\n-- logical\n{logical}"
                    f"\n-- physical\n{final.execution_plan().display_indent()}")
    result = finish(plan)
    c = result.counts
    summary = [
        f"year {year}: fused plan, {threads} thread(s), one shard",
        f"cohort scans in the executed plans: {scans} (the global step's and the shard's)",
        f"hash_rng draw expressions in the executed plans: {draw_exprs}",
        f"rows drawn: {DRAWS.rows:,} in {DRAWS.calls} UDF batches "
        f"({c['n_active']:,} employees and {c['hires']:,} hires, each stream once; the termination "
        "key once more in the global step)",
        f"events: {result.events.num_rows:,}; snapshot rows: {result.snapshot.num_rows:,}",
    ]
    return "\n".join(summary) + "\n\n" + "\n\n".join(sections)


def dump_relation(cfg: Config, year: int, state: CohortState, name: str, dest: Path, threads: int = 2) -> Path:
    """Write one named relation of ``year`` to dest/<name>.parquet (never into a warehouse)."""
    if name not in DUMPABLE:
        raise UserError(f"--dump: unknown relation {name!r} (choose from {', '.join(DUMPABLE)})")
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest}: --out exists and is not a directory")
    plan = whole_year(cfg, year, state, threads)
    if name in ("cohort", "plan_cohort", "hire"):
        table = plan.ctx.table(name).to_arrow_table()
    elif name in ("events", "snapshot"):
        compose(plan, STAGES, fused_keep)
        result = finish(plan)
        table = result.events if name == "events" else result.snapshot
    else:
        compose(plan, STAGES[: STAGES.index(name) + 1], fused_keep)
        table = plan.ctx.table(name).to_arrow_table()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}.parquet"
    pq.write_table(table, path)
    return path
