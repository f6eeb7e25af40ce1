"""The fixed cost of a year: a small census's years planned once a run, against planned afresh each year.

    python -m perf.fixed [--employees 500,5000] [--years 6] [--repeats 6]

On a small census most of a year is DataFusion planning its statements. A run keeps one context and
plans each statement once (arrow_events.engine.session); planned afresh, every year plans all of
them again. Each repeat simulates --years years from the built-in-style synthetic census both ways,
one after the other in this process (so that drift in the machine's load hits both alike), and
times every year but the first (a run's first year plans everything either way). Reported: the
median year, wall and CPU (the process's, all threads), and whether both ways gave the same
events and snapshots. Results: perf/results/fixed.md and .json (or --out).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import click

from perf.__main__ import RESULTS, machine

WAYS = ("planned afresh each year", "planned once a run")


def years_of(employees: int, years: int, once: bool) -> tuple[list[tuple[float, float]], list]:
    """Each year's (wall, CPU) seconds and tables, simulated from a synthetic census of ``employees``."""
    from arrow_events import load_config, read_census, synthetic_census
    from arrow_events.engine.state import from_census
    from arrow_events.engine.year import Session, run_years
    from arrow_events.options import RunOptions

    cfg, options = load_config(None), RunOptions()
    state = from_census(read_census(synthetic_census(employees, 42, 2025), 2025), cfg)
    session = Session.of(options) if once else None
    times, tables = [], []
    # each year timed from the cohort it starts from to its tables
    wall, cpu = time.perf_counter(), time.process_time()
    for year_tables in run_years(cfg, range(2025, 2025 + years), state, options, session=session):
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
        tables.append((year_tables.events, year_tables.snapshot))
        wall, cpu = time.perf_counter(), time.process_time()
    return times, tables


@click.command()
@click.option("--employees", default="500,5000", show_default=True, help="Census sizes, comma-separated.")
@click.option("--years", type=click.IntRange(2, 20), default=6, show_default=True, help="Years a run.")
@click.option("--repeats", type=click.IntRange(1, 50), default=6, show_default=True, help="Runs each way.")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(employees: str, years: int, repeats: int, out: Path) -> None:
    """A year's wall and CPU time, planned afresh and planned once, side by side."""
    rows = []
    for n in [int(e) for e in employees.split(",") if e]:
        times: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
        same = True
        for i in range(repeats):
            runs = {}
            for way in WAYS:
                click.echo(f"{n:,} employees, {way} ({i + 1}/{repeats}) ...", err=True)
                t, runs[way] = years_of(n, years, once=way == WAYS[1])
                times[way] += t[1:]
            same &= all(a[0].equals(b[0]) and a[1].equals(b[1]) for a, b in zip(*runs.values(), strict=True))
        afresh = statistics.median(w for w, _ in times[WAYS[0]])
        for way, t in times.items():
            wall = statistics.median(w for w, _ in t)
            rows.append({"employees": n, "way": way, "years_timed": len(t), "year_wall_ms": round(wall * 1000, 1),
                         "year_cpu_ms": round(statistics.median(c for _, c in t) * 1000, 1),
                         "vs_afresh": round(wall / afresh, 3), "same_tables": same})
    out.mkdir(parents=True, exist_ok=True)
    (out / "fixed.json").write_text(json.dumps({"machine": machine(), "years": years, "repeats": repeats,
                                                "results": rows}, indent=2) + "\n")
    lines = ["| employees | way | years timed | year, wall (median ms) | year, CPU (median ms) | vs afresh "
             "| same tables |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['employees']:,} | {r['way']} | {r['years_timed']} | {r['year_wall_ms']} | {r['year_cpu_ms']} | "
              f"{r['vs_afresh']:.2f}x | {'yes' if r['same_tables'] else 'NO'} |" for r in rows]
    head = (f"A year of generation (fused, contributions on, 2 threads), years 2-{years} of {repeats} runs each "
            "way, alternating, in one process.")
    (out / "fixed.md").write_text(head + "\n\n" + "\n".join(lines) + "\n")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
