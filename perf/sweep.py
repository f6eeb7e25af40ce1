"""Time ``arrow-events sweep``: the same seeds run one at a time, in local worker processes, and as Ray tasks.

Each variant is one fresh ``arrow-events sweep`` process into a new directory, timed wall-clock from
start to exit (the worker processes' or Ray's start-up included, as a user waits for it). Every variant
must give the same distribution.parquet: the runs are deterministic whatever executes them.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

# (name, executor, workers, DataFusion threads per run)
VARIANTS = [
    ("sequential", "local", 1, 1),
    ("sequential, 2 threads a run", "local", 1, 2),
    ("local processes", "local", 2, 1),
    ("Ray tasks", "ray", 2, 1),
]
_RUN_LINE = re.compile(r"\] seed=\d+ \S+: \d+ years? in ([\d.]+) s$")


def measure_sweeps(seeds: int, years: str, say: Callable[[str], None]) -> list[dict]:
    """Each variant over the same ``seeds`` x ``years`` of the built-in census; Ray's skipped if it is missing."""
    results: list[dict] = []
    reference = None
    for name, executor, workers, threads in VARIANTS:
        if executor == "ray" and importlib.util.find_spec("ray") is None:
            say(f"sweep: {name}: skipped (Ray is not installed)")
            continue
        say(f"sweep: {name} ({seeds} seeds, years {years}) ...")
        with tempfile.TemporaryDirectory(prefix="arrow-events-sweep-") as tmp:
            out = Path(tmp) / "sweep"
            args = [sys.executable, "-m", "arrow_events", "sweep", "--seeds", f"1-{seeds}", "--years", years,
                    "--out", str(out), "--executor", executor, "--workers", str(workers), "--threads", str(threads)]
            t0 = time.perf_counter()
            proc = subprocess.run(args, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{name}: sweep failed:\n{proc.stderr[-2000:]}")
            table = pq.read_table(out / "distribution.parquet")
        reference = reference or table
        runs = [float(m.group(1)) for m in map(_RUN_LINE.search, proc.stderr.splitlines()) if m]
        results.append({"variant": name, "executor": executor, "workers": workers, "threads": threads,
                        "seeds": seeds, "years": years, "wall_s": wall, "run_median_s": statistics.median(runs),
                        "same_distribution": table.equals(reference)})
    base = results[0]["wall_s"]
    for r in results:
        r["speedup"] = base / r["wall_s"]
    return results


def markdown(doc: dict) -> str:
    m, results = doc["machine"], doc["results"]
    lines = [
        f"Sweep: {results[0]['seeds']} seeds x the built-in 5,000-employee census, years {results[0]['years']}; "
        "one `arrow-events sweep` process each, wall time from start to exit.",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        "| variant | workers | threads a run | wall time | per run (median, as it ran) | speed-up "
        "| same distribution |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['variant']} | {r['workers']} | {r['threads']} | {r['wall_s']:.1f} s | {r['run_median_s']:.2f} s "
              f"| {r['speedup']:.2f}x | {r['same_distribution']} |" for r in results]
    return "\n".join(lines) + "\n"
