"""Time ``arrow-events report`` on a warehouse of N employees x Y years (written first, not timed)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from arrow_events.warehouse.writer import existing_years


def measure_report(employees: int, years: int, repeats: int, say: Callable[[str], None]) -> dict:
    with tempfile.TemporaryDirectory(prefix="arrow-events-report-") as tmp:
        census, out = Path(tmp) / "census.parquet", Path(tmp) / "wh"
        cli = [sys.executable, "-m", "arrow_events"]
        say(f"report: writing {employees:,} employees x {years} year(s) ...")
        subprocess.run([*cli, "census", "--employees", str(employees), "--out", str(census)], check=True,
                       capture_output=True)
        subprocess.run([*cli, "run", "--census", str(census), "--years", f"2025-{2024 + years}", "--out", str(out)],
                       check=True, capture_output=True)
        rows = sum(_rows(out, table) for table in ("snapshot", "contributions"))
        times, queries = [], []
        for _ in range(repeats):  # each a fresh process, as a user runs it
            t0 = time.perf_counter()
            subprocess.run([*cli, "report", str(out)], check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
            queries.append(float(subprocess.run([sys.executable, "-c", _QUERY_ONLY, str(out)], check=True,
                                                capture_output=True, text=True).stdout))
    return {"employees": employees, "years": years, "rows": rows, "median_s": statistics.median(times),
            "min_s": min(times), "max_s": max(times), "runs_s": times, "query_median_s": statistics.median(queries)}


# the metrics alone, once the modules are loaded (the command's rest is Python starting and importing)
_QUERY_ONLY = """
import sys, time
from arrow_events.warehouse.report import yearly_metrics
t0 = time.perf_counter()
yearly_metrics(sys.argv[1])
print(time.perf_counter() - t0)
"""


def _rows(out: Path, table: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(out / table / f"simulation_year={y}" / "part-0.parquet").metadata.num_rows
               for y in existing_years(out, table))
