"""Time ``arrow-events sweep`` against the targets of issue 18 ("paths as data").

Every point is one fresh command (``python -m arrow_events ...``) into a new directory, timed wall-clock from
start to exit (imports, worker processes' or Ray's start-up and the fan chart included, as a user waits for it):

- the sweep of 1,000 seeds x 2025-2034 of the built-in 5,000-employee census: target <= 180 s;
- the sweep of 100 seeds x the same years, against one lone ``arrow-events run`` of the same census and years
  (the median of ``repeats`` processes), in the same invocation: target sweep / lone run <= 8x;
- the executors compared (one run at a time, local worker processes, Ray tasks) over fewer seeds and years: every
  variant must write the same distribution.parquet, since the runs are deterministic whatever executes them.

Paths per second: the runs the sweep made (seeds x scenarios) over its wall time. Peak RSS: the largest single
process of the command's tree (its ``ru_maxrss`` from ``wait4``, exact), and the tree's sum (the VmRSS of the
command and its descendants, sampled every half second, so a lower bound).
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from perf.ray_series import _descendants, _status_kb

WALL_TARGET_S = 180.0  # the 1,000-seed sweep, whole process
RATIO_TARGET = 8.0  # the 100-seed sweep over one lone run


@dataclass(frozen=True)
class Sizes:
    paths: int  # seeds of the headline sweep
    ratio_seeds: int  # seeds of the sweep set against one lone run
    years: str
    variant_seeds: int
    variant_years: str


FULL = Sizes(paths=1000, ratio_seeds=100, years="2025-2034", variant_seeds=20, variant_years="2025-2029")
QUICK = Sizes(paths=8, ratio_seeds=3, years="2025-2026", variant_seeds=3, variant_years="2025")

# (name, executor, workers, DataFusion threads per run)
VARIANTS = [
    ("sequential", "local", 1, 1),
    ("sequential, 2 threads a run", "local", 1, 2),
    ("local processes", "local", 2, 1),
    ("Ray tasks", "ray", 2, 1),
]
CLI = [sys.executable, "-m", "arrow_events"]
_RUN_LINE = re.compile(r"\] seed=\d+ \S+: \d+ years? in ([\d.]+) s$")
_RUNS = re.compile(r"^sweep: (\d+) run\(s\)", re.M)  # the sweep's first line on stderr
_SAMPLE_S = 0.5


@dataclass
class Timed:
    wall_s: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float  # the largest process of the tree (ru_maxrss of the command and its reaped descendants)
    tree_rss_mb: float  # the tree's summed VmRSS at its sampled peak


def timed(args: list[str], cwd: Path) -> Timed:
    """Run ``args`` to its end: wall time, output, and peak RSS of its process tree."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, cwd=cwd)
        done, peak_sum = threading.Event(), [0]

        def sample() -> None:
            while not done.wait(_SAMPLE_S):
                peak_sum[0] = max(peak_sum[0], _tree_rss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # the child's rusage, with that of the children it waited for
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        return Timed(wall, proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024, peak_sum[0] / 1024)


def _tree_rss_kb(root: int) -> int:
    total = 0
    for pid in [root, *_descendants(root)]:
        try:
            total += _status_kb(pid, "VmRSS")
        except OSError:  # ended meanwhile
            pass
    return total


def sweep_command(seeds: int, years: str, batch_paths: int | None = None, *, executor: str | None = None,
                  workers: int | None = None, threads: int | None = None) -> list[str]:
    """``sweep --seeds 1-N --years Y --out DIR`` and the options given (the command's defaults otherwise)."""
    args = ["sweep", "--seeds", f"1-{seeds}", "--years", years, "--out", "DIR"]
    for flag, value in (("--executor", executor), ("--workers", workers), ("--threads", threads),
                        ("--batch-paths", batch_paths)):
        if value is not None:
            args += [flag, str(value)]
    return args


def run_command(years: str) -> list[str]:
    return ["run", "--years", years, "--out", "DIR"]


def measure(name: str, command: list[str], say: Callable[[str], None]) -> tuple[dict, object]:
    """One command (``DIR`` its output directory) timed: a row, and the sweep's distribution (None for a run)."""
    say(f"sweep: {name}: arrow-events {' '.join(command)} ...")
    with tempfile.TemporaryDirectory(prefix="arrow-events-sweep-") as tmp:
        out = Path(tmp) / "out"
        t = timed([*CLI, *[str(out) if a == "DIR" else a for a in command]], Path(tmp))
        if t.returncode != 0:
            raise RuntimeError(f"{name}: arrow-events {command[0]} failed:\n{t.stderr[-2000:]}")
        distribution = pq.read_table(out / "distribution.parquet") if command[0] == "sweep" else None
    seeds = int(command[command.index("--seeds") + 1].split("-")[1]) if command[0] == "sweep" else 1
    found = _RUNS.search(t.stderr)
    paths = int(found.group(1)) if found else seeds
    runs = [float(m.group(1)) for m in map(_RUN_LINE.search, t.stderr.splitlines()) if m]
    row = {"variant": name, "command": "arrow-events " + " ".join(command), "seeds": seeds,
           "scenarios": paths // seeds, "paths": paths, "years": command[command.index("--years") + 1],
           "wall_s": t.wall_s, "paths_per_s": paths / t.wall_s, "peak_rss_mb": round(t.peak_rss_mb, 1),
           "tree_rss_mb": round(t.tree_rss_mb, 1), "run_median_s": statistics.median(runs) if runs else None}
    say(f"sweep: {name}: {t.wall_s:.1f} s, {paths / t.wall_s:.2f} paths/s, peak RSS {t.peak_rss_mb:.0f} MB "
        f"(tree {t.tree_rss_mb:.0f} MB)")
    return row, distribution


def measure_targets(sizes: Sizes, repeats: int, batch_paths: int | None, say: Callable[[str], None],
                    quick: bool) -> list[dict]:
    """The headline sweep, the smaller sweep and the lone run (median of ``repeats``); ratios and targets."""
    ratio_sweep, _ = measure(f"sweep, {sizes.ratio_seeds} seeds", sweep_command(sizes.ratio_seeds, sizes.years,
                                                                                batch_paths), say)
    lones = [measure(f"lone run ({i + 1}/{repeats})", run_command(sizes.years), say)[0] for i in range(repeats)]
    wall = statistics.median(r["wall_s"] for r in lones)
    lone = {**lones[0], "variant": "lone run", "wall_s": wall, "paths_per_s": 1 / wall, "repeats": repeats,
            "walls_s": [r["wall_s"] for r in lones], "peak_rss_mb": max(r["peak_rss_mb"] for r in lones),
            "tree_rss_mb": max(r["tree_rss_mb"] for r in lones)}
    headline, _ = measure(f"sweep, {sizes.paths} seeds", sweep_command(sizes.paths, sizes.years, batch_paths), say)
    rows = [headline, ratio_sweep, lone]
    for r in rows:
        r["ratio_to_lone"] = r["wall_s"] / lone["wall_s"]
        r["target"] = r["met"] = None
    headline["target"] = f"wall <= {WALL_TARGET_S:.0f} s at {FULL.paths} seeds x {FULL.years}"
    ratio_sweep["target"] = f"<= {RATIO_TARGET:.0f}x the lone run at {FULL.ratio_seeds} seeds x {FULL.years}"
    if not quick:  # the targets are for the full sizes
        headline["met"] = headline["wall_s"] <= WALL_TARGET_S
        ratio_sweep["met"] = ratio_sweep["ratio_to_lone"] <= RATIO_TARGET
    return rows


def measure_variants(sizes: Sizes, batch_paths: int | None, say: Callable[[str], None]) -> list[dict]:
    """Each executor over the same seeds and years; Ray's skipped if it is missing. Speed-ups against the first."""
    rows, reference = [], None
    for name, executor, workers, threads in VARIANTS:
        if executor == "ray" and importlib.util.find_spec("ray") is None:
            say(f"sweep: {name}: skipped (Ray is not installed)")
            continue
        command = sweep_command(sizes.variant_seeds, sizes.variant_years, batch_paths, executor=executor,
                                workers=workers, threads=threads)
        row, table = measure(name, command, say)
        reference = reference if reference is not None else table
        row.update(executor=executor, workers=workers, threads=threads, same_distribution=table.equals(reference),
                   ratio_to_lone=None, target=None, met=None)
        rows.append(row)
    for r in rows:
        r["speedup"] = rows[0]["wall_s"] / r["wall_s"]
    return rows


def has_batch_paths() -> bool:
    """Whether this arrow-events' sweep takes --batch-paths (issue 18 adds it)."""
    usage = subprocess.run([*CLI, "sweep", "--help"], capture_output=True, text=True, check=True).stdout
    return "--batch-paths" in usage


def markdown(doc: dict) -> str:
    m, rows = doc["machine"], doc["targets"] + doc["variants"]
    quick = " (--quick: smaller than the targets' sizes, which are not judged)" if doc["quick"] else ""
    batch = f"; --batch-paths {doc['batch_paths']}" if doc["batch_paths"] else ""
    lines = [
        f"Sweep{quick}: `arrow-events sweep` of the built-in 5,000-employee census against one lone "
        f"`arrow-events run` (median of {doc['repeats']}){batch}; one process each, wall time from start to exit. "
        "Peak RSS: the largest process, and the process tree's sum (sampled).",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        "| variant | seeds | years | wall s | paths/s | peak RSS (largest, tree) | ratio to lone run | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['ratio_to_lone']:.1f}x" if r["ratio_to_lone"] is not None else ""
        met = "" if r["target"] is None else "n/a" if r["met"] is None else "yes" if r["met"] else "no"
        lines.append(f"| {r['variant']} | {r['seeds']} | {r['years']} | {r['wall_s']:.1f} | {r['paths_per_s']:.2f} "
                     f"| {r['peak_rss_mb']:.0f} MB, {r['tree_rss_mb']:.0f} MB | {ratio} | {r['target'] or ''} "
                     f"| {met} |")
    if doc["variants"]:
        v = doc["variants"]
        same = "yes" if all(r["same_distribution"] for r in v) else "NO"
        lines += ["", f"Executors ({v[0]['seeds']} seeds x {v[0]['years']}): speed-up against sequential: "
                  + ", ".join(f"{r['variant']} {r['speedup']:.2f}x" for r in v[1:])
                  + f"; the same distribution.parquet from all: {same}."]
    lines += ["", "Commands (DIR a new directory each):", ""]
    lines += [f"- {r['variant']}: `{r['command']}`" for r in rows]
    return "\n".join(lines) + "\n"
