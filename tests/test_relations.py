"""Single SQL relations on a few given rows, like dbt unit tests: each rule checked by hand.

Each test registers the relation's inputs as small Arrow tables in a year's context and
runs one file of queries/ with the scenario's parameters; the expected rows are worked out in
the test from docs/model.md, not taken from the engine.

The rows are one path's (path 0 of a batch of one): ``rows`` gives the hand-written rows the path
keys the engine adds (``path``, ``variant``, ``seed``, and down the member chain the path's row of
path_year), and a test sets a scenario value, a count or the cutoff by name in ``plan.bound``, as
the one path's rows of scenarios, year_counts and path_year.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from importlib.resources import files
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from arrow_events import load_config, read_census, synthetic_census
from arrow_events.config import Config
from arrow_events.engine import params
from arrow_events.engine.context import register_tables
from arrow_events.engine.explain import whole_year
from arrow_events.engine.paths import Batch
from arrow_events.engine.stages import GLOBAL_STAGES, STAGES
from arrow_events.engine.state import COHORT_SCHEMA, PLAN_COHORT_SCHEMA, CohortState, from_census
from arrow_events.engine.year import COUNTS, SHARD_KEEP, YearPlan, compose, prepare
from arrow_events.queries import reads, sql

YEAR = 2025
PATH_KEYS = ("path", "variant", "seed")
# the given tables keyed by variant only (a variant's rows of a parameter table)
BY_VARIANT = {"plan_designs", "design_ages", "plan_contributions", "hazards"}
# the member chain from members on: each row carries its path's row of path_year
CHAIN = set(STAGES[STAGES.index("members"):])


def year_plan(cfg: Config | None = None, year: int = YEAR, **bound: pa.Scalar) -> YearPlan:
    """A context for ``year`` (default 2025) with the config's (default: the defaults') parameter
    tables and scalars, plus ``bound``: a calendar parameter, or a value of the one path's scenario,
    counts or path_year row by name."""
    cfg = cfg or load_config(None)
    plan = prepare(cfg, year, CohortState(COHORT_SCHEMA.empty_table(), PLAN_COHORT_SCHEMA.empty_table()))
    plan.cfg = cfg  # type: ignore[attr-defined]
    plan.bound.update(bound)
    return plan


def _path_tables(plan: YearPlan) -> dict[str, pa.Table]:
    """The one path's rows of scenarios, paths, year_counts and path_year, with the values set in
    ``plan.bound`` by name."""
    values = {k: v.as_py() for k, v in plan.bound.items()}
    scenarios = params.scenarios_table(Batch.of(plan.cfg))  # type: ignore[attr-defined]
    scenarios = _set(scenarios, values)
    paths = _set(params.paths_table(Batch.of(plan.cfg)), values)  # type: ignore[attr-defined]
    counts = pa.table({"path": pa.array([0], pa.int64()),
                       **{k: pa.array([values.get(k, 0)], pa.int64()) for k in COUNTS}})
    path_year = scenarios.drop_columns(["variant", "growth", "termination_rate", "new_hire_termination_rate",
                                        "promotion_base_rate", "hire_pay_spread"])
    for name in ("promotion", "merit"):  # the scenario's month and day, this year's date
        month, day = (path_year[f"{name}_{part}"][0].as_py() for part in ("month", "day"))
        path_year = path_year.drop_columns([f"{name}_month", f"{name}_day"]).append_column(
            f"{name}_date", pa.array([values.get(f"{name}_date", dt.date(plan.year, month, day))], pa.date32()))
    path_year = path_year.add_column(0, "path", pa.array([0], pa.int64())).append_column(
        "new_hire_terms", counts["new_hire_terms"]).append_column(
        "cutoff_key", pa.array([values.get("cutoff_key")], pa.float64())).append_column(
        "cutoff_employee_id", pa.array([values.get("cutoff_employee_id")], pa.string()))
    calendar = params.calendar_table(plan.cfg, plan.year)  # type: ignore[attr-defined]
    for name in ("year_start", "year_end", "days_in_year"):  # path_year carries the year's dates
        path_year = path_year.append_column(calendar.schema.field(name), calendar[name])
    cutoff = path_year.select(["path", "cutoff_key", "cutoff_employee_id"]).filter(
        pc.is_valid(path_year["cutoff_key"]))
    return {"scenarios": scenarios, "paths": paths, "year_counts": counts, "termination_cutoff": cutoff,
            "path_year": path_year}


def _set(table: pa.Table, values: dict) -> pa.Table:
    """``table`` (one row) with the columns named in ``values`` set to them."""
    for i, f in enumerate(table.schema):
        if f.name in values and f.name != "path":
            table = table.set_column(i, f, pa.array([values[f.name]], f.type))
    return table


def _keyed(name: str, table: pa.Table, path: dict[str, pa.Table]) -> pa.Table:
    """A hand-written table with the path keys the engine's rows of it carry."""
    if name in BY_VARIANT and "variant" not in table.column_names:
        return table.append_column("variant", pa.array([0] * table.num_rows, pa.int64()))
    if "employee_id" not in table.column_names and "member_ix" not in table.column_names:
        return table
    n = table.num_rows
    seed = path["paths"]["seed"][0].as_py()
    for key, value in zip(PATH_KEYS, (0, 0, seed)):
        if key not in table.column_names:
            table = table.append_column(key, pa.array([value] * n, pa.int64()))
    if name in CHAIN:
        row = path["path_year"]
        for f in row.schema:
            if f.name not in table.column_names:
                table = table.append_column(f, pa.repeat(row[f.name][0], n).cast(f.type))
    return table


def rows(plan: YearPlan, name: str, **tables: pa.Table) -> list[dict]:
    """Run queries/<name>.sql on ``tables`` (registered under the names it reads, with the path keys
    added), rows by employee_id, without the path keys."""
    path = _path_tables(plan)
    register_tables(plan.ctx, {**path, **{k: _keyed(k, t, path) for k, t in tables.items()}})
    shared = params.shared_params(plan.cfg)  # type: ignore[attr-defined]
    got = plan.ctx.sql(sql(name), param_values={k: plan.bound[k] for k in shared}).to_arrow_table()
    got = got.drop_columns([k for k in PATH_KEYS if k in got.column_names])
    return sorted(got.to_pylist(), key=lambda r: r.get("employee_id", ""))


def by_id(plan: YearPlan, name: str, **tables: pa.Table) -> dict[str, dict]:
    """``rows`` keyed by employee_id (one row per employee)."""
    got = rows(plan, name, **tables)
    keyed = {r["employee_id"]: r for r in got}
    assert len(keyed) == len(got), "one row per employee expected"
    return keyed


def column_type(name: str) -> pa.DataType | None:
    """The Arrow type the engine gives a column of this name (None: inferred from the values)."""
    if name in TYPES:
        return TYPES[name]
    if name.startswith("u_") or name.endswith(("_rate", "_p", "_probability", "_mult", "_weight")):
        return pa.float64()  # draws (u_enroll_date too) and rates
    if name.endswith(("_on", "_date")):
        return pa.date32()
    if name.endswith("_cents"):
        return pa.int64()
    return None


TYPES = {
    "level_id": pa.int32(), "promotion_level_id": pa.int32(), "member_ix": pa.int64(), "design_rank": pa.int64(),
    "age": pa.int64(), "tenure": pa.int64(), "employee_key": pa.int64(), "draw_key": pa.int64(),
    "nh_term_pick": pa.int64(), "hire_seq": pa.int64(), "sample_key": pa.float64(), "escalation_step": pa.float64(),
    "escalation_cap": pa.float64(), "match_ceiling": pa.float64(), "opt_out_window_days": pa.int32(),
    "auto_enroll_window_days": pa.int32(), "waiting_days": pa.int32(), "min_age": pa.int32(),
    "plan_deferral_rates": pa.list_(pa.float64()), "plan_enrollment_dates": pa.list_(pa.date32()),
    "plan_opted_out": pa.list_(pa.bool_()), "enrollment_category": pa.string(), "termination_category": pa.string(),
    "plan_design_id": pa.string(), "employee_id": pa.string(), "age_band": pa.string(), "tenure_band": pa.string(),
    "eligibility_override": pa.bool_(), "auto_escalation_opt_out": pa.bool_(),
    "scheduled_hours_per_week": pa.float64(), "hours_worked": pa.float64(),
}


def given(records: list[dict], **types: pa.DataType) -> pa.Table:
    """Hand-written rows as an Arrow table: the columns of the first row, each of the type the
    engine gives it (``column_type``, or as ``types`` says), so a column of NULLs is typed too."""
    return pa.table({k: pa.array([r.get(k) for r in records], types.get(k) or column_type(k)) for k in records[0]})


def test_termination_cutoff_and_branch_break_ties_by_employee_id():
    # keys: e 0.1 | a, b, c tied at 0.2 | d 0.5; three are drawn: e, then a and b by id
    ids = ["e", "b", "a", "c", "d"]
    keys = pa.table({"employee_id": ids, "sample_key": [0.1, 0.2, 0.2, 0.2, 0.5],
                     "scheduled_this_year": [False] * 5})
    plan = year_plan(drawn_terms=pa.scalar(3, pa.int64()), n_active=pa.scalar(5, pa.int64()))
    [cut] = rows(plan, "termination_cutoff", rng=keys)
    assert cut == {"cutoff_key": 0.2, "cutoff_employee_id": "b"}
    plan.bound.update(cutoff_key=pa.scalar(0.2), cutoff_employee_id=pa.scalar("b"),
                      new_hire_terms=pa.scalar(0, pa.int64()))
    merit = keys.append_column("draw_key", pa.array([1, 2, 3, 4, 5], pa.int64())).append_column(
        "scheduled_termination_date", pa.nulls(5, pa.date32())).append_column(
        "hire_date", pa.nulls(5, pa.date32())).append_column(
        "u_nh_term_date", pa.nulls(5, pa.float64())).append_column("nh_term_pick", pa.nulls(5, pa.int64()))
    got = {r["employee_id"]: r for r in rows(plan, "termination", merit=merit)}
    left = sorted(k for k, r in got.items() if r["termination_on"] is not None)
    assert left == ["a", "b", "e"]
    assert all(got[k]["termination_category"] == "experienced_termination" and got[k]["termination_on"].year == YEAR
               for k in left)
    assert got["c"]["termination_category"] is None and got["d"]["termination_category"] is None


def test_no_cutoff_row_when_nobody_is_drawn():
    keys = pa.table({"employee_id": ["a"], "sample_key": [0.3], "scheduled_this_year": [False]})
    assert rows(year_plan(drawn_terms=pa.scalar(0, pa.int64())), "termination_cutoff", rng=keys) == []


def member_row(employee_id: str, **values: object) -> dict:
    row = {"employee_id": employee_id, "level_id": 2, "compensation_cents": 10_000_000, "tenure": 3, "age": 40,
           "u_promo": 0.01, "promotion_p": 0.05, "u_promo_raise": 0.5}
    row.update(values)
    return row


def test_promotion_rule():
    given = [
        member_row("promoted"),                                   # eligible, u_promo 0.01 < p 0.05
        member_row("top_level", level_id=5),                      # nowhere to go
        member_row("new", tenure=0),                              # under a year of service
        member_row("too_old", age=65),                            # age cut-off 65
        member_row("unlucky", u_promo=0.2, promotion_p=0.1),      # u >= p
        member_row("best_raise", u_promo_raise=0.999999),         # 20% + 5% spread x (2u - 1)
    ]
    members = pa.Table.from_pylist(given, schema=pa.schema([
        ("employee_id", pa.string()), ("level_id", pa.int32()), ("compensation_cents", pa.int64()),
        ("tenure", pa.int64()), ("age", pa.int64()), ("u_promo", pa.float64()), ("promotion_p", pa.float64()),
        ("u_promo_raise", pa.float64())]))
    got = {r["employee_id"]: r for r in rows(year_plan(), "promotion", members=members)}
    assert {k for k, r in got.items() if r["promotion_on"] is not None} == {"promoted", "best_raise"}
    assert all(r["promotion_level_id"] is None for k, r in got.items() if k not in ("promoted", "best_raise"))
    p = got["promoted"]
    assert (p["promotion_on"], p["promotion_level_id"], p["level_id"]) == (dt.date(YEAR, 2, 1), 3, 2)
    assert p["promotion_compensation_cents"] == 12_000_000  # x (1 + 0.20 + 0.05 x 0), to the cent
    best = math.floor(10_000_000 * (1 + 0.20 + 0.05 * (2 * 0.999999 - 1)) + 0.5)  # ~ +25%, under the 30% cap
    assert got["best_raise"]["promotion_compensation_cents"] == best == 12_499_999
    assert p["promotion_probability"] == 0.05


def test_merit_tier_is_found_exactly_at_its_boundaries():
    # default tiers: u < 0.10 -> 0, u < 0.80 -> 1, else 1.5; merit rate 4% at level 2, 4.5% at 3; cola 2%
    u = [0.0, math.nextafter(0.1, 0), 0.1, 0.5, math.nextafter(0.8, 0), 0.8, 0.999999]
    n = len(u)
    promotion = pa.table({
        "employee_id": [f"m{i}" for i in range(n + 1)],
        "tenure": pa.array([3] * (n + 1), pa.int64()),
        "compensation_cents": pa.array([10_000_000] * (n + 1), pa.int64()),
        "u_merit": u + [0.5],
        "promoted": [False] * n + [True],
        "merit_rate": [0.040] * (n + 1),
        "promoted_merit_rate": [0.045] * (n + 1),
        "promotion_compensation_cents": pa.array([None] * n + [12_000_000], pa.int64()),
    })
    got = {r["employee_id"]: r for r in rows(year_plan(), "merit", promotion=promotion)}
    expected = [0.0, 0.0, 1.0, 1.0, 1.0, 1.5, 1.5]
    for i, mult in enumerate(expected):
        want = math.floor(10_000_000 * (1 + 0.040 * mult + 0.02) + 0.5)
        assert got[f"m{i}"]["merit_compensation_cents"] == want, (u[i], mult)
        assert got[f"m{i}"]["merit_on"] == dt.date(YEAR, 7, 15)
    # after a promotion: the promoted pay, at the level above's rate
    assert got[f"m{n}"]["merit_compensation_cents"] == math.floor(12_000_000 * (1 + 0.045 * 1.0 + 0.02) + 0.5)


def test_escalation_rule():
    opt_out = pa.table({
        "plan_design_id": ["standard"] * 5,
        "employee_id": ["steps", "capped", "at_cap", "opted_out", "new_hire"],
        "deferral_rate": [0.03, 0.095, 0.10, 0.03, 0.03],
        "enrolled": [True] * 5,
        "is_new_hire": [False, False, False, False, True],
        "auto_escalation_opt_out": [False, False, False, True, False],
        "auto_escalation": [True] * 5,
        "escalation_step": [0.01] * 5,
        "escalation_cap": [0.10] * 5,
        "escalation_date": [dt.date(YEAR, 1, 1)] * 5,
    })
    got = {r["employee_id"]: r for r in rows(year_plan(), "escalation", opt_out=opt_out)}
    assert {k for k, r in got.items() if r["escalation_on"] is not None} == {"steps", "capped"}
    # none at the cap, opted out of escalation, or hired this year
    assert got["steps"]["escalation_deferral_rate"] == 0.04 and got["capped"]["escalation_deferral_rate"] == 0.10
    assert got["steps"]["escalation_on"] == dt.date(YEAR, 1, 1)
    assert got["at_cap"]["escalation_deferral_rate"] is None


def test_merit_cells_find_the_tier_of_any_draw_even_with_close_boundaries():
    # boundaries 0.3001 and 0.3004 share a cell at 1,000 cells: the table refines to 10,000
    cfg = load_config(None)
    cfg.merit_performance.upper = [0.3001, 0.3004, 0.999999, 1.0]
    cfg.merit_performance.multiplier = [0.0, 1.0, 1.5, 2.0]
    cells = params.merit_cells_table(cfg).to_pydict()
    count = params.merit_cell_count(cfg)
    assert count == 10_000 and len(cells["cell"]) == count + 1
    edges = [b for x in cfg.merit_performance.upper[:-1] for b in (math.nextafter(x, 0), x, math.nextafter(x, 1))]
    for u in [0.0, 0.15, 0.30025, 0.5, math.nextafter(1.0, 0), *edges]:
        tier = sum(u >= b for b in cfg.merit_performance.upper[:-1])  # the tier whose [lo, hi) holds u
        c = math.floor(u * count)  # what merit.sql computes
        boundary = cells["boundary"][c]
        found = cells["multiplier_below"][c] if boundary is not None and u < boundary else cells["multiplier"][c]
        assert found == cfg.merit_performance.multiplier[tier], u


def test_hire_age_cells_find_the_age_of_any_draw_whatever_the_weights():
    # a weight of 0 (never drawn), slices far narrower than a cell, and one boundary exactly on a cell edge
    cfg = load_config(None)
    cfg.hire_ages.ages = [22, 25, 30, 31, 32, 40, 60]
    cfg.hire_ages.weights = [0.25, 0.0, 1e-12, 3e-12, 0.25, 0.2, 0.3]
    cells = params.hire_age_cells_table(cfg).to_pylist()
    weights = cfg.hire_ages.weights
    his = [sum(weights[: i + 1]) / sum(weights) for i in range(len(weights))]
    edges = [b for x in his[:-1] for b in (math.nextafter(x, 0), x, math.nextafter(x, 1))]
    for u in [0.0, 0.1, 0.25, 0.49, 0.5, 0.75, math.nextafter(1.0, 0), *edges]:
        # the age whose [lo, hi) of the cumulative weights holds u, as the range join read it
        expected = cfg.hire_ages.ages[next(i for i, hi in enumerate(his) if u < hi)]
        c = math.floor(u * params.HIRE_AGE_CELLS)  # what hire.sql computes
        found = [r["age"] for r in cells if r["cell"] == c and r["u_lo"] <= u < r["u_hi"]]
        assert found == [expected], u
    assert 25 not in {r["age"] for r in cells}


def test_every_relation_in_queries_has_a_given_rows_test():
    """Each queries/<name>.sql is run on given rows somewhere in tests/test_relation*.py (contributions:
    also tests/test_contributions.py), through rows()/by_id() or sql("<name>")."""
    here = Path(__file__).parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in [*here.glob("test_relation*.py"),
                                                             here / "test_contributions.py"])
    tested = set(re.findall(r'\b(?:rows|by_id)\([^"\n]*?"(\w+)"', text)) | set(re.findall(r'\bsql\("(\w+)"\)', text))
    relations = {f.name.removesuffix(".sql") for f in files("arrow_events.queries").iterdir()
                 if f.name.endswith(".sql")}
    assert len(relations) >= 20
    assert relations - tested == set()


def test_the_member_chain_passes_on_only_what_a_later_relation_reads():
    """Each relation of a shard leaves out (EXCLUDE) what no later relation reads: a column carried on
    for nothing is planned again at every step of the chain and copied by every join after it
    (docs/how-it-works.md, Member-major)."""
    cfg = load_config(None)
    plan, _ = whole_year(cfg, YEAR, from_census(read_census(synthetic_census(50, 3, YEAR), YEAR), cfg))
    compose(plan, STAGES, SHARD_KEEP)
    for i, name in enumerate(STAGES[:-1]):
        readers = [*STAGES[i + 1:], *(g for g in GLOBAL_STAGES if name in reads(g))]
        text = "\n".join(re.sub(r"--[^\n]*", "", sql(r)) for r in readers)
        columns = plan.ctx.table(name).schema().names
        unread = [c for c in columns if not re.search(rf"\b{c}\b", text)]
        assert unread == [], f"{name} passes on {unread}, which no later relation reads"
    assert max(len(plan.ctx.table(name).schema()) for name in STAGES) <= 61  # was 107
