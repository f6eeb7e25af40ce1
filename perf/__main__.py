"""Benchmark the engines across workloads and thread counts, side by side in one run.

    python -m perf                  # W1 and W2; fused, legacy and DuckDB; threads 1,2; 5 repeats
    python -m perf --quick          # seconds: a smoke test of the harness itself
    python -m perf --employees 200000 --threads 2 --engines fused
    python -m perf --series scaling # 5k ... 5M employees x 1 year: time and peak RSS, one process each
    python -m perf --series shards  # 1M employees in 1, 2, 4, 8, 16 shards
    python -m perf --series flight --repeats 3  # W1 and W2 over Arrow Flight against the in-process call
    python -m perf --series contributions  # W1 and W2 with and without the contributions table
    python -m perf --series report  # arrow-events report on 1M-employee warehouses of 1 and 5 years
    python -m perf --series ray     # a 5M-employee year on a local Ray of 2 workers against one process
    python -m perf --series ray --census census_5m.parquet   # that census file instead of generating one
    python -m perf --series sweep   # issue 18: sweeps of 1000 and 100 seeds x 10 years against a lone run;
                                    # then 20 seeds x W1 one at a time, in 2 local processes, as Ray tasks
    python -m perf --series sweep --quick --no-variants   # 8 and 3 seeds x 2 years, in under a minute
    python -m perf --series sweep --batch-paths 100       # passed to every arrow-events sweep
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = {"W1": {"employees": 5_000, "years": 5}, "W2": {"employees": 1_000_000, "years": 1}}
QUICK = {"W1": {"employees": 2_000, "years": 3}, "W2": {"employees": 10_000, "years": 1}}
SCALING = [5_000, 50_000, 500_000, 1_000_000, 5_000_000]
SHARD_COUNTS = [1, 2, 4, 8, 16]


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for pkg in ("arrow-events", "datafusion", "pyarrow", "numpy", "duckdb"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_gib, 1),
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions}


def run_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "perf.child", json.dumps(spec)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    if proc.returncode != 0:
        raise click.ClickException(f"measurement {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(result: dict) -> dict:
    """Medians and ranges: per simulated year (generate + write) and per whole run."""
    per_year = [y["generate_s"] + y["write_s"] for r in result["runs"] for y in r["years"]]
    gen = [y["generate_s"] for r in result["runs"] for y in r["years"]]
    totals = [r["total_s"] for r in result["runs"]]
    return {
        "year_median_s": statistics.median(per_year), "year_min_s": min(per_year), "year_max_s": max(per_year),
        "generate_median_s": statistics.median(gen),
        "run_median_s": statistics.median(totals), "run_min_s": min(totals), "run_max_s": max(totals),
        # each run's years against the write floor measured right after it, paired: the machine's drift
        # moves both
        "vs_floor": statistics.median((y["generate_s"] + y["write_s"]) / r["write_floor_s"]
                                      for r in result["runs"] for y in r["years"])
        if all(r.get("write_floor_s") for r in result["runs"]) else None,
    }


def markdown(doc: dict) -> str:
    lines = [
        f"Machine: {doc['machine']['cores']} cores, {doc['machine']['memory_gib']} GiB, {doc['machine']['cpu']}; "
        f"python {doc['machine']['python']}, " + ", ".join(f"{k} {v}" for k, v in doc["machine"]["versions"].items()),
        f"Repeats: {doc['repeats']} after {doc['warmup']} warm-up, medians [min-max].",
        "",
        "| workload | engine | threads | shards | per year (gen + write) | generate only | whole run | peak RSS "
        "| write floor (a year / floor) | vs fused |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        s = r["summary"]
        floor = ""
        if r.get("write_floor_s") is not None:
            floor = f"{r['write_floor_s'] * 1000:.0f} ms"
            floor += f" ({s['vs_floor']:.2f}x)" if s.get("vs_floor") else ""
        lines.append(
            f"| {r['workload']} ({r['employees']:,} x {r['years']}) | {r['engine']} | {r['threads']} "
            f"| {r.get('shards', '')} "
            f"| {s['year_median_s'] * 1000:.1f} ms [{s['year_min_s'] * 1000:.1f}-{s['year_max_s'] * 1000:.1f}] "
            f"| {s['generate_median_s'] * 1000:.1f} ms "
            f"| {s['run_median_s']:.3f} s [{s['run_min_s']:.3f}-{s['run_max_s']:.3f}] "
            f"| {r['peak_rss_mb']:.0f} MB | {floor} | {r.get('ratio_vs_fused', '')} |"
        )
    same = doc.get("same_events", {})
    if same:
        lines.append("")
        lines += [f"- {w}: events identical across engines and threads: {ok}" for w, ok in same.items()]
    return "\n".join(lines) + "\n"


def chart(doc: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    workloads = sorted({r["workload"] for r in doc["results"]})
    fig, axes = plt.subplots(1, len(workloads), figsize=(5 * len(workloads), 4), squeeze=False)
    for ax, w in zip(axes[0], workloads, strict=True):
        rows = [r for r in doc["results"] if r["workload"] == w]
        labels = [f"{r['engine']}\n{r['threads']}t" for r in rows]
        values = [r["summary"]["year_median_s"] * 1000 for r in rows]
        ax.bar(labels, values, color=["#3b7dd8" if r["engine"] == "fused" else "#999999" for r in rows])
        ax.set_title(f"{w}: {rows[0]['employees']:,} employees")
        ax.set_ylabel("ms per simulated year (median)")
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def series_chart(doc: dict, path: Path, x: str, label: str) -> bool:
    """Time per year and peak RSS against ``x`` (employees or shards), for a series."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = doc["results"]
    xs = [r[x] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(xs, [r["summary"]["year_median_s"] for r in rows], "o-", color="#3b7dd8")
    left.set_ylabel("s per simulated year (gen + write)")
    right.plot(xs, [r["peak_rss_mb"] for r in rows], "o-", color="#d8763b")
    right.set_ylabel("peak RSS (MB)")
    for ax in (left, right):
        ax.set_xlabel(label)
        ax.set_ylim(bottom=0)
        if x == "employees":
            ax.set_xscale("log")
    fig.suptitle(doc["title"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def run_series(series: str, threads: int, quick: bool) -> tuple[list[dict], str, str, str]:
    """The scaling or shard-count series: one process per point, fused, one year each."""
    from arrow_events.census.synthetic import synthetic_census, write_census

    results = []
    if series == "scaling":
        points = [(n, None, f"N{n}") for n in (SCALING[:2] if quick else SCALING)]
    else:
        n = 5_000 if quick else 1_000_000
        members = n * 5 // 4  # the cohort and its hires (about a fifth more), rounded up
        points = [(n, -(-members // k), f"{k} shard(s)") for k in SHARD_COUNTS]
    for employees, shard_rows, name in points:
        click.echo(f"{series}: {name} ...", err=True)
        spec = {"employees": employees, "years": 1, "engine": "fused", "threads": threads, "repeats": 1,
                "warmup": 0 if quick or employees >= 500_000 else 1, "shard_rows": shard_rows}
        with tempfile.TemporaryDirectory(prefix="arrow-events-perf-census-") as tmp:
            if series == "scaling":  # the run reads a census file (peak RSS: the run's, not the generator's)
                spec["census"] = str(Path(tmp) / "census.parquet")
                write_census(synthetic_census(employees, 42, 2025), spec["census"])
            r = run_child(spec)
        r["workload"], r["summary"] = name, summarize(r)
        r["shards"] = r["runs"][0]["years"][0].get("shards", "")
        results.append(r)
    if series == "scaling":
        return results, "employees", "employees (log scale)", f"Scaling: 1 year, fused, {threads} threads"
    return results, "shards", "shards of the year", f"{points[0][0]:,} employees x 1 year in shards"


@click.command()
@click.option("--quick", is_flag=True, help="Small workloads, one repeat: checks the harness in seconds.")
@click.option("--workloads", default="W1,W2", show_default=True, help="Comma-separated: W1, W2.")
@click.option("--employees", type=int, help="An extra workload of N employees x 1 year.")
@click.option("--engines", default="fused,legacy,duckdb", show_default=True, help="fused, legacy, duckdb.")
@click.option("--threads", "threads_text", default=",".join(map(str, sorted({1, 2, os.cpu_count() or 2}))),
              show_default=True, help="Thread counts, comma-separated (default: 1, 2 and the machine's cores).")
@click.option("--repeats", type=click.IntRange(min=1),
              help="Timed repeats per measurement. Default: 5; --series sweep: 3 lone runs (1 with --quick).")
@click.option("--warmup", type=int, default=1, show_default=True)
@click.option("--name", default="latest", show_default=True, help="Results file stem under --out.")
@click.option("--out", type=click.Path(path_type=Path),
              help=f"Results directory. Default: {RESULTS.relative_to(RESULTS.parent.parent)}; with --quick a new "
              "scratch directory (a smoke test never replaces the committed results).")
@click.option("--series", default="engines",
              type=click.Choice(["engines", "scaling", "shards", "flight", "contributions", "report", "ray",
                                 "sweep"]),
              show_default=True,
              help="engines: the side-by-side table (events and snapshot); scaling: 5k-5M employees; shards: 1M in "
              "1-16 shards; flight: a Flight round trip against the in-process call; contributions: runs with and "
              "without the contributions table; report: arrow-events report on 1M-employee warehouses; ray: a 5M "
              "year on a local Ray of 2 workers against one process; sweep: issue 18's targets, arrow-events sweep "
              "of 1000 seeds x 10 years, and of 100 seeds against a lone run, then the executors compared.")
@click.option("--census", "census_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="--series ray: the census file to simulate (default: a synthetic one of --employees, 5M).")
@click.option("--batch-paths", type=click.IntRange(min=1),
              help="--series sweep: passed to every arrow-events sweep as --batch-paths N (not passed by default).")
@click.option("--variants/--no-variants", default=True, show_default=True,
              help="--series sweep: also compare the executors (one run at a time, local processes, Ray tasks).")
def main(quick: bool, workloads: str, employees: int | None, engines: str,  # noqa: PLR0913 (one per flag)
         threads_text: str, repeats: int | None, warmup: int, name: str, out: Path, series: str,
         census_path: Path | None, batch_paths: int | None, variants: bool) -> None:
    """Time event generation per year, whole runs and peak RSS, by workload, engine and threads."""
    out = results_dir(out, quick)
    if series == "sweep":
        sweep_series(quick, repeats or (1 if quick else 3), batch_paths, variants, name, out)
        return
    repeats = repeats or 5
    by_series = {
        "flight": lambda: flight_series(quick, workloads, repeats, warmup, name, out),
        "contributions": lambda: contributions_series(quick, workloads, repeats, warmup, name, out),
        "report": lambda: report_series(quick, repeats, name, out),
        "ray": lambda: ray_series(employees or (20_000 if quick else None), census_path, name, out),
        "engines": lambda: engines_series(quick, {"workloads": workloads, "employees": employees, "engines": engines,
                                                  "threads": threads_text, "repeats": repeats, "warmup": warmup},
                                          name, out),
    }
    if series in by_series:
        by_series[series]()
    else:
        scaling_series(series, threads_text, quick, name, out)


def results_dir(out: Path | None, quick: bool) -> Path:
    """Where a series writes: ``out``; by default perf/results/, or for --quick a fresh scratch directory, since
    a smoke test's numbers must never replace the committed ones."""
    if not quick:
        return out or RESULTS
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="arrow-events-perf-quick-"))
        click.echo(f"--quick: results in the scratch directory {out}", err=True)
    elif out.resolve() == RESULTS or RESULTS in out.resolve().parents:
        raise click.UsageError(f"--quick writes no results into {RESULTS}: give another --out, or none")
    return out


def scaling_series(series: str, threads_text: str, quick: bool, name: str, out: Path) -> None:
    """One of run_series's sweeps (shards, scaling): one process per point."""
    threads = int(threads_text.split(",")[-1]) if "," not in threads_text else 2
    results, x, label, title = run_series(series, threads, quick)
    doc = {"machine": machine(), "repeats": 1, "warmup": 0, "quick": quick, "title": title,
           "measured_on": dt.date.today().isoformat(), "results": results}
    stem = series if name == "latest" else name
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = f"{title}\n\n" + markdown(doc)
    (out / f"{stem}.md").write_text(md)
    drew = series_chart(doc, out / f"{stem}.png", x, label)
    click.echo(md)
    click.echo(f"wrote {out / stem}.json, .md" + (", .png" if drew else ""))


def engines_series(quick: bool, settings: dict, name: str, out: Path) -> None:
    """Each workload under each engine and thread count, one process each; ratios against fused."""
    table = QUICK if quick else WORKLOADS
    repeats, warmup = (1, 0) if quick else (settings["repeats"], settings["warmup"])
    chosen = {w: table[w] for w in settings["workloads"].split(",") if w}
    if settings["employees"]:
        chosen[f"N{settings['employees']}"] = {"employees": settings["employees"], "years": 1}
    results = []
    for w, spec in chosen.items():
        for engine in [e for e in settings["engines"].split(",") if e]:
            for threads in [int(t) for t in settings["threads"].split(",") if t]:
                click.echo(f"{w} {engine} threads={threads} ...", err=True)
                # event generation compared like for like: the DuckDB peer writes no contributions
                r = run_child({**spec, "engine": engine, "threads": threads, "repeats": repeats, "warmup": warmup,
                               "floor": engine == "fused", "contributions": False})
                r["workload"] = w
                r["summary"] = summarize(r)
                r["shards"] = r["runs"][0]["years"][0].get("shards", "")  # the DuckDB peer runs one
                results.append(r)
    same = {w: _ratios_vs_fused([r for r in results if r["workload"] == w]) for w in chosen}
    doc = {"machine": machine(), "repeats": repeats, "warmup": warmup, "quick": quick,
           "measured_on": dt.date.today().isoformat(), "results": results, "same_events": same}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = markdown(doc)
    (out / f"{name}.md").write_text(md)
    drew = chart(doc, out / f"{name}.png")
    click.echo(md)
    click.echo(f"wrote {out / name}.json, .md" + (", .png" if drew else " (no matplotlib: no chart)"))


def _ratios_vs_fused(rows: list[dict]) -> bool:
    """Each row's year median against the fused engine's at its thread count; whether all wrote the same events."""
    fused = {r["threads"]: r for r in rows if r["engine"] == "fused"}
    for r in rows:
        base = fused.get(r["threads"]) or next(iter(fused.values()), None)
        if base and r is not base:
            r["ratio_vs_fused"] = f"{r['summary']['year_median_s'] / base['summary']['year_median_s']:.1f}x"
    return len({r["events_sha256"] for r in rows}) == 1


def contributions_series(quick: bool, workloads: str, repeats: int, warmup: int, name: str, out: Path) -> None:
    """What the contributions table adds to a year: fused, 2 threads, with and without it, alternating."""
    table = QUICK if quick else WORKLOADS
    if quick:
        repeats, warmup = 1, 0
    results = []
    for w in (w for w in workloads.split(",") if w):
        pair: dict[bool, dict] = {}
        # alternate the two, one process per repeat, so that drift in the machine's load hits both alike
        for i in range(repeats):
            for contributions in (False, True):
                click.echo(f"{w} contributions={contributions} ({i + 1}/{repeats}) ...", err=True)
                r = run_child({**table[w], "engine": "fused", "threads": 2, "repeats": 1, "warmup": warmup,
                               "contributions": contributions})
                if contributions in pair:
                    pair[contributions]["runs"] += r["runs"]
                    pair[contributions]["peak_rss_mb"] = max(pair[contributions]["peak_rss_mb"], r["peak_rss_mb"])
                else:
                    pair[contributions] = r
        for contributions, r in pair.items():
            r["workload"], r["summary"], r["repeats"] = w, summarize(r), repeats
            r["shards"] = r["runs"][0]["years"][0].get("shards", "")
            r["engine"] = "fused + contributions" if contributions else "fused, no contributions"
            results.append(r)
        added = pair[True]["summary"]["year_median_s"] / pair[False]["summary"]["year_median_s"] - 1
        pair[True]["ratio_vs_fused"] = f"{added:+.0%} vs without"
    doc = {"machine": machine(), "repeats": repeats, "warmup": warmup, "quick": quick,
           "measured_on": dt.date.today().isoformat(), "results": results}
    stem = "contributions" if name == "latest" else name
    md = "Contributions: fused, 2 threads; the second row of each workload writes the contributions table\n\n"
    md += markdown(doc)
    save(out, stem, doc, md)


def save(out: Path, stem: str, doc: dict, md: str) -> None:
    """A series' results as ``<out>/<stem>.json`` and ``.md``, and the table on the terminal."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / f"{stem}.md").write_text(md)
    click.echo(md)
    click.echo(f"wrote {out / stem}.json, .md")


def report_series(quick: bool, repeats: int, name: str, out: Path) -> None:
    """``arrow-events report`` (metrics computed and printed) on warehouses of 1M employees x 1 and 5 years."""
    from perf.report import measure_report

    employees = 20_000 if quick else 1_000_000
    results = [measure_report(employees, years, 1 if quick else repeats, lambda line: click.echo(line, err=True))
               for years in (1, 5)]
    doc = {"machine": machine(), "repeats": repeats, "quick": quick, "measured_on": dt.date.today().isoformat(),
           "results": results}
    stem = "report" if name == "latest" else name
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["| warehouse | rows read (snapshot + contributions) | `arrow-events report`, median [min-max] "
             "| the metrics query alone (median) |", "|---|---|---|---|"]
    lines += [f"| {r['employees']:,} employees x {r['years']} year(s) | {r['rows']:,} "
              f"| {r['median_s']:.2f} s [{r['min_s']:.2f}-{r['max_s']:.2f}] | {r['query_median_s']:.2f} s |"
              for r in results]
    md = "\n".join(lines) + "\n"
    (out / f"{stem}.md").write_text(md)
    click.echo(md)
    click.echo(f"wrote {out / stem}.json, .md")


def sweep_series(quick: bool, repeats: int, batch_paths: int | None, variants: bool, name: str, out: Path) -> None:
    """Issue 18's targets: ``arrow-events sweep`` of 1000 seeds x 2025-2034 (<= 180 s), of 100 seeds against a
    lone ``arrow-events run`` (<= 8x); then the executors over 20 seeds x W1. --quick: 8 and 3 seeds x 2 years,
    the executors over 3 seeds x 1 year."""
    from perf import sweep

    if batch_paths is not None and not sweep.has_batch_paths():
        raise click.UsageError("--batch-paths: this arrow-events sweep has no --batch-paths option yet")
    sizes = sweep.QUICK if quick else sweep.FULL

    def say(line: str) -> None:
        click.echo(line, err=True)

    targets = sweep.measure_targets(sizes, repeats, batch_paths, say, quick)
    compared = sweep.measure_variants(sizes, batch_paths, say) if variants else []
    doc = {"machine": machine(), "quick": quick, "measured_on": dt.date.today().isoformat(), "repeats": repeats,
           "batch_paths": batch_paths, "sizes": vars(sizes),
           "targets_set": {"wall_s": sweep.WALL_TARGET_S, "ratio_to_lone": sweep.RATIO_TARGET},
           "targets": targets, "variants": compared}
    if any(r["executor"] == "ray" for r in compared):
        doc["machine"]["versions"]["ray"] = version("ray")
    save(out, "sweep" if name == "latest" else name, doc, sweep.markdown(doc))


def flight_series(quick: bool, workloads: str, repeats: int, warmup: int, name: str, out: Path) -> None:
    """Flight round trip (push census, pull all events) against the in-process call, per workload."""
    from perf.flight import markdown as flight_markdown
    from perf.flight import run_flight_series

    table = QUICK if quick else WORKLOADS
    if quick:
        repeats, warmup = 1, 0
    chosen = {w: table[w] for w in workloads.split(",") if w}
    results = run_flight_series(chosen, repeats, warmup, lambda line: click.echo(line, err=True))
    doc = {"machine": machine(), "repeats": repeats, "warmup": warmup, "quick": quick,
           "measured_on": dt.date.today().isoformat(), "results": results}
    stem = "flight" if name == "latest" else name
    md = flight_markdown(doc)
    save(out, stem, doc, md)


def ray_series(employees: int | None, census: Path | None, name: str, out: Path) -> None:
    """One year on a local Ray of 2 workers against one process: time, and peak RSS per process."""
    from perf.ray_series import EMPLOYEES, markdown, run_ray_series, write_census

    with tempfile.TemporaryDirectory(prefix="arrow-events-ray-perf-") as tmp:
        if census is None:
            census = Path(tmp) / "census.parquet"
            click.echo(f"ray: writing a synthetic census of {employees or EMPLOYEES:,} employees ...", err=True)
            write_census(census, employees or EMPLOYEES)
        results = run_ray_series(census, lambda line: click.echo(line, err=True))
    doc = {"machine": machine(), "measured_on": dt.date.today().isoformat(), "census": str(census),
           "employees": results[0]["employees"], "results": results}
    stem = "ray" if name == "latest" else name
    md = markdown(doc)
    save(out, stem, doc, md)


if __name__ == "__main__":
    main()
