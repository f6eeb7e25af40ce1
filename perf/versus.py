"""This build against another, side by side in one run: whole `arrow-events run` processes, alternating.

    python -m perf.versus OTHER_ARROW_EVENTS [--employees 500,5000] [--years 2025-2029] [--repeats 5]

OTHER_ARROW_EVENTS is another build's `arrow-events` executable (e.g. a virtualenv with an older
commit installed). Each repeat runs both builds on the same census, one after the other, so that
drift in the machine's load hits both alike; the medians and their ratio go to
perf/results/versus.md and .json (or --out). Each run's events and snapshot files are compared
too: a speed-up that changes a byte is not one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import click

from perf.__main__ import RESULTS, machine

THIS = shutil.which("arrow-events") or "arrow-events"


def timed_run(exe: str, census: Path, years: str, out: Path) -> float:
    """Seconds of one whole `arrow-events run` process (start-up, generation, writing)."""
    t0 = time.perf_counter()
    subprocess.run([exe, "run", "--census", str(census), "--years", years, "--out", str(out)], check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def generate_s(warehouse: Path) -> float:
    """The run's generation seconds (every year's, from its manifest): start-up and writing left out."""
    return sum(json.loads(p.read_text())["timings_s"]["generate"] for p in (warehouse / "manifests").glob("*.json"))


def data_digest(warehouse: Path) -> str:
    """sha256 over the warehouse's Parquet files, by path: what both builds must agree on."""
    h = hashlib.sha256()
    for path in sorted(warehouse.rglob("*.parquet")):
        h.update(str(path.relative_to(warehouse)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@click.command()
@click.argument("other")
@click.option("--employees", default="500,5000", show_default=True, help="Census sizes, comma-separated.")
@click.option("--years", default="2025-2029", show_default=True)
@click.option("--repeats", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(other: str, employees: str, years: str, repeats: int, out: Path) -> None:
    """Whole-process time of this build's `arrow-events run` against OTHER's, alternating."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="arrow-events-versus-") as tmp:
        for n in [int(e) for e in employees.split(",") if e]:
            census = Path(tmp) / f"census_{n}.parquet"
            subprocess.run([THIS, "census", "--employees", str(n), "--seed", "7", "--out", str(census)], check=True,
                           capture_output=True)
            times: dict[str, list[float]] = {"this": [], "other": []}
            generation: dict[str, list[float]] = {"this": [], "other": []}
            digests = set()
            for i in range(repeats):
                for name, exe in (("other", other), ("this", THIS)):
                    wh = Path(tmp) / f"wh_{name}_{n}_{i}"
                    times[name].append(timed_run(exe, census, years, wh))
                    generation[name].append(generate_s(wh))
                    digests.add(data_digest(wh))
                    shutil.rmtree(wh)
            this, before = statistics.median(times["this"]), statistics.median(times["other"])
            gen_this, gen_before = statistics.median(generation["this"]), statistics.median(generation["other"])
            rows.append({"employees": n, "years": years, "this_median_s": round(this, 3),
                         "other_median_s": round(before, 3), "speedup": round(before / this, 3),
                         "this_generate_s": round(gen_this, 3), "other_generate_s": round(gen_before, 3),
                         "generate_speedup": round(gen_before / gen_this, 3),
                         "same_bytes": len(digests) == 1, "this_s": times["this"], "other_s": times["other"]})
            click.echo(f"{n:,} employees x {years}: this {this:.3f} s, other {before:.3f} s "
                       f"({before / this:.2f}x); generation {gen_this:.3f} vs {gen_before:.3f} s "
                       f"({gen_before / gen_this:.2f}x); same bytes: {len(digests) == 1}", err=True)
    doc = {"machine": machine(), "other": other, "repeats": repeats, "results": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "versus.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["| employees | years | whole run: this / other (median s) | speed-up | generation: this / other "
             "(median s, all years) | speed-up | same bytes |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['employees']:,} | {r['years']} | {r['this_median_s']:.3f} / {r['other_median_s']:.3f} | "
              f"{r['speedup']:.2f}x | {r['this_generate_s']:.3f} / {r['other_generate_s']:.3f} | "
              f"{r['generate_speedup']:.2f}x | {'yes' if r['same_bytes'] else 'NO'} |" for r in rows]
    (out / "versus.md").write_text(f"Whole `arrow-events run` processes against {other}, alternating, "
                                   f"{repeats} repeats each.\n\n" + "\n".join(lines) + "\n")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
