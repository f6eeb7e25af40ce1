"""The benchmark harness runs end to end (quick mode); no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_mode_measures_every_engine_and_checks_equal_events(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "perf", "--quick", "--threads", "2", "--out", str(tmp_path), "--name", "smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "smoke.json").read_text())
    got = {(r["workload"], r["engine"], r["threads"]) for r in doc["results"]}
    assert got == {(w, e, 2) for w in ("W1", "W2") for e in ("fused", "legacy", "duckdb")}
    assert doc["same_events"] == {"W1": True, "W2": True}  # DuckDB and legacy wrote the fused engine's rows
    assert doc["machine"]["cores"] >= 1 and "datafusion" in doc["machine"]["versions"]
    for r in doc["results"]:
        assert r["peak_rss_mb"] > 0 and len(r["runs"][0]["years"]) == (3 if r["workload"] == "W1" else 1)
        if r["engine"] == "fused":  # the write floor beside each run, and the years against it, paired
            (run,) = r["runs"]
            ratios = sorted((y["generate_s"] + y["write_s"]) / run["write_floor_s"] for y in run["years"])
            assert r["summary"]["vs_floor"] == ratios[len(ratios) // 2] > 0
    assert (tmp_path / "smoke.md").read_text().count("| W") == 6
    assert (tmp_path / "smoke.png").stat().st_size > 1000


def test_quick_shard_series_counts_its_shards_and_writes_the_same_events(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "perf", "--quick", "--series", "shards", "--threads", "2", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "shards.json").read_text())
    assert [r["shards"] for r in doc["results"]] == [1, 2, 4, 8, 16]
    assert len({r["events_sha256"] for r in doc["results"]}) == 1  # sharding changes no byte
    assert (tmp_path / "shards.png").stat().st_size > 1000


def test_quick_sweep_series_times_the_sweeps_against_a_lone_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "perf", "--quick", "--series", "sweep", "--no-variants", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["quick"] and doc["batch_paths"] is None and "datafusion" in doc["machine"]["versions"]
    headline, ratio, lone = doc["targets"]
    assert [r["seeds"] for r in doc["targets"]] == [8, 3, 1] and lone["variant"] == "lone run"
    assert headline["command"] == "arrow-events sweep --seeds 1-8 --years 2025-2026 --out DIR"
    assert lone["command"] == "arrow-events run --years 2025-2026 --out DIR" and len(lone["walls_s"]) == 1
    for r in doc["targets"]:
        assert r["paths"] == r["seeds"] and r["years"] == "2025-2026" and r["peak_rss_mb"] > 0
        assert abs(r["paths_per_s"] * r["wall_s"] - r["paths"]) < 1e-6
        assert abs(r["ratio_to_lone"] - r["wall_s"] / lone["wall_s"]) < 1e-6
    assert headline["target"] and ratio["target"] and headline["met"] is None  # quick sizes are not judged
    assert not doc.get("variants")  # --no-variants: the executors are compared by the full series only
    md = (tmp_path / "sweep.md").read_text()
    assert "| variant | seeds | years | wall s | paths/s |" in md and md.count("| sweep, ") == 2
    assert "| lone run | 1 | 2025-2026 |" in md


def test_the_sweep_series_passes_batch_paths_only_when_given():
    from perf.sweep import sweep_command

    assert "--batch-paths" not in sweep_command(100, "2025-2034")
    assert sweep_command(100, "2025-2034", 50)[-2:] == ["--batch-paths", "50"]


def test_the_fixed_cost_series_times_both_ways_and_compares_their_tables(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "perf.fixed", "--employees", "200", "--years", "3", "--repeats", "1",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "fixed.json").read_text())
    assert [r["way"] for r in doc["results"]] == ["planned afresh each year", "planned once a run"]
    for r in doc["results"]:  # years 2-3 of one run each way; both ways gave the same events and snapshots
        assert r["years_timed"] == 2 and r["year_wall_ms"] > 0 and r["same_tables"] is True
    assert (tmp_path / "fixed.md").read_text().count("| 200 |") == 2
