"""Flight round trip against the in-process call, side by side (``python -m perf --series flight``).

Per workload, each repeat times, from a census already in memory to the last event batch read:

- in-process: ``arrow_events.simulate(census, years=...)``, every year's events read batch by batch;
- in-process ``arrow_events.run``: the same years written to a warehouse, as the server writes its runs;
- Flight: ``do_put`` of the census to ``arrow-events serve`` on 127.0.0.1, then ``do_get`` of every
  year's events, read batch by batch (the server writes the run's warehouse, as it always does).

Each side runs in its own process (internal: ``python -m perf.flight inprocess|run|client '<spec>'``);
the server is started once per workload and stopped with SIGTERM after it.
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]


def _census(spec: dict) -> pa.Table:  # imports kept out of the driver process
    from arrow_events import synthetic_census

    return synthetic_census(spec["employees"], 42, 2025)


def measure_inprocess(spec: dict) -> dict:
    import arrow_events

    census = _census(spec)
    times, rows = [], 0
    for _ in range(spec["warmup"] + spec["repeats"]):
        t0 = time.perf_counter()
        rows = 0
        for year in arrow_events.simulate(census, years=spec["years"]):
            for batch in year.events:
                rows += batch.num_rows
        times.append(time.perf_counter() - t0)
    return {"times_s": times[spec["warmup"]:], "events": rows}


def measure_run(spec: dict) -> dict:
    """``arrow_events.run`` into a fresh warehouse: generation plus the Parquet write the server also does."""
    import arrow_events

    census = _census(spec)
    times = []
    first, last = (int(y) for y in spec["years"].split("-"))
    for _ in range(spec["warmup"] + spec["repeats"]):
        with tempfile.TemporaryDirectory(prefix="arrow-events-flight-perf-") as tmp:
            t0 = time.perf_counter()
            report = arrow_events.run(arrow_events.load_config(None), Path(tmp) / "wh", list(range(first, last + 1)),
                                      census=census)
            times.append(time.perf_counter() - t0)
    return {"times_s": times[spec["warmup"]:], "events": sum(y.events for y in report.years)}


def measure_client(spec: dict) -> dict:
    import pyarrow.flight as fl

    census = _census(spec)
    client = fl.connect(spec["location"])
    client.wait_for_available()
    time.sleep(3)  # a server that has been up a few seconds: its spare worker has done its imports
    first, last = (int(y) for y in spec["years"].split("-"))
    times, rows = [], 0
    for _ in range(spec["warmup"] + spec["repeats"]):
        t0 = time.perf_counter()
        writer, reader = client.do_put(fl.FlightDescriptor.for_command(
            json.dumps({"simulate": {"years": spec["years"]}})), census.schema)
        writer.write_table(census)
        writer.done_writing()
        run = json.loads(reader.read().to_pybytes())["run"]
        writer.close()
        rows = 0
        for year in range(first, last + 1):
            stream = client.do_get(fl.Ticket(json.dumps({"run": run, "table": "events", "year": year})))
            for chunk in stream:
                rows += chunk.data.num_rows
        times.append(time.perf_counter() - t0)
        client.do_action(fl.Action("drop", json.dumps({"run": run}).encode()))  # keep the disk tidy
        time.sleep(3)  # the server idle between requests, as a service is: its next spare worker gets ready
    return {"times_s": times[spec["warmup"]:], "events": rows}


def _child(mode: str, spec: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "perf.flight", mode, json.dumps(spec)], capture_output=True,
                          text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_flight_series(workloads: dict[str, dict], repeats: int, warmup: int,
                      echo: Callable[[str], None]) -> list[dict]:
    """Medians of both sides per workload, and Flight's overhead over in-process."""
    results = []
    for name, w in workloads.items():
        years = f"2025-{2025 + w['years'] - 1}"
        spec = {"employees": w["employees"], "years": years, "repeats": repeats,
                "warmup": warmup if w["employees"] < 500_000 else 0}
        echo(f"flight: {name} in-process ...")
        inproc = _child("inprocess", spec)
        echo(f"flight: {name} in-process run() ...")
        written = _child("run", spec)
        with tempfile.TemporaryDirectory(prefix="arrow-events-flight-perf-") as tmp:
            server = subprocess.Popen([sys.executable, "-m", "arrow_events", "serve", "--port", "0", "--data-dir",
                                       str(Path(tmp) / "runs")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
            try:
                location = re.search(r"grpc://\S+:\d+", server.stdout.readline()).group(0)
                echo(f"flight: {name} over Flight ({location}) ...")
                flight = _child("client", {**spec, "location": location})
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(60)
        a, b = statistics.median(inproc["times_s"]), statistics.median(flight["times_s"])
        c = statistics.median(written["times_s"])
        results.append({"workload": name, "employees": w["employees"], "years": w["years"],
                        "events": inproc["events"],
                        "same_event_count": inproc["events"] == flight["events"] == written["events"],
                        "inprocess_s": inproc["times_s"], "run_s": written["times_s"], "flight_s": flight["times_s"],
                        "inprocess_median_s": a, "run_median_s": c, "flight_median_s": b,
                        "overhead": b / a - 1, "overhead_vs_run": b / c - 1})
    return results


def markdown(doc: dict) -> str:
    m = doc["machine"]
    lines = [
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"Repeats: {doc['repeats']} (W1 after {doc['warmup']} warm-up), medians [min-max]; census in memory to the "
        "last event batch read; the server idle 3 s between runs.",
        "",
        "| workload | events | in-process simulate() (no write) | in-process run() (gen + Parquet write) "
        "| Flight do_put + do_get (server writes) | Flight vs simulate() | Flight vs run() |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        a, b, c = r["inprocess_s"], r["flight_s"], r["run_s"]
        lines.append(f"| {r['workload']} ({r['employees']:,} x {r['years']}) | {r['events']:,} "
                     f"| {r['inprocess_median_s']:.3f} s [{min(a):.3f}-{max(a):.3f}] "
                     f"| {r['run_median_s']:.3f} s [{min(c):.3f}-{max(c):.3f}] "
                     f"| {r['flight_median_s']:.3f} s [{min(b):.3f}-{max(b):.3f}] "
                     f"| {r['overhead'] * 100:+.0f}% | {r['overhead_vs_run'] * 100:+.0f}% |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    mode, raw = sys.argv[1], json.loads(sys.argv[2])
    measure = {"inprocess": measure_inprocess, "run": measure_run, "client": measure_client}[mode]
    print(json.dumps(measure(raw)))
