"""One measurement, in its own process so its peak RSS is its own.

Usage (internal): python -m perf.child '<json spec>'; prints one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from arrow_events import load_config, read_census, run, synthetic_census
from arrow_events.options import RunOptions
from arrow_events.warehouse.parquet import ParquetFile
from arrow_events.warehouse.writer import sha256_file


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def events_digest(out: Path) -> str:
    """sha256 over the events files' own sha256s, year by year: equal digests mean equal event rows. (Each
    file is hashed in pieces, as the writer's manifest does: read whole, a 5M-employee year's file would
    count in the peak RSS.)"""
    files = sorted((out / "events").rglob("*.parquet"))
    return hashlib.sha256("".join(sha256_file(p) for p in files).encode()).hexdigest()


def measure(spec: dict) -> dict:
    cfg = load_config(None)
    cfg.scenario.years = spec["years"]
    # the scaling series hands over a census file for run() to read, as a user's run does: generated here,
    # or read and held here, the census would count in the run's peak beside the run's own copy
    census = spec.get("census") or read_census(synthetic_census(spec["employees"], 42, cfg.scenario.start_year), 2025)
    runs = []
    digest = ""
    peak = None
    for i in range(spec["warmup"] + spec["repeats"]):
        with tempfile.TemporaryDirectory(prefix="arrow-events-perf-") as tmp:
            out = Path(tmp) / "wh"
            t0 = time.perf_counter()
            if spec["engine"] == "duckdb":
                from perf.duckdb_peer import run_duckdb

                years = run_duckdb(cfg, read_census(census, 2025).table, out, spec["threads"])
            else:
                options = RunOptions(threads=spec["threads"], engine=spec["engine"], tune_memory=True,
                                     shard_rows=spec.get("shard_rows"), contributions=spec.get("contributions", True))
                report = run(cfg, out, census=census, options=options)
                years = [{"year": y.year, "generate_s": y.generate_s, "write_s": y.write_s, "shards": y.shards}
                         for y in report.years]
            total = time.perf_counter() - t0
            digest = events_digest(out)
            measured = i >= spec["warmup"]
            # the floor beside every measured run, not once: on a shared machine it moves as much as the run
            floor = write_floor(out) if spec.get("floor") and measured else None
            if floor is not None:
                peak = peak_rss_mb()  # every run's peak so far, before this floor's reads could raise it
        if measured:
            runs.append({"total_s": total, "years": years, "write_floor_s": floor})
    peak = peak if peak is not None else peak_rss_mb()
    floors = [r["write_floor_s"] for r in runs if r["write_floor_s"] is not None]
    return {**spec, "runs": runs, "peak_rss_mb": peak, "events_sha256": digest,
            "write_floor_s": statistics.median(floors) if floors else None}


def write_floor(out: Path) -> float:
    """pyarrow alone writing the run's tables (read back whole) with the same settings: the encoding floor."""
    tables = [pq.read_table(p) for p in sorted(out.rglob("part-0.parquet"))]
    with tempfile.TemporaryDirectory(prefix="arrow-events-floor-") as tmp:
        t0 = time.perf_counter()
        for i, table in enumerate(tables):
            stream = ParquetFile(Path(tmp) / f"{i}.parquet", table.schema)  # as the writer streams a shard
            stream.write(table)
            stream.close()
        return time.perf_counter() - t0


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
