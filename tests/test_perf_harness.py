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
        assert r["peak_rss_mb"] > 0 and len(r["runs"][0]["years"]) == (5 if r["workload"] == "W1" else 1)
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
