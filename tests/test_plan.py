"""The fused plan: one cohort scan per step, each draw computed once per employee and stream."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from arrow_events import from_census, load_config
from arrow_events.engine.context import register_tables
from arrow_events.engine.explain import whole_year
from arrow_events.engine.stages import BRANCHES, GLOBAL_STAGES, SHARD_MATERIALIZED, STAGES, needs, shared
from arrow_events.engine.year import GLOBAL_KEEP, SHARD_KEEP, compose, prepare, run_year
from arrow_events.options import RunOptions
from arrow_events.queries import reads, sql
from arrow_events.simulation import default_census
from arrow_events.udfs import DrawCounter

COHORT_STREAMS = 7  # promo, promo_raise, merit, enroll, enroll_date, opt_out, defer
HIRE_STREAMS = 8  # hire_age, hire_pay, hire_date, nh_term, nh_term_date, enroll, enroll_date, opt_out
# term: every member not scheduled to leave, in the global step (the cutoff) and in its shard;
# term_date: only those drawn to leave


@pytest.mark.parametrize("shard_rows", [None, 1500])
def test_each_draw_computed_once_per_employee_and_stream(shard_rows):
    cfg = load_config(None)
    state = from_census(default_census(cfg), cfg)
    draws = DrawCounter()
    result = run_year(cfg, 2025, state, RunOptions(shard_rows=shard_rows), draws=draws)
    n, hires, drawn = result.counts["n_active"], result.counts["hires"], result.counts["drawn_terms"]
    assert n == state.headcount == 5000 and hires > 0 and drawn > 0
    assert draws.rows == n * COHORT_STREAMS + hires * HIRE_STREAMS + 2 * n + drawn


def test_stream_names_in_sql_match_the_counted_streams():
    # the counts above are the streams the SQL actually draws, not a guess
    cohort_streams = re.findall(r"draw\(\w\.draw_key, '(\w+)'\)", sql("rng"))
    assert cohort_streams[0] == "term" and len(cohort_streams) == 1 + COHORT_STREAMS
    assert len(re.findall(r"hash_rng_key\(", sql("hire"))) == HIRE_STREAMS
    assert re.findall(r"draw\(\w\.draw_key, '(\w+)'\)", sql("termination")) == ["term_date"]
    drawn = [name for name in [*GLOBAL_STAGES, *STAGES] if re.search(r"\b(draw|hash_rng_key)\(", sql(name))]
    assert drawn == ["rng", "hire", "rng", "termination"]


def test_a_shard_is_one_plan_with_one_cohort_scan_and_each_draw_once():
    cfg = load_config(None)
    state = from_census(default_census(cfg), cfg)
    plan, _ = whole_year(cfg, 2025, state)  # after the global step, the cohort as one shard
    assert SHARD_MATERIALIZED == shared(STAGES) == set()  # each relation has one reader: nothing is kept
    compose(plan, STAGES[:-1], SHARD_KEEP)  # all views, inlined into the shard's one plan
    member_year = plan.sql("member_year").optimized_logical_plan().display_indent()
    assert member_year.count("TableScan: cohort ") == 1
    streams = re.findall(r"draw\(\w+\.draw_key, Utf8\(\"(\w+)\"\)", member_year)
    assert sorted(streams) == sorted(re.findall(r"'(\w+)'\)", sql("rng")) + ["term_date"])


def test_legacy_engine_stores_every_branch_and_cleans_up(tmp_path, monkeypatch):
    # the baseline is honest: like the dbt models it stands for, the cohort and every branch
    # land on disk in a scratch directory, each read back by the next; removed afterwards
    import tempfile

    import arrow_events.engine.year as plans

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    written = []
    real_to_parquet = plans.to_parquet

    def recording(scratch, ctx):
        materialize = real_to_parquet(scratch, ctx)
        return lambda name, df: (written.append(name), materialize(name, df))[1]

    monkeypatch.setattr(plans, "to_parquet", recording)
    cfg = load_config(None)
    state = from_census(default_census(cfg), cfg)
    fused = run_year(cfg, 2025, state, RunOptions(engine="fused"))
    legacy = run_year(cfg, 2025, state, RunOptions(engine="legacy"))
    assert legacy.events.equals(fused.events) and legacy.snapshot.equals(fused.snapshot)
    # the global step's hires; then, in the (one) shard, the stored cohort and each branch
    assert written == ["hire", "cohort", *[s for s in STAGES if s in BRANCHES]]
    assert list(tmp_path.iterdir()) == []


def test_hire_ids_stay_unique_past_999999_hires():
    cfg = load_config(None)
    state = from_census(default_census(cfg), cfg)
    plan = prepare(cfg, 2025, state)
    compose(plan, GLOBAL_STAGES[: GLOBAL_STAGES.index("year_counts") + 1], GLOBAL_KEEP)
    counts = plan.ctx.table("year_counts").to_arrow_table()
    counts = counts.set_column(counts.schema.get_field_index("hires"), "hires",
                               pa.array([1_000_002], pa.int64()))  # as a 5M-employee cohort would hire
    register_tables(plan.ctx, {"year_counts": counts})
    ids = plan.sql("hire").to_arrow_table()["employee_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 1_000_002
    assert {"NH_2025_000001", "NH_2025_999999", "NH_2025_1000000", "NH_2025_1000002"} <= set(ids)


def test_batch_size_does_not_change_the_year(monkeypatch):
    import arrow_events.engine.year as plans

    cfg = load_config(None)
    state = from_census(default_census(cfg), cfg)
    results = []
    for size in (1000, 8192, 65536):
        monkeypatch.setattr(plans, "batch_size_for", lambda rows, size=size: size)
        results.append(run_year(cfg, 2025, state))
    for r in results[1:]:
        assert r.events.equals(results[0].events) and r.snapshot.equals(results[0].snapshot)


def test_stage_order_follows_what_each_file_reads_and_binds():
    # read off the SQL by hand: merit reads promotion and its tier cells; opt_out reads enrollment;
    # hire reads the counts; the members read their path's row of path_year, which holds the cutoff
    assert reads("merit") == {"promotion", "merit_cells"}
    assert reads("opt_out") == {"enrollment"}
    assert reads("plan_members") == {"calendar", "plan_designs", "termination", "design_ages"}
    assert "year_counts" in needs("hire") and "termination_cutoff" in needs("path_year")
    assert "path_year" in needs("members")
    for stages in (GLOBAL_STAGES, STAGES):
        for i, name in enumerate(stages):
            assert not (needs(name) & set(stages[i + 1:])), name
    assert GLOBAL_STAGES.index("year_counts") < GLOBAL_STAGES.index("hire")



def _years(configs, session, options, years=range(2025, 2028)):
    """Each year's tables of a batch of ``configs``, one after another, in ``session`` (None: planned afresh),
    and after each year the ids of the session's planned statements."""
    from arrow_events.engine.paths import Batch
    from arrow_events.engine.year import run_years

    batch = Batch.of(configs)
    state = from_census(default_census(batch.base), batch.base).for_paths(len(batch))
    out, statements = [], []
    for tables in run_years(batch, years, state, options, session=session):
        out.append(tables)
        if session is not None:
            statements.append({name: id(df) for name, df in session.context.frames.items()})
    return out, statements


def _two_paths():
    """The default config and one growing faster with another seed: a batch of two paths."""
    base = load_config(None)
    other = base.model_copy(deep=True)
    other.scenario.growth, other.scenario.seed = 0.08, 7
    return [base, other]


SESSION_OPTIONS = RunOptions(shard_rows=2000, threads=2)  # several shards a year, each in the same context


@pytest.fixture(scope="module")
def planned_afresh():
    """The two paths' years, each planned afresh (computed once for every threshold below)."""
    return _years(_two_paths(), None, SESSION_OPTIONS)[0]


@pytest.mark.parametrize("small", [65_536, 100, 10_800])
def test_a_runs_session_plans_each_statement_once_and_gives_the_years_planned_afresh(small, monkeypatch,
                                                                                      planned_afresh):
    """A run's Session keeps its context from year to year and runs the same planned statements on
    refilled tables (engine/session.py): every year, shard and path must come out as when each year is
    planned afresh, and with small tables the statements must be the ones planned in the first year
    (``small``=100: every cohort table is large, registered anew and planned again; 10,800: the two paths'
    cohort is small the first two years and large the third)."""
    import arrow_events.engine.session
    from arrow_events.engine.year import Session

    monkeypatch.setattr(arrow_events.engine.session, "SMALL", small)

    assert Session.of(RunOptions(engine="legacy")) is None and Session.of(RunOptions(memory_limit="1GB")) is None
    reused, statements = _years(_two_paths(), Session.of(SESSION_OPTIONS), SESSION_OPTIONS)
    for a, b in zip(planned_afresh, reused, strict=True):
        assert a.events.equals(b.events) and a.snapshot.equals(b.snapshot) and a.contributions.equals(b.contributions)
        assert a.path_counts == b.path_counts
    if small > 20_000:  # planned in the first year only
        assert len(statements[0]) >= 6 and all(s == statements[0] for s in statements)
