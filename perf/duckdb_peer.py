"""The peer: the same event logic run by DuckDB, the engine the dbt reference uses.

Same SQL files from queries/, the same NumPy hash UDFs registered as DuckDB Arrow
UDFs, the same single writer. The one translation DuckDB forces: it cannot bind
parameters inside a view, so every relation is computed with its parameters and
kept as an Arrow table registered back into the connection. It writes events and
snapshot, not contributions: queries/contributions.sql counts cents in integer
division, and DuckDB's ``/`` divides integers as floats. The engines series compares
event generation, so every engine runs there without contributions.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from duckdb import sqltypes

from arrow_events import udfs
from arrow_events.config import Config
from arrow_events.engine import emit, params
from arrow_events.engine.paths import Batch
from arrow_events.engine.shards import cut, numbered
from arrow_events.engine.stages import GLOBAL_STAGES, STAGES
from arrow_events.engine.state import CohortState, from_census, from_snapshot, with_path_keys
from arrow_events.engine.year import COUNTS, YearTables
from arrow_events.queries import sql
from arrow_events.warehouse.manifest import YearManifest
from arrow_events.warehouse.writer import commit_year, prepare_warehouse, staged_year


def connect(threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    big, dbl, txt = sqltypes.BIGINT, sqltypes.DOUBLE, sqltypes.VARCHAR
    con.create_function("hash_rng_key", udfs.hash_rng_key, [big, big, txt, big], dbl, type="arrow",
                        null_handling="special")
    con.create_function("employee_key", udfs.employee_key, [txt], big, type="arrow", null_handling="special")
    con.create_function("draw_key", udfs.draw_key, [big, big, big], big, type="arrow", null_handling="special")
    con.create_function("draw", udfs.draw, [big, txt], dbl, type="arrow", null_handling="special")
    day = sqltypes.DATE
    con.create_function("whole_years", udfs.whole_years, [day, big], big, type="arrow", null_handling="special")
    con.create_function("anniversary", udfs.anniversary, [day, big], day, type="arrow", null_handling="special")
    con.create_function("add_days", udfs.add_days, [day, big], day, type="arrow", null_handling="special")
    return con


def _query(con: duckdb.DuckDBPyConnection, name: str, bound: dict) -> pa.Table:
    text = sql(name)
    wanted = dict.fromkeys(re.findall(r"\$(\w+)", text))
    return con.sql(text, params={k: bound[k] for k in wanted}).to_arrow_table()


def duckdb_year(con: duckdb.DuckDBPyConnection, cfg: Config, year: int, state: CohortState) -> YearTables:
    batch = Batch.of(cfg)  # one path
    state = with_path_keys(state, batch)
    inputs = {**params.static_tables(batch), **params.year_tables(batch, year), "cohort": numbered(state.cohort)}
    for name, table in inputs.items():
        con.register(name, table)
    bound = {k: v.as_py() for k, v in params.shared_params(cfg).items()}

    def compute(names: list[str]) -> None:
        for name in names:
            con.register(name, _query(con, name, bound))

    # the global step, then the whole cohort as one shard (shards do not change a byte)
    compute(GLOBAL_STAGES)
    hires = con.table("hire").to_arrow_table()
    counts = con.table("year_counts").to_arrow_table().select(COUNTS).to_pylist()
    shard = next(cut(state, hires, state.headcount + hires.num_rows + 1, params.design_ids(cfg)))
    con.register("cohort", shard.cohort)
    con.register("hire", shard.hires)
    compute(STAGES)
    members = con.table("member_year").to_arrow_table()
    designs = len(cfg.plan_designs)
    snapshot = emit.snapshot_rows(_query(con, "snapshot", bound), designs)
    events, _ = emit.events(members, designs, year)
    return YearTables(year, events, snapshot, counts[0])


def run_duckdb(cfg: Config, census: pa.Table, out: Path, threads: int = 2) -> list[dict]:
    """Simulate cfg.years with DuckDB and write the warehouse with the project's writer."""
    prepare_warehouse(out)
    con = connect(threads)
    state = from_census(census, cfg)
    years = []
    for year in cfg.years:
        t0 = time.perf_counter()
        result = duckdb_year(con, cfg, year, state)
        t1 = time.perf_counter()
        tables = {"events": result.events, "snapshot": result.snapshot}
        with staged_year(out, year, {name: t.schema for name, t in tables.items()}) as stage:  # the single writer
            for name, table in tables.items():
                stage.write(name, table)
        commit_year(out, year, stage, YearManifest(simulation_year=year, engine="duckdb"))
        years.append({"year": year, "generate_s": t1 - t0, "write_s": time.perf_counter() - t1})
        state = from_snapshot(result.snapshot)
    return years
