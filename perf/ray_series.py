"""One 5M-employee year on a local Ray of 2 workers against one process (``python -m perf --series ray``).

Each point runs in a process of its own (internal: ``python -m perf.ray_series '<spec>'``), reading
the same census file: the local executor (everything in that process), then the ray executor on a
Ray the process starts with 2 CPUs, its tasks with 1 or 2 DataFusion partitions each. Measured: the
year's wall time (``run`` of the year, the census already read, Ray's start-up apart), and the peak
RSS (VmHWM) and CPU seconds of the driver and of each Ray worker, read from /proc before Ray shuts
down. Ray's object store is shared memory: the pages of a shard's tables count in the RSS of the
worker that wrote them and of the driver that read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMPLOYEES = 5_000_000
WORKERS = 2
# (executor, DataFusion partitions per process or per task)
POINTS = [("local", 2), ("ray", 1), ("ray", 2)]
# Ray's own processes (not workers: they run no task), by the title Ray gives them
_RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
_TICKS = os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int | str, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int | str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _descendants(root: int) -> list[int]:
    """Every process under ``root`` (Ray's raylet, GCS, agents and workers, for a Ray started there)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # gone meanwhile
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def ray_processes() -> tuple[list[dict], dict]:
    """Each Ray worker's peak RSS and CPU seconds, and the same summed over Ray's other processes."""
    workers, system = [], {"processes": 0, "peak_rss_mb": 0.0, "cpu_s": 0.0}
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            peak, cpu = _status_kb(pid, "VmHWM") / 1024, _cpu_s(pid)
        except OSError:
            continue
        if title.startswith("ray::") and not title.startswith(_RAY_AGENTS):
            workers.append({"pid": pid, "title": title, "peak_rss_mb": round(peak, 1), "cpu_s": round(cpu, 2)})
        else:
            system["processes"] += 1
            system["peak_rss_mb"] = round(system["peak_rss_mb"] + peak, 1)
            system["cpu_s"] = round(system["cpu_s"] + cpu, 2)
    return workers, system


def measure(spec: dict) -> dict:
    """One year of ``spec["census"]`` by ``spec["executor"]``, in this process."""
    from arrow_events import RunOptions, load_config, read_census, run
    from arrow_events.execute.ray_tasks import ray_session
    from perf.child import events_digest

    cfg = load_config(None)
    census = read_census(spec["census"], cfg.scenario.start_year)
    options = RunOptions(threads=spec["threads"], executor=spec["executor"], tune_memory=True)
    t0 = time.perf_counter()
    on_ray = spec["executor"] == "ray"
    with ray_session(num_cpus=spec["workers"]) if on_ray else nullcontext():
        started = time.perf_counter() - t0
        with tempfile.TemporaryDirectory(prefix="arrow-events-ray-perf-") as tmp:
            t1 = time.perf_counter()
            report = run(cfg, Path(tmp) / "wh", [cfg.scenario.start_year], census, options=options)
            total = time.perf_counter() - t1
            digest = events_digest(Path(tmp) / "wh")
        workers, system = ray_processes() if on_ray else ([], None)
    year = report.years[0]
    return {**spec, "ray_start_s": round(started, 2) if on_ray else None, "total_s": total,
            "generate_s": year.generate_s, "write_s": year.write_s, "shards": year.shards,
            "employees": year.headcount_start, "events": year.events,
            "events_sha256": digest, "driver_peak_rss_mb": _status_kb("self", "VmHWM") / 1024,
            "driver_cpu_s": round(_cpu_s("self"), 2), "workers": workers, "ray_system": system}


def run_ray_series(census: Path, echo: Callable[[str], None]) -> list[dict]:
    results = []
    for executor, threads in POINTS:
        name = "one process" if executor == "local" else f"Ray, {WORKERS} workers"
        echo(f"ray: {name}, {threads} partition(s) ...")
        spec = {"census": str(census), "executor": executor, "threads": threads, "workers": WORKERS,
                "workload": name}
        proc = subprocess.run([sys.executable, "-m", "perf.ray_series", json.dumps(spec)], capture_output=True,
                              text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"{spec} failed:\n{proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def write_census(path: Path, employees: int) -> None:
    from arrow_events import synthetic_census
    from arrow_events.census.synthetic import write_census as write

    write(synthetic_census(employees, 42, 2025), path)


def markdown(doc: dict) -> str:
    m = doc["machine"]
    rows = doc["results"]
    lines = [
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"One year of {doc['employees']:,} employees in {rows[0]['shards']} shard(s) (the default 250,000 members "
        "each), one run per point. Year: arrow_events.run of the year, census already read, Ray's start-up apart "
        "(a local Ray of 2 CPUs; a task per CPU). Peak RSS: VmHWM. "
        "Ray's object store is shared memory, counted in the RSS of each process that touched a page.",
        "",
        "| executor | partitions | Ray start | year (gen + write) | driver peak RSS | driver CPU "
        "| workers: peak RSS, CPU | Ray's other processes: RSS sum, CPU | same events |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    first = rows[0]["events_sha256"]
    for r in rows:
        workers = "; ".join(f"{w['peak_rss_mb']:.0f} MB, {w['cpu_s']:.1f} s" for w in r["workers"]) or "-"
        system = r["ray_system"]
        other = f"{system['peak_rss_mb']:.0f} MB, {system['cpu_s']:.1f} s" if system else "-"
        start = f"{r['ray_start_s']:.1f} s" if r["ray_start_s"] is not None else "-"
        lines.append(f"| {r['workload']} | {r['threads']} | {start} "
                     f"| {r['total_s']:.1f} s ({r['generate_s']:.1f} + {r['write_s']:.1f}) "
                     f"| {r['driver_peak_rss_mb']:.0f} MB | {r['driver_cpu_s']:.1f} s | {workers} | {other} "
                     f"| {r['events_sha256'] == first} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
