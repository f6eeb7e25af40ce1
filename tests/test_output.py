"""The single writer: Hive layout readable by pyarrow and DataFusion, byte-identical re-runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from datafusion import SessionContext

from arrow_events import RunOptions, run
from arrow_events.schema import EVENTS_SCHEMA, SNAPSHOT_SCHEMA
from arrow_events.warehouse.manifest import read_manifest
from tests.conftest import two_design_config


def digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.parquet"))}


RUNS = {"a": (2, "fused", None), "b": (2, "fused", None), "one_thread": (1, "fused", None),
        "four_threads": (4, "fused", None), "legacy": (2, "legacy", None),
        # ~6,000 members a year: 3 shards, and 4 of uneven sizes (legacy too)
        "shards_2000": (2, "fused", 2000), "shards_1500": (1, "fused", 1500), "legacy_shards": (2, "legacy", 1700)}


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """The same 3-year run, by both engines and on 1, 2 and 4 threads."""
    cfg = two_design_config()
    cfg.scenario.years = 3
    outs = {}
    for name, (threads, engine, shard_rows) in RUNS.items():
        outs[name] = tmp_path_factory.mktemp(name)
        run(cfg, outs[name], options=RunOptions(threads=threads, engine=engine, shard_rows=shard_rows))
    return cfg, outs


def test_two_runs_are_byte_identical(small_runs):
    _, outs = small_runs
    a, b = digests(outs["a"]), digests(outs["b"])
    assert len(a) == 9 and a == b  # 3 years x events, snapshot, contributions


def test_thread_count_does_not_change_bytes(small_runs):
    _, outs = small_runs
    assert digests(outs["a"]) == digests(outs["one_thread"]) == digests(outs["four_threads"])


def test_shard_count_does_not_change_bytes(small_runs):
    _, outs = small_runs
    assert digests(outs["shards_2000"]) == digests(outs["shards_1500"]) == digests(outs["legacy_shards"]) \
        == digests(outs["a"])
    manifest = json.loads((outs["shards_1500"] / "manifests" / "simulation_year=2025.json").read_text())
    assert (manifest["shard_rows"], manifest["shards"]) == (1500, 5)  # 5,000 employees and ~1,100 hires


def test_legacy_baseline_is_byte_identical_to_fused(small_runs):
    _, outs = small_runs
    assert digests(outs["legacy"]) == digests(outs["a"])


def test_row_counts_per_year_and_type_match_the_baseline(small_runs):
    cfg, outs = small_runs

    def counts(out: Path) -> dict[tuple[int, str], int]:
        t = ds.dataset(out / "events", format="parquet", partitioning="hive").to_table()
        grouped = t.group_by(["simulation_year", "event_type"]).aggregate([("event_id", "count")])
        return {(r["simulation_year"], r["event_type"]): r["event_id_count"] for r in grouped.to_pylist()}

    fused, legacy = counts(outs["a"]), counts(outs["legacy"])
    assert fused == legacy
    assert {y for y, _ in fused} == set(cfg.years) and len(fused) == 9 * len(cfg.years)
    for year in cfg.years:
        m = json.loads((outs["legacy"] / "manifests" / f"simulation_year={year}.json").read_text())
        assert m["engine"] == "legacy"
        assert m["events_by_type"] == {t: n for (y, t), n in fused.items() if y == year}


def test_rerun_of_one_year_from_stored_snapshot_reproduces_it(small_runs, tmp_path):
    cfg, outs = small_runs
    out = outs["b"]
    before = digests(out)
    report = run(cfg, out, years=[2026])
    assert digests(out) == before  # same inputs, same bytes
    assert report.stale_years == [2027]
    assert not [p for p in out.rglob("*") if p.name.startswith(".") and p.name != ".lock"]  # no leftovers


def test_manifest_matches_files(small_runs):
    cfg, outs = small_runs
    out = outs["a"]
    for year in cfg.years:
        m = json.loads((out / "manifests" / f"simulation_year={year}.json").read_text())
        assert m["seed"] == cfg.scenario.seed and m["config_sha256"] == cfg.digest()
        for info in m["files"].values():
            p = out / info["path"]
            assert hashlib.sha256(p.read_bytes()).hexdigest() == info["sha256"]
            assert ds.dataset(p).count_rows() == info["rows"]
        assert sum(m["events_by_type"].values()) == m["files"]["events"]["rows"]
        # the one reader gives back what is on disk, field for field
        assert read_manifest(out / "manifests" / f"simulation_year={year}.json").to_json() == m
        assert "census" not in m  # the built-in census: only a census given says where the cohort came from


def test_manifest_of_an_older_writer_reads_with_defaults(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"simulation_year": 2025, "engine": "duckdb", "a_key_from_later": 1}))
    m = read_manifest(p)
    assert (m.simulation_year, m.engine, m.files, m.config_toml) == (2025, "duckdb", {}, None)
    p.write_text("[1, 2]")
    with pytest.raises(ValueError):
        read_manifest(p)


def test_read_back_with_pyarrow_dataset(small_runs):
    cfg, outs = small_runs
    out = outs["a"]
    events = ds.dataset(out / "events", format="parquet", partitioning="hive").to_table()
    assert pa.types.is_integer(events.schema.field("simulation_year").type)
    assert sorted(set(events["simulation_year"].to_pylist())) == cfg.years
    for f in EVENTS_SCHEMA:
        assert events.schema.field(f.name).type == f.type
    snap = ds.dataset(out / "snapshot", format="parquet", partitioning="hive").to_table()
    for f in SNAPSHOT_SCHEMA:
        assert snap.schema.field(f.name).type == f.type


def test_read_back_with_datafusion(small_runs):
    cfg, outs = small_runs
    out = outs["a"]
    ctx = SessionContext()
    ctx.register_parquet("events", str(out / "events"), table_partition_cols=[("simulation_year", pa.int32())])
    rows = ctx.sql("SELECT simulation_year, COUNT(*) AS n FROM events GROUP BY simulation_year "
                   "ORDER BY simulation_year").to_pydict()
    assert rows["simulation_year"] == cfg.years
    per_year = [ds.dataset(out / "events" / f"simulation_year={y}").count_rows() for y in cfg.years]
    assert rows["n"] == per_year
