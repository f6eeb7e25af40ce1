"""The arrow-events command line: a thin layer over the library."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from arrow_events.errors import Interrupted, ResourceLimitError, UserError, error_line
from arrow_events.options import (
    BREAKDOWNS,
    COERCE,
    ENGINES,
    EXECUTORS,
    ON_BAD_ROWS,
    OptionError,
    RunOptions,
    parse_size,
)

# The commands import what they run when they run (DataFusion, pydantic, the warehouse's readers): a
# command, and --help, loads only its own part of the library. Above: what the flags themselves need.
if TYPE_CHECKING:
    from arrow_events.census.intake import Census
    from arrow_events.config import Config
    from arrow_events.simulation import RunReport, YearReport
    from arrow_events.sweep import BatchResult, SweepReport

_CLEAR_LINE = "\r\x1b[K"  # back to the start of the terminal line, and erase it


def _say(message: str) -> None:
    """One line on stderr; on a terminal it replaces a shard progress line that may be showing."""
    click.echo((_CLEAR_LINE if sys.stderr.isatty() else "") + message, err=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Report a UserError (or any OSError) as one line on stderr with exit code 2, never a traceback.

    A memory-limit failure exits 3 and Ctrl-C exits 130 (saying which years were
    kept), both at once: after DataFusion fails or abandons a query while Python
    UDFs run, interpreter shutdown can abort (DATAFUSION_NOTES.md), so the process
    ends without it. Nothing was half-written: the writer removed an unfinished
    year's staging or journaled it for the next run, and the lock is released with
    the process.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, OSError) as e:
            _say(f"error: {as_flags(error_line(e))}")
            sys.exit(2)
        except ResourceLimitError as e:
            _exit_now(f"error: {as_flags(str(e))}", 3)
        except Interrupted as e:
            _exit_now(f"interrupted: {as_flags(str(e))}", 130)
        except KeyboardInterrupt:
            _exit_now("interrupted", 130)

    return wrapper


def as_flags(message: str) -> str:
    """The library names options as RunOptions and its functions do (``years: ...``, ``memory_limit``,
    ``years=2025-2026``); on the command line they are the flags of the command that runs."""
    ctx = click.get_current_context(silent=True)
    params = {p.name: p.opts[0] for p in ctx.command.params if p.opts[0].startswith("--")} if ctx else {}
    for name, flag in params.items():
        message = re.sub(rf"^{name}(?=[:.])", flag, message)
        message = re.sub(rf"(?<![\w.\[$-]){name}=(?=\S)", f"{flag} ", message)
        if "_" in name:
            message = re.sub(rf"(?<![\w.\[$-]){name}\b", flag, message)
    return message


class Option(click.ParamType):
    """A run option's coercion (``arrow_events.options.COERCE``) as a click type: the same parsing, and the
    same messages, as the library's and Flight's."""

    METAVARS = {"years": "YEARS", "threads": "N", "seed": "N", "memory_limit": "SIZE", "shard_rows": "N",
                "ray_address": "ADDRESS", "date_format": "FORMAT"}

    def __init__(self, name: str) -> None:
        self.name, self._coerce = name, COERCE[name]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.METAVARS.get(self.name, "VALUE")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._coerce(value)
        except OptionError as e:
            self.fail(e.reason, param, ctx)


class OneLineGroup(click.Group):
    """click's usage errors in one line, as every other error of the command line: ``error: --threads: ...``."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            kwargs.pop("standalone_mode", None)
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else str(e))
            sys.exit(2)
        except click.UsageError as e:
            hint = f" (see {e.ctx.command_path} --help)" if e.ctx else ""
            click.echo(f"error: {_usage_line(e)}{hint}", err=True)
            sys.exit(2)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _usage_line(e: click.UsageError) -> str:
    """'--threads: 0 is not in the range 1<=x<=256.' from click's "Invalid value for '--threads': ..."."""
    m = re.match(r"Invalid value for '([^']+)'(?: / '[^']+')*: (.*)", e.format_message(), flags=re.S)
    text = f"{m.group(1).split(' / ')[0]}: {m.group(2)}" if m else e.format_message()
    return " ".join(text.split())


def _exit_now(message: str, code: int) -> None:
    _say(message)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@click.group(cls=OneLineGroup)
@click.version_option(package_name="arrow-events")
def main() -> None:
    """Fused workforce and retirement-plan event generation on Apache Arrow and DataFusion."""


def _progress_line(y: YearReport) -> None:
    click.echo(
        f"{_CLEAR_LINE}  {y.year}: {y.headcount_start:,} -> {y.headcount_end:,} active, {y.events:,} events, "
        f"{y.generate_s:.3f} s generate + {y.write_s:.3f} s write",
        err=True,
    )


def _shard_line(year: int, done: int, total: int) -> None:
    """A large year's shards as they are written, on one terminal line the year's line replaces."""
    if total > 1:
        click.echo(f"{_CLEAR_LINE}  {year}: shard {done} of {total} written", err=True, nl=False)


def _summary(report: RunReport) -> str:
    """One row per year and plan design, the same columns every time (every event type, zeros kept): each
    design's own events, the workforce's (hires, terminations, promotions, merit) repeated under each."""
    from arrow_events.schema import EVENT_TYPES

    header = ["year", "design", "start", "end", *EVENT_TYPES, "seconds"]
    rows = [
        [str(y.year), design, f"{y.headcount_start:,}", f"{y.headcount_end:,}"]
        + [f"{counts.get(t, 0):,}" for t in EVENT_TYPES]
        + [f"{y.generate_s + y.write_s:.3f}"]
        for y in report.years for design, counts in y.events_by_design.items()
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    left = {1}  # the design's name reads left to right; numbers align right
    return "\n".join("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [header, *rows])


def warehouse_argument(required: bool = True,
                       alias: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The warehouse as every command spells it: the positional WAREHOUSE. Optional (default ./warehouse) where
    the command has a default; ``alias`` is the flag a command took before, still read but not shown."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        @user_errors  # a warehouse given twice is a user's error too
        def with_warehouse(**kwargs: Any) -> Any:
            given, old = kwargs.pop("warehouse"), kwargs.pop("warehouse_alias", None)
            if given is not None and old is not None and given != old:
                raise UserError(f"the warehouse is given twice ({given} and {alias} {old}); give it once, as WAREHOUSE")
            kwargs["warehouse"] = given or old or Path("warehouse")
            return fn(**kwargs)

        with_warehouse = click.argument("warehouse", required=required and alias is None,
                                        type=click.Path(path_type=Path))(with_warehouse)
        if alias:
            with_warehouse = click.option(alias, "warehouse_alias", type=click.Path(path_type=Path), hidden=True,
                                          help="The warehouse (old spelling of WAREHOUSE).")(with_warehouse)
        return with_warehouse

    return decorate


def existing_warehouse(warehouse: Path) -> Path:
    """``warehouse``, or one line saying there is none there."""
    if not warehouse.exists():
        raise UserError(f"{warehouse}: no such warehouse (nothing at that path); write one with: arrow-events run "
                        f"{warehouse}")
    if not warehouse.is_dir():
        raise UserError(f"{warehouse}: not a warehouse (a file, not a directory)")
    return warehouse


def load_census(path: Path, cfg: Config, first_year: int | None, options: RunOptions) -> tuple[Config, Census]:
    """Read the census for a run starting in ``first_year``; say its notes and warnings on stderr."""
    from arrow_events.census.intake import read_census
    from arrow_events.config import census_start

    if first_year is not None:
        cfg = census_start(cfg, first_year)
    census = read_census(path, cfg.scenario.start_year, on_bad_rows=options.on_bad_rows,
                         date_format=options.date_format)
    for note in census.notes:
        click.echo(f"note: {note}", err=True)
    for warning in census.warnings:
        click.echo(f"warning: {warning}", err=True)
    return cfg, census


# Each run option's flag: its name with dashes, and the option's own coercion (Option) or choices.
RUN_FLAGS: dict[str, tuple[str, dict[str, Any]]] = {
    "years": ("--years", dict(type=Option("years"), help="Years to simulate, e.g. 2025-2029. Default: the "
                              "scenario's years.")),
    "threads": ("--threads", dict(type=Option("threads"), default=2, show_default=True,
                                  help="DataFusion target partitions.")),
    "seed": ("--seed", dict(type=Option("seed"), help="Override the scenario seed.")),
    "engine": ("--engine", dict(type=click.Choice(ENGINES), default="fused", show_default=True,
                                help="fused: one plan per year; legacy: the per-event baseline (one query per "
                                "branch).")),
    "memory_limit": ("--memory-limit", dict(type=Option("memory_limit"), help="Bound DataFusion's memory pool, "
                                            "e.g. 1GB; sorts spill to the temp directory.")),
    "shard_rows": ("--shard-rows", dict(type=Option("shard_rows"), help="Employees per shard of a year (default "
                                        "250,000, a hire counting as two, or what --memory-limit allows). Changes no "
                                        "output byte.")),
    "contributions": ("--contributions/--no-contributions", dict(
        default=True, show_default=True,
        help="Write the contributions table (docs/model.md section 7) beside events and snapshot.")),
    "executor": ("--executor", dict(
        type=click.Choice(EXECUTORS), default="local", show_default=True,
        help="Where a year's shards run: local, one after another in this process; ray, as Ray tasks, each with "
        "--threads partitions (pip install 'arrow-events[ray]'). Changes no output byte.")),
    "ray_address": ("--ray-address", dict(
        type=Option("ray_address"), help="With --executor ray: the Ray cluster to run on, 'auto' (found from this "
        "node) or ray://HOST:10001. Default: a Ray started for the run in this process, on every core.")),
    "on_bad_rows": ("--on-bad-rows", dict(
        type=click.Choice(ON_BAD_ROWS), default="fail", show_default=True,
        help="fail: refuse a census with any bad row; skip: set bad rows aside, listed with their line and reason "
        "in <out>/rejects/census_rejects.csv.")),
    "date_format": ("--date-format", dict(type=Option("date_format"), help="strptime format of the census dates "
                                          "when they are not YYYY-MM-DD, e.g. %m/%d/%Y or %d.%m.%Y.")),
}


def run_options(*names: str, **defaults: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The run options ``names`` (default: all) as flags; the command gets them as one ``options`` (RunOptions).
    ``defaults`` replace an option's default for this command."""

    chosen = list(names or RUN_FLAGS)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        @user_errors  # a bad combination of options is a user's error too
        def with_options(**kwargs: Any) -> Any:
            from arrow_events.engine.memory import return_freed_memory

            values = {name: kwargs.pop(name) for name in chosen}
            # the command line's own process: Arrow's and glibc's allocators tuned (engine.memory), the census too
            return_freed_memory()
            kwargs["options"] = RunOptions(tune_memory=True, **{k: v for k, v in values.items() if v is not None})
            return fn(**kwargs)

        for name in reversed(chosen):
            flag, settings = RUN_FLAGS[name]
            if name in defaults:
                settings = {**settings, "default": defaults[name]}
            with_options = click.option(flag, name, **settings)(with_options)
        return with_options

    return decorate


@main.command("run")
@click.option("--census", "census_path", type=click.Path(path_type=Path),
              help="Census file (.csv, .tsv or .parquet). Default: a synthetic 5,000-employee census (seed 42).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="TOML config. Default: the built-in defaults of docs/model.md (see `arrow-events config`).")
@click.option("--year", "one_year", type=Option("years"),
              help="Re-run one year from the stored snapshot of the year before.")
@warehouse_argument(required=False, alias="--out")  # the warehouse was --out before it was WAREHOUSE everywhere
@run_options()
@user_errors
def run_command(census_path: Path | None, config_path: Path | None, one_year: tuple[int, ...] | None,
                warehouse: Path, options: RunOptions) -> None:
    """Simulate years and write events, snapshots and contributions to WAREHOUSE (default: ./warehouse).

    \b
    Examples:
      arrow-events run
      arrow-events run wh --census census.csv --config plan.toml --years 2025-2029
      arrow-events run --year 2027          # re-run 2027 from the stored 2026 snapshot
      arrow-events run baseline --engine legacy
      arrow-events run --census export.csv --on-bad-rows skip --date-format %m/%d/%Y
      arrow-events run --executor ray --ray-address auto   # shards on the Ray cluster of this node

    With a census, the first of --years is the first simulated year (the census being the
    workforce at the end of the year before), unless the config sets [scenario].start_year.
    """
    from arrow_events.config import for_run, load_config
    from arrow_events.simulation import run

    out = warehouse
    if options.years and one_year is not None:
        raise UserError("--years and --year cannot be used together")
    if one_year is not None and len(one_year) > 1:
        raise UserError("--year: one year, e.g. --year 2027 (for several, --years 2027-2029)")
    if census_path and one_year is not None:
        raise UserError("--census and --year cannot be used together: --year re-runs a year from the stored "
                        "snapshot of the year before; start a census with --years FIRST-LAST")
    options = options.replace(years=one_year) if one_year else options
    cfg, _, options = for_run(load_config(config_path), options, census=census_path is not None and
                                       options.years is not None)
    census = load_census(census_path, cfg, None, options)[1] if census_path else None
    interactive = sys.stderr.isatty()
    if interactive:
        click.echo(f"simulating into {out}/", err=True)
    report = run(cfg, out, census=census, options=options, progress=_progress_line if interactive else None,
                 shard_progress=_shard_line if interactive else None)
    for note in report.recovered:
        click.echo(f"note: {note}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(_summary(report))
    click.echo(f"wrote {len(report.years)} year(s) to {out}/ in {report.total_s:.2f} s")
    if report.census and report.census.rows_rejected:
        click.echo(f"{report.census.rejected_summary()}: see {report.rejects_path}")
    if report.stale_years:
        stale = ", ".join(map(str, report.stale_years))
        click.echo(f"warning: years {stale} were built on the previous {report.years[-1].year} and are now stale; "
                   f"re-run them with --years {report.years[-1].year + 1}-{report.stale_years[-1]}", err=True)


@main.command("census")
@click.option("--employees", type=click.IntRange(min=1), required=True, help="Number of employees.")
@click.option("--seed", type=int, default=42, show_default=True, help="Generator seed.")
@click.option("--start-year", type=int, default=2025, show_default=True,
              help="First simulated year; hire dates end the year before.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output file, .csv or .parquet.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@user_errors
def census_command(employees: int, seed: int, start_year: int, out: Path, force: bool) -> None:
    """Write a synthetic census, deterministic per seed.

    \b
    Example:
      arrow-events census --employees 1000000 --seed 7 --out census_1m.parquet
    """
    from arrow_events.census.synthetic import synthetic_census, write_census

    if out.exists() and not force:
        raise UserError(f"{out}: exists; give another --out, or --force to replace it")
    table = synthetic_census(employees, seed, start_year)
    write_census(table, out)
    click.echo(f"wrote {table.num_rows:,} employees to {out}")


@main.command("config")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config to overlay.")
@user_errors
def config_command(config_path: Path | None) -> None:
    """Print the effective config (defaults plus any file) as TOML.

    \b
    Example:
      arrow-events config > plan.toml
    """
    from arrow_events.config import dump_toml, load_config

    click.echo(dump_toml(load_config(config_path)), nl=False)


@main.command("validate")
@warehouse_argument()
@click.option("--examples", type=click.IntRange(min=1), default=5, show_default=True,
              help="Violations shown per check.")
@user_errors
def validate_command(warehouse: Path, examples: int) -> None:
    """Check a warehouse against the contract: layout, checksums, schema, keys, invariants.

    Exit 0 when clean, 1 when anything is wrong (2: no warehouse there at all).

    \b
    Example:
      arrow-events validate warehouse
    """
    from arrow_events.warehouse.validate import validate_warehouse

    existing_warehouse(warehouse)
    report = validate_warehouse(warehouse)
    click.echo(report.render(examples))
    sys.exit(0 if report.ok else 1)


@main.command("compare")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--examples", type=click.IntRange(min=1), default=5, show_default=True,
              help="Differing keys shown per file.")
@user_errors
def compare_command(a: Path, b: Path, examples: int) -> None:
    """Compare two warehouses file by file; exit 0 when identical, 1 otherwise.

    \b
    Example:
      arrow-events compare warehouse baseline
    """
    from arrow_events.warehouse.compare import compare_warehouses

    report = compare_warehouses(a, b, examples)
    click.echo(report.render(examples))
    sys.exit(0 if report.identical else 1)


@main.command("report")
@click.argument("warehouses", metavar="WAREHOUSE [WAREHOUSE ...]", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Also write the report's files to this directory: metrics and workforce (.parquet, .csv, "
              ".png) and report.html; with several warehouses, comparison.parquet, .csv, .png and report.html.")
@click.option("--by", type=click.Choice(BREAKDOWNS),
              help="Break the workforce metrics down by job level, age band or tenure band.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: aligned text; json: for scripts ({plan_designs: [...], workforce: [...]}; with several "
              "warehouses, the comparison's rows).")
@user_errors
def report_command(warehouses: tuple[Path, ...], out: Path | None, by: str | None, fmt: str) -> None:
    """Yearly metrics: per plan design (participation, deferral rate, pay, deferrals, employer cost) and of the
    workforce (headcount, hires, terminations, promotions, pay). Two or more warehouses, or a sweep
    directory, are compared: each metric per year and design, and its difference from the first.

    \b
    Examples:
      arrow-events report warehouse
      arrow-events report warehouse --by level --out report/   # + report.html, metrics and workforce files
      arrow-events report warehouse --format json | jq '.plan_designs[] | {simulation_year, employer_cost_rate}'
      arrow-events report baseline richer_match --out compared/  # comparison.parquet, .csv, .png, report.html
      arrow-events report sweep/                                 # a sweep's scenarios, by their medians
    """
    from arrow_events.warehouse.comparison import is_sweep
    from arrow_events.warehouse.report import (
        check_out_dir,
        has_amounts,
        render_table,
        render_workforce,
        run_info,
        to_json,
        workforce_metrics,
        write_report,
        yearly_metrics,
    )

    if out is not None:
        check_out_dir(out)
    for path in warehouses:
        existing_warehouse(path)
    if len(warehouses) > 1 or is_sweep(warehouses[0]):
        _compare_report(warehouses, out, fmt)
        return
    warehouse = warehouses[0]
    metrics, workforce = yearly_metrics(warehouse), workforce_metrics(warehouse, by)
    click.echo(to_json(metrics, workforce) if fmt == "json" else
               f"{render_table(metrics)}\n\n{render_workforce(workforce)}")
    if not has_amounts(metrics):
        click.echo(f"note: {warehouse} has no contributions table (written before it existed, or with "
                   "--no-contributions): the amounts are empty; re-run the years to get them", err=True)
    if out is not None:
        written = write_report(metrics, out, workforce, run_info(warehouse))
        _say_written(written)


def _say_written(written: list[Path]) -> None:
    from arrow_events.warehouse.report import CHARTS_MISSING, charts_available

    click.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)
    if not charts_available():
        click.echo(f"note: no charts: {CHARTS_MISSING}", err=True)


def _compare_report(sources: tuple[Path, ...], out: Path | None, fmt: str) -> None:
    from arrow_events.warehouse.comparison import compare_metrics, comparison_infos, render_comparison, write_comparison

    comparison = compare_metrics(sources)
    if fmt == "json":
        click.echo(json.dumps(comparison.to_pylist(), indent=2))
    else:
        click.echo(render_comparison(comparison))
    if out is not None:
        _say_written(write_comparison(comparison, out, comparison_infos(sources)))


@main.command("sql")
@warehouse_argument()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table",
              show_default=True, help="table: aligned text (at most --max-rows rows); csv, json (an array of objects) "
              "or parquet (with --out).")
@click.option("--out", "out_file", type=click.Path(path_type=Path),
              help="Write the result to this file (whole, or not at all) instead of stdout.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--max-rows", type=click.IntRange(min=1), default=100, show_default=True,
              help="Rows shown by --format table (the others are counted).")
@click.option("--memory-limit", type=Option("memory_limit"), default="2GB", show_default=True,
              help="Memory the query may use before it spills to the temp directory or fails.")
@user_errors
def sql_command(warehouse: Path, query: str, fmt: str, out_file: Path | None, force: bool, max_rows: int,
                memory_limit: int | str) -> None:
    """Run a read-only SQL query over WAREHOUSE (DataFusion; the guard of the Flight server's SQL tickets).

    Tables: events, snapshot, contributions (each with simulation_year) and workforce_counts (the yearly
    manifests' counts). Only queries run: no DDL, DML (COPY, INSERT) or SET.

    \b
    Examples:
      arrow-events sql warehouse "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
      arrow-events sql warehouse "SELECT * FROM workforce_counts" --format csv
      arrow-events sql warehouse "SELECT * FROM contributions WHERE simulation_year = 2029" --out c.parquet \\
          --format parquet
    """
    from arrow_events.warehouse.results import render_result, result_text, write_result
    from arrow_events.warehouse.sql import query as run_sql

    existing_warehouse(warehouse)
    if fmt == "parquet" and out_file is None:
        raise UserError("--format parquet needs --out FILE (Parquet is not text for a terminal)")
    if out_file is not None:
        if out_file.exists() and not force:
            raise UserError(f"{out_file}: exists; give another --out, or --force to replace it")
        if out_file.is_dir():
            raise UserError(f"{out_file}: --out is a directory; give a file name")
    result = run_sql(warehouse, query, memory_limit)
    if out_file is None:
        click.echo(render_result(result, max_rows) if fmt == "table" else result_text(result, fmt), nl=fmt == "table")
        return
    write_result(result, out_file, fmt)
    click.echo(f"wrote {result.num_rows:,} row(s) to {out_file}", err=True)


@main.command("sweep")
@click.option("--seeds", "seeds",
              help="Seeds, one run each per scenario: 1-100, 1,5,9 or 1-10,20. Default: the config's "
              "[sweep] seeds, else 1-10.")
@click.option("--config", "configs", type=click.Path(path_type=Path), multiple=True,
              help="TOML config, one scenario each (a [sweep] table in it: one per value); repeat for several. "
              "Default: the built-in defaults.")
@click.option("--census", "census_path", type=click.Path(path_type=Path),
              help="Census file for every run. Default: the built-in synthetic 5,000-employee census.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("sweep"), show_default=True,
              help="Sweep directory: metrics.parquet, distribution.parquet, distribution.png, batches/, runs/.")
@click.option("--keep-warehouses", "keep_warehouses", metavar="SEEDS|all",
              help="Also write these seeds' whole warehouses (e.g. 7,9 or all) under runs/<scenario>/seed=<s>/"
              "warehouse/, as arrow-events run --seed writes them. Default: none; every run's metrics are written.")
@click.option("--batch-paths", "batch_paths", type=click.IntRange(1, 100_000),
              help="Paths (scenario x seed) per batch, each batch one plan per year. Default: as many as fit "
              "--memory-limit (1 GB without it), and at least one batch per worker.")
@click.option("--workers", type=click.IntRange(1, 1024),
              help="Batches at once (default: the machine's cores); with --executor ray, the local Ray's CPUs.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="local: worker processes on this machine; ray: one Ray task per batch.")
@click.option("--ray-address", type=Option("ray_address"),
              help="With --executor ray: an existing cluster (e.g. auto) instead of a local Ray; every node must "
              "see --out.")
@click.option("--force", is_flag=True,
              help="Replace the runs of a scenario folder made with another config (refused otherwise).")
@run_options("years", "threads", "memory_limit", "on_bad_rows", "date_format", threads=1)  # batches share the cores
@user_errors
def sweep_command(seeds: str | None, configs: tuple[Path, ...], census_path: Path | None, out: Path,
                  force: bool, options: RunOptions, **execution: Any) -> None:
    """Run many independent simulations (seeds x configs) and the spread of their metrics.

    Each (scenario, seed) is a path; paths run in batches, each batch one plan per year over
    all of its paths. OUT/metrics.parquet holds every path's yearly metrics (one row per
    scenario, seed, year and plan design); OUT/distribution.parquet the 5th, 25th, 50th, 75th
    and 95th percentiles per year, plan design and metric, and OUT/distribution.png the fan
    chart. With --keep-warehouses, those seeds' warehouses go to OUT/runs/<scenario>/seed=<s>/.
    Running the same command again skips the finished paths (after a kill, a failure, or with
    more seeds). A failed batch's paths are listed at the end and exit 1; the others finish.

    A [sweep] table in a config makes one scenario per value of [scenario] keys, e.g.
    growth = [0.02, 0.03] (several keys: every combination), and may set seeds = "1-20".

    \b
    Examples:
      arrow-events sweep --seeds 1-100
      arrow-events sweep --seeds 1-1000 --years 2025-2034 --batch-paths 200
      arrow-events sweep --seeds 1-20 --config examples/plan_designs.toml --years 2025-2029
      arrow-events sweep --config a.toml --config b.toml --census census.csv --out compare/
      arrow-events sweep --seeds 1-1000 --executor ray --ray-address auto

    A scenario is named by its config's [scenario].name, else the config file's name: running another
    config into an existing scenario's folder is refused (--force replaces its runs).
    """
    from arrow_events.sweep import parse_seeds, plan_sweep, run_sweep

    workers, executor, ray_address = execution["workers"], execution["executor"], execution["ray_address"]
    keep_warehouses = execution["keep_warehouses"]
    if ray_address and executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    seed_list = parse_seeds(seeds) if seeds else None
    keep = "all" if keep_warehouses == "all" else parse_seeds(keep_warehouses, "keep_warehouses") \
        if keep_warehouses else ()
    runs = plan_sweep(list(configs), seed_list, census_path, options=options, keep_warehouses=keep)
    for census in {id(r.census): r.census for r in runs if r.census}.values():
        for line in [*(f"note: {n}" for n in census.notes), *(f"warning: {w}" for w in census.warnings)]:
            click.echo(line, err=True)
    progress = _SweepProgress(executor)
    try:
        with progress:
            report = run_sweep(runs, out, workers=workers, executor=executor, ray_address=ray_address, force=force,
                               batch_paths=execution["batch_paths"], on_start=progress.start, on_batch=progress.done)
    except KeyboardInterrupt:
        _exit_now(f"interrupted: {progress.finished} run(s) finished; run the same command again to do the rest", 130)
    click.echo(_sweep_summary(report))
    for failed in report.failed:
        click.echo(f"failed: {failed.scenario} seed={failed.seed}: {failed.error}", err=True)
    sys.exit(1 if report.failed else 0)


class _SweepProgress:
    """On a terminal, a progress bar of the paths (done / total, ETA) on stderr; piped, one line per finished
    batch: its paths and years, the paths and path-years done so far and the time left."""

    def __init__(self, executor: str) -> None:
        self.executor, self.total, self.finished, self.done_count = executor, 0, 0, 0
        self.path_years = 0
        self.bar: Any = None
        self.t0 = time.perf_counter()

    def start(self, report: SweepReport) -> None:
        self.total = report.to_run
        skipped = f", {report.skipped} finished before and skipped" if report.skipped else ""
        _say(f"sweep: {report.total} run(s){skipped}; {self.total} to run ({self.executor}) into {report.out}/")
        self.t0 = time.perf_counter()
        if sys.stderr.isatty() and self.total:
            self.bar = click.progressbar(length=self.total, label="paths", show_eta=True, show_pos=True,
                                         file=sys.stderr)
            self.bar.__enter__()

    def done(self, batch: BatchResult) -> None:
        runs = len(batch.runs)
        self.done_count += runs
        self.finished += sum(r.ok for r in batch.runs)
        self.path_years += sum(r.years for r in batch.runs)
        if self.bar is not None:
            self.bar.update(runs)
            return
        elapsed = time.perf_counter() - self.t0
        left = elapsed / self.done_count * (self.total - self.done_count)
        failed = sum(not r.ok for r in batch.runs)
        what = f"{runs} path(s) x {batch.years} year(s) in {batch.seconds:.1f} s" + (f", {failed} failed" if failed
                                                                                   else "")
        click.echo(f"[{self.done_count}/{self.total}] {what}; {self.path_years:,} path-years done, "
                   f"{_duration(left)} left", err=True)

    def __enter__(self) -> _SweepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _duration(seconds: float) -> str:
    """'2 min 5 s', '41 s'."""
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes} min {s} s" if minutes else f"{s} s"


def _sweep_summary(report: SweepReport) -> str:
    from arrow_events.warehouse.report import CHARTS_MISSING

    lines = [f"{len(report.finished)} run(s) finished, {report.skipped} skipped (finished before), "
             f"{len(report.failed)} failed, of {report.total}, in {report.total_s:.1f} s"]
    lines += [f"{summary}: see {path}" for summary, path in report.rejects]
    if report.distribution_path is None:
        lines.append("no run has finished: no distribution")
    else:
        chart = (f"the fan chart {report.chart_path}" if report.chart_path else f"no fan chart ({CHARTS_MISSING})")
        lines.append(f"wrote {report.distribution_path} ({report.distribution_rows} rows, over "
                     f"{len(report.finished) + report.skipped} runs) and {chart}")
    return "\n".join(lines)


class _DumpOption(click.Option):
    """explain --dump, whose help names the relations one can dump: read off the SQL files when the help
    is shown, not at every start of the command line."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from arrow_events.engine.stages import DUMPABLE

        self.help = f"Write one relation to Parquet instead: {', '.join(DUMPABLE)}."
        return super().get_help_record(ctx)


@main.command("explain")
@click.option("--year", type=int, required=True, help="The simulation year to plan.")
@click.option("--census", "census_path", type=click.Path(path_type=Path),
              help="Census for the start year. Default: the built-in synthetic census.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config.")
@warehouse_argument(required=False, alias="--warehouse")  # was --warehouse before it was WAREHOUSE everywhere
@click.option("--dump", "dump", cls=_DumpOption, help="Write one relation to Parquet instead.")
@click.option("--out", "out", type=click.Path(path_type=Path), help="Directory for --dump.")
@run_options("threads", "on_bad_rows", "date_format")
@user_errors
def explain_command(year: int, census_path: Path | None, config_path: Path | None, warehouse: Path,
                    dump: str | None, out: Path | None, options: RunOptions) -> None:
    """Print the fused plan of a year (logical and physical, scans and draws), or dump a relation.

    A year after the first reads the year before from WAREHOUSE (default: ./warehouse); nothing is
    written to it.

    \b
    Examples:
      arrow-events explain --year 2025
      arrow-events explain warehouse --year 2027 --dump rng --out debug/
    """
    from arrow_events.config import load_config
    from arrow_events.engine.explain import dump_relation, explain_year
    from arrow_events.simulation import starting_state

    cfg = load_config(config_path)
    if (dump is None) != (out is None):
        raise UserError("--dump and --out go together")
    census = None
    if census_path:
        cfg, census = load_census(census_path, cfg, year, options)
    state, _ = starting_state(cfg, year, warehouse, census.table if census else None)
    if dump:
        path = dump_relation(cfg, year, state, dump, out, options.threads)
        click.echo(f"wrote {path}")
    else:
        click.echo(explain_year(cfg, year, state, options.threads))


@main.command("serve")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("flight-data"), show_default=True,
              help="Where runs are kept, one warehouse per run; finished runs survive a restart.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (::1 for IPv6 loopback).")
@click.option("--port", type=click.IntRange(0, 65535), default=8815, show_default=True,
              help="Port to listen on; 0 picks a free one (printed).")
@click.option("--max-runs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Simulations running at once; more are refused until one finishes.")
@click.option("--token", envvar="ARROW_EVENTS_TOKEN",
              help="Require 'authorization: Bearer <token>' on every call (or set ARROW_EVENTS_TOKEN).")
@click.option("--tls-cert", type=click.Path(path_type=Path), help="PEM certificate: serve grpc+tls.")
@click.option("--tls-key", type=click.Path(path_type=Path), help="PEM private key of --tls-cert.")
@click.option("--query-memory", default="2GB", show_default=True,
              help="Memory a SQL query may use on the server (DataFusion's pool; the query's process is capped "
                   "at this plus 512 MiB of address space beyond its start-up size).")
@click.option("--query-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds a SQL query may take, streaming its result included; then its process is killed.")
@click.option("--query-workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="SQL queries running at once, each in a process of its own.")
@click.option("--query-max-result", default="1GB", show_default=True,
              help="Arrow data one SQL query may return.")
@click.option("--max-upload", default="1GB", show_default=True,
              help="Arrow data one census upload may hold (a 5M-row census is about 0.24 GB).")
@click.option("--upload-idle-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds an upload may send nothing before the server drops it.")
@click.option("--max-years", type=click.IntRange(1, 100), default=100, show_default=True,
              help="Years one run may simulate.")
@click.option("--shutdown-timeout", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="Seconds from SIGTERM to exit: runs are interrupted, queries and uploads cut off.")
@user_errors
def serve_command(data_dir: Path, host: str, port: int, token: str | None, tls_cert: Path | None,
                  tls_key: Path | None, **limits: Any) -> None:
    """Serve simulations over Arrow Flight: census in by do_put, events out by do_get, SQL by JSON
    tickets or Arrow Flight SQL (ADBC, JDBC, DBeaver: see docs/flight.md).

    Each run executes in its own process and is kept as a warehouse under --data-dir; each SQL query
    runs in a query worker process under --query-memory, --query-timeout and --query-max-result.
    SIGTERM or Ctrl-C stops the server within --shutdown-timeout; runs in progress are interrupted,
    their finished years kept.

    \b
    Examples:
      arrow-events serve --port 8815 --data-dir runs
      ARROW_EVENTS_TOKEN=secret arrow-events serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
    """
    from arrow_events.service.server import ServeOptions, serve  # pyarrow.flight only for this command

    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        click.echo(f"warning: serving on {host} without --token: anyone who can reach it can run simulations",
                   err=True)
    for name in ("query_memory", "query_max_result", "max_upload"):
        limits[name] = parse_size(limits[name], name)
    options = ServeOptions(data_dir, host, port, token=token, tls_cert=tls_cert, tls_key=tls_key, **limits)
    serve(options, ready=lambda location: click.echo(f"serving on {location}; runs in {data_dir}/", err=False))
    click.echo("stopped", err=True)
