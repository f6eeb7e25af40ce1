"""What a DataFusion setting buys a year: the engine with and without it, side by side, one process each.

    python -m perf.settings [--employees 500,5000] [--repeats 5]

Each variant changes the engine's contexts (arrow_events.engine.context.new_context) by SQL
``SET`` statements, or its partitions (``partitions=threads``: as many as --threads, whatever
the shard's size, as before the engine capped them at the shard's batches). The variants
alternate, one process per repeat, so that drift in the machine's load hits them alike; each
process times a year of generation (in memory) three times and keeps the fastest. The
events, snapshot and contributions of every variant must hold the same values: a setting that
changes them is reported, not kept. Results: perf/results/settings.md and .json (or --out).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import click

from perf.__main__ import RESULTS, machine

VARIANTS: dict[str, dict[str, str]] = {
    "engine as shipped": {},
    "optimizer: 3 passes (DataFusion's default)": {"datafusion.optimizer.max_passes": "3"},
    "partitions: --threads whatever the shard's size": {"partitions": "threads"},
    "no repartitioned joins and aggregates": {"datafusion.optimizer.repartition_joins": "false",
                                              "datafusion.optimizer.repartition_aggregations": "false"},
}

CHILD = """
import hashlib, json, sys, time
import arrow_events.engine.context as context
import arrow_events.engine.year as year
from arrow_events import load_config, read_census, synthetic_census
from arrow_events.engine.state import from_census
from arrow_events.options import RunOptions

settings, n = json.loads(sys.argv[1]), int(sys.argv[2])
partitions = settings.pop("partitions", None)
plain = context.new_context

def new_context(threads=2, memory_limit=None, batch_size=context.BATCH_SIZE, draws=None):
    ctx = plain(2 if partitions == "threads" else threads, memory_limit, batch_size, draws)
    for key, value in settings.items():
        ctx.sql(f"SET {key} = {value}")
    return ctx

year.new_context = new_context
cfg = load_config(None)
state = from_census(read_census(synthetic_census(n, 7, 2025), 2025).table, cfg)
options = RunOptions(tune_memory=True, contributions=True)
times = []
for _ in range(3):
    t0 = time.perf_counter()
    result = year.run_year(cfg, 2025, state, options)
    times.append(time.perf_counter() - t0)
digest = hashlib.sha256()
for table in (result.events, result.snapshot, result.contributions):  # the values, however they are chunked
    digest.update(repr(table.to_pydict()).encode())
print(json.dumps({"year_s": min(times), "digest": digest.hexdigest()}))
"""


def one(variant: dict[str, str], employees: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(variant), str(employees)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@click.command()
@click.option("--employees", default="500,5000", show_default=True, help="Census sizes, comma-separated.")
@click.option("--repeats", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(employees: str, repeats: int, out: Path) -> None:
    """Each variant's year of generation, median over processes, against the engine as shipped."""
    rows = []
    for n in [int(e) for e in employees.split(",") if e]:
        runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        for i in range(repeats):
            for name, variant in VARIANTS.items():
                click.echo(f"{n:,} employees, {name} ({i + 1}/{repeats}) ...", err=True)
                runs[name].append(one(variant, n))
        shipped = statistics.median(r["year_s"] for r in runs["engine as shipped"])
        shipped_rows = {r["digest"] for r in runs["engine as shipped"]}
        for name, rs in runs.items():
            median = statistics.median(r["year_s"] for r in rs)
            rows.append({"employees": n, "variant": name, "year_median_s": round(median, 4),
                         "vs_shipped": round(median / shipped, 3),
                         "same_rows": len(shipped_rows) == 1 and {r["digest"] for r in rs} == shipped_rows})
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps({"machine": machine(), "repeats": repeats, "results": rows},
                                                  indent=2) + "\n")
    lines = ["| employees | variant | year (median s) | vs shipped | same rows as shipped |", "|---|---|---|---|---|"]
    lines += [f"| {r['employees']:,} | {r['variant']} | {r['year_median_s']:.4f} | {r['vs_shipped']:.2f}x | "
              f"{'yes' if r['same_rows'] else 'NO'} |" for r in rows]
    (out / "settings.md").write_text(f"A year of generation (fused, contributions on, 2 threads asked), the fastest "
                                     f"of 3 in a process, median of {repeats} processes per variant, alternating.\n\n"
                                     + "\n".join(lines) + "\n")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
