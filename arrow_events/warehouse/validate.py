"""Check a warehouse against the output contract and the invariants of docs/model.md.

Everything here is recomputed from the files themselves (and the config stored in
each year's manifest), independently of the engine's SQL.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrow_events.config import Config, config_from_dict
from arrow_events.errors import UserError, first_line
from arrow_events.schema import EVENT_TYPES, KEYS, MOMENT_STRIDE, REQUIRED_TABLES, TABLES, contract_schemas
from arrow_events.warehouse import validate_contributions
from arrow_events.warehouse.manifest import YearManifest, read_manifest
from arrow_events.warehouse.writer import (
    DATA_FILE,
    LOCK_FILE,
    REJECTS,
    STAGING_PREFIX,
    manifest_path,
    partition_dir,
    sha256_file,
)

CHECKS = ["layout", "manifest", "schema", "keys", "order", "termination", "headcount", "continuity", "contributions"]


@dataclass
class Violation:
    check: str
    where: str
    detail: str


@dataclass
class ValidationReport:
    out: Path
    years: list[int] = field(default_factory=list)
    files: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, check: str, where: str, detail: str) -> None:
        self.violations.append(Violation(check, where, detail))

    def render(self, examples: int = 5) -> str:
        span = f"{self.years[0]}-{self.years[-1]} ({len(self.years)})" if self.years else "none"
        lines = [f"warehouse: {self.out}", f"years: {span}, data files: {self.files}",
                 f"checks: {', '.join(CHECKS)}"]
        if self.ok:
            lines.append("clean: no violations")
            return "\n".join(lines)
        by_check: dict[str, list[Violation]] = defaultdict(list)
        for v in self.violations:
            by_check[v.check].append(v)
        lines.append(f"{len(self.violations)} violation(s):")
        for check in CHECKS:
            found = by_check.get(check, [])
            if not found:
                continue
            lines.append(f"  {check}: {len(found)}")
            lines += [f"    {v.where}: {v.detail}" for v in found[:examples]]
            if len(found) > examples:
                lines.append(f"    ... and {len(found) - examples} more")
        return "\n".join(lines)


def validate_warehouse(out: str | Path) -> ValidationReport:
    out = Path(out)
    report = ValidationReport(out)
    if not out.is_dir():
        report.add("layout", str(out), "not a directory")
        return report
    report.years = _check_layout(out, report)
    tables, manifests = _read_years(out, report.years, report)
    for (name, year), table in tables.items():
        _check_keys_and_order(name, year, table, report)
    for year in report.years:
        if ("events", year) in tables and ("snapshot", year) in tables:
            _check_year(year, tables, manifests.get(year), report)
    return report


def _read_years(out: Path, years: list[int], report: ValidationReport
                ) -> tuple[dict[tuple[str, int], pa.Table], dict[int, YearManifest]]:
    """Each year's tables (checked against their schema and manifest) and manifests, as far as readable."""
    tables: dict[tuple[str, int], pa.Table] = {}
    manifests: dict[int, YearManifest] = {}
    for year in years:
        manifest = _read_manifest(out, year, report)
        if manifest is not None:
            manifests[year] = manifest
        for name, schema in contract_schemas(hours_of_service(manifest)).items():
            table = _read_checked(out, name, year, schema, manifest, report)
            if table is not None:
                tables[(name, year)] = table
                report.files += 1
    return tables, manifests


def _check_year(year: int, tables: dict[tuple[str, int], pa.Table], manifest: YearManifest | None,
                report: ValidationReport) -> None:
    """The invariants of one year: within it, against the year before, and against its config."""
    events, snapshot = tables[("events", year)], tables[("snapshot", year)]
    _check_termination(year, events, snapshot, report)
    prior = tables.get(("snapshot", year - 1))
    _check_scheduled(year, events, snapshot, prior, report)
    cfg = _manifest_config(year, manifest, report) if manifest is not None else None
    if cfg is not None:
        _check_headcount(year, events, snapshot, prior, cfg, manifest, report)
    if prior is not None:
        _check_continuity(year, prior, snapshot, report)
    contributions = tables.get(("contributions", year))
    if cfg is not None and contributions is not None:
        for where, detail in validate_contributions.check(year, contributions, snapshot, cfg):
            report.add("contributions", where, detail)


def hours_of_service(manifest: YearManifest | None) -> bool:
    """Whether the year's config requires hours of service (its snapshot then carries scheduled hours); an
    unusable config is reported by the year's checks."""
    try:
        return config_from_dict(tomllib.loads(manifest.config_toml or ""), "manifest").hours_of_service
    except (AttributeError, tomllib.TOMLDecodeError, UserError):
        return False


def _manifest_config(year: int, manifest: YearManifest, report: ValidationReport) -> Config | None:
    """The config the year was made with, from its manifest."""
    try:
        if not manifest.config_toml:
            raise KeyError("config_toml")
        return config_from_dict(tomllib.loads(manifest.config_toml), "manifest")
    except (KeyError, tomllib.TOMLDecodeError, UserError) as e:
        report.add("manifest", f"year {year}", f"no usable config in the manifest ({e})")
        return None


def _check_layout(out: Path, report: ValidationReport) -> list[int]:
    """The warehouse's entries, tables and manifests; returns every year any of them holds."""
    _check_entries(out, report)
    years_by_table = {name: _table_years(out / name, name in REQUIRED_TABLES, report) for name in TABLES}
    manifest_years = _manifest_years(out / "manifests", report)
    present = {name: ys for name, ys in years_by_table.items() if ys is not None}
    years = sorted(set().union(*present.values(), manifest_years))
    for year in years:
        missing = [n for n, ys in present.items() if year not in ys and n in REQUIRED_TABLES]
        if year not in manifest_years:
            missing.append("manifest")
        if missing:
            report.add("layout", f"year {year}", f"missing: {', '.join(missing)}")
    return years


def _check_entries(out: Path, report: ValidationReport) -> None:
    for entry in sorted(out.iterdir()):
        if entry.name.startswith(STAGING_PREFIX):
            report.add("layout", str(entry), "interrupted write: the next `arrow-events run` completes or removes it")
        elif entry.name == REJECTS.parts[0]:
            stray = [p.name for p in entry.iterdir() if p.name != REJECTS.name] if entry.is_dir() else [entry.name]
            if stray:
                report.add("layout", str(entry), f"expected only {REJECTS.name}, found {sorted(stray)}")
        elif entry.name not in (*TABLES, "manifests", LOCK_FILE):
            report.add("layout", str(entry), "stray entry in the warehouse")


def _table_years(root: Path, required: bool, report: ValidationReport) -> set[int] | None:
    """The years of one table's partitions; None when an optional table is absent (its manifests say so)."""
    if not root.is_dir():
        if required:
            report.add("layout", str(root), "missing table directory")
            return set()
        return None
    years = set()
    for d in sorted(root.iterdir()):
        year = _year_of(d.name, "simulation_year=", "")
        if year is None or not d.is_dir():
            report.add("layout", str(d), "stray entry (expected simulation_year=<year>/ directories only)")
            continue
        years.add(year)
        names = sorted(p.name for p in d.iterdir())
        if names != [DATA_FILE]:
            report.add("layout", str(d), f"expected exactly {DATA_FILE}, found {names}")
    return years


def _manifest_years(root: Path, report: ValidationReport) -> set[int]:
    if not root.is_dir():
        report.add("layout", str(root), "missing manifests directory")
        return set()
    years = set()
    for p in sorted(root.iterdir()):
        year = _year_of(p.name, "simulation_year=", ".json")
        if year is None:
            report.add("layout", str(p), "stray entry in manifests/")
        else:
            years.add(year)
    return years


def _year_of(name: str, prefix: str, suffix: str) -> int | None:
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    middle = name[len(prefix) : len(name) - len(suffix)] if suffix else name[len(prefix) :]
    return int(middle) if middle.isdigit() else None


def _read_manifest(out: Path, year: int, report: ValidationReport) -> YearManifest | None:
    path = manifest_path(out, year)
    if not path.is_file():
        return None
    try:
        return read_manifest(path)
    except (ValueError, UnicodeDecodeError, TypeError) as e:
        report.add("manifest", str(path), f"unreadable manifest ({e})")
        return None


def _read_checked(out: Path, name: str, year: int, schema: pa.Schema, manifest: YearManifest | None,
                  report: ValidationReport) -> pa.Table | None:
    path = partition_dir(out, name, year) / DATA_FILE
    if not path.is_file():
        if manifest is not None and name in manifest.files and name not in REQUIRED_TABLES:
            report.add("layout", str(path.relative_to(out)), "listed in the year's manifest but missing")
        return None
    where = str(path.relative_to(out))
    if manifest is not None:
        info = manifest.files.get(name)
        if info is None:
            report.add("manifest", where, "not listed in the year's manifest")
        elif sha256_file(path) != info["sha256"]:
            report.add("manifest", where, "sha256 differs from the manifest (file edited or truncated)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        report.add("manifest", where, f"unreadable Parquet ({first_line(e)})")
        return None
    if manifest is not None and name in manifest.files:
        rows = manifest.files[name]["rows"]
        if table.num_rows != rows:
            report.add("manifest", where, f"{table.num_rows} rows, manifest says {rows}")
    if table.schema.remove_metadata() != schema:
        diffs = [f"{f.name}: {f.type}" for f in table.schema if f.name not in schema.names
                 or schema.field(f.name).type != f.type]
        missing = [n for n in schema.names if n not in table.schema.names]
        report.add("schema", where, f"schema differs from the contract (unexpected {diffs}, missing {missing})")
        return None
    return table


def _row(table: pa.Table, i: int, columns: list[str]) -> tuple:
    return tuple(table[c][int(i)].as_py() for c in columns)


def _group_starts(table: pa.Table, columns: list[str]) -> np.ndarray:
    """True where a row's values in ``columns`` differ from the previous row's (row 0 included)."""
    starts = np.zeros(table.num_rows, dtype=bool)
    if table.num_rows:
        starts[0] = True
        for c in columns:
            col = table[c].combine_chunks()
            starts[1:] |= ~pc.equal(col.slice(1), col.slice(0, len(col) - 1)).fill_null(False).to_numpy(
                zero_copy_only=False)
    return starts


def _check_keys_and_order(name: str, year: int, table: pa.Table, report: ValidationReport) -> None:
    where = f"{name} {year}"
    keys = KEYS[name]
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]).to_numpy()
    unsorted = np.flatnonzero(order != np.arange(len(order)))
    if len(unsorted):
        report.add("order", where, f"rows not sorted by {', '.join(keys)} (row {unsorted[0] + 1})")
    ordered = table.take(order)
    new_key = _group_starts(ordered, keys)
    duplicates = np.flatnonzero(~new_key)
    if len(duplicates):
        report.add("keys", where, f"{len(duplicates)} duplicate key(s), e.g. {_row(ordered, duplicates[0], keys)}")
    if name == "events":
        _check_sequences(year, ordered, report)


def _check_sequences(year: int, events: pa.Table, report: ValidationReport) -> None:
    """event_seq is 1..n per employee and follows date, then the contract's type order."""
    where = f"events {year}"
    rank = pc.index_in(events["event_type"], pa.array(EVENT_TYPES))
    unknown = np.flatnonzero(rank.is_null().to_numpy(zero_copy_only=False))
    if len(unknown):
        report.add("keys", where, f"{len(unknown)} unknown event_type(s), e.g. {events['event_type'][int(unknown[0])]}")
        return
    dates = events["event_date"].combine_chunks()
    outside = np.flatnonzero(pc.not_equal(pc.year(dates), year).to_numpy(zero_copy_only=False))
    if len(outside):
        report.add("order", where, f"{len(outside)} event(s) dated outside the year, e.g. {dates[int(outside[0])]}")
    # rows are sorted by key (employee, design, event_seq): each employee's rows under a design are contiguous
    starts = _group_starts(events, ["scenario_id", "employee_id", "plan_design_id"])
    group = np.cumsum(starts) - 1
    first_row = np.flatnonzero(starts)
    expected_seq = np.arange(events.num_rows) - first_row[group] + 1
    seq = events["event_seq"].to_numpy()
    bad_seq = np.flatnonzero(seq != expected_seq)
    if len(bad_seq):
        report.add("order", where, f"{len(bad_seq)} event_seq value(s) not 1..n per employee, e.g. "
                   f"{_row(events, bad_seq[0], ['plan_design_id', 'employee_id', 'event_seq'])}")
    moment = dates.cast(pa.int32()).to_numpy().astype(np.int64) * MOMENT_STRIDE + rank.to_numpy(zero_copy_only=False)
    backwards = np.flatnonzero((np.diff(moment) < 0) & ~starts[1:]) + 1
    if len(backwards):
        report.add("order", where, f"{len(backwards)} event(s) whose event_seq does not follow date and type order, "
                   f"e.g. {_row(events, backwards[0], ['plan_design_id', 'employee_id', 'event_seq'])}")


def _check_termination(year: int, events: pa.Table, snapshot: pa.Table, report: ValidationReport) -> None:
    key = ["plan_design_id", "employee_id"]
    terms = events.filter(pc.equal(events["event_type"], "termination")).select([*key, "event_date"])
    terms = terms.rename_columns([*key, "termination_on"])
    joined = events.select([*key, "event_date", "event_type"]).join(terms, key, join_type="inner")
    late = joined.filter(pc.greater(joined["event_date"], joined["termination_on"]))
    if late.num_rows:
        r = late.slice(0, 1).to_pylist()[0]
        report.add("termination", f"events {year}", f"{late.num_rows} event(s) after a termination, e.g. "
                   f"{r['employee_id']}: {r['event_type']} on {r['event_date']} after {r['termination_on']}")
    snap = snapshot.filter(pc.equal(snapshot["status"], "terminated")).select([*key, "termination_date"])
    a = {tuple(r.values()) for r in snap.to_pylist()}
    b = {tuple(r.values()) for r in terms.to_pylist()}
    if a != b:
        report.add("termination", f"snapshot {year}", f"{len(a ^ b)} terminated rows disagree with events")


def expected_counts(n: int, p: int, scenario: Any, scheduled: int = 0) -> dict[str, int]:
    """docs/model.md §4 workforce counts, in exact rational arithmetic.

    ``scheduled`` cohort members leave on known dates this year. They count toward the
    experienced terminations; when they are more than DOMAIN's count, they are the count
    and the hires are redone from it, so the year still ends on target.
    """
    growth = Fraction(str(scenario.growth))
    term, nh = Fraction(str(scenario.termination_rate)), Fraction(str(scenario.new_hire_termination_rate))
    target = math.floor(n * (1 + growth) + Fraction(1, 2))

    def solve(exp_terms: int) -> dict[str, int]:
        net = target - (n - exp_terms)
        if net <= 0:
            return {"target": target, "scheduled_terms": scheduled, "experienced_terms": exp_terms - net,
                    "hires": 0, "new_hire_terms": 0}
        hires = math.ceil(net / (1 - nh))
        return {"target": target, "scheduled_terms": scheduled, "experienced_terms": exp_terms, "hires": hires,
                "new_hire_terms": hires - net}

    counts = solve(math.floor((n - p) * term + p * nh))
    if scheduled > counts["experienced_terms"]:
        counts = solve(scheduled)
    return counts


def _year_span(year: int) -> tuple[pa.Scalar, pa.Scalar]:
    return pa.scalar(dt.date(year, 1, 1)), pa.scalar(dt.date(year, 12, 31))


def _scheduled_in(cohort: pa.Table, year: int) -> pa.Table:
    """The cohort rows whose scheduled termination date falls in ``year``."""
    jan1, dec31 = _year_span(year)
    date = cohort["scheduled_termination_date"]
    return cohort.filter(pc.and_(pc.greater_equal(date, jan1), pc.less_equal(date, dec31)).fill_null(False))


def _actives(snapshot: pa.Table, design: str) -> pa.Table:
    active = pc.equal(snapshot["status"], "active")
    return snapshot.filter(pc.and_(active, pc.equal(snapshot["plan_design_id"], design)))


def _check_headcount(year: int, events: pa.Table, snapshot: pa.Table, prior: pa.Table | None, cfg: Config,
                     manifest: YearManifest, report: ValidationReport) -> None:
    designs = sorted(set(snapshot["plan_design_id"].to_pylist()))
    if not designs:
        return
    first = designs[0]
    if prior is not None:
        cohort = _actives(prior, first)
        jan1_prior = dt.date(year - 1, 1, 1)
        n = cohort.num_rows
        p = pc.sum(pc.greater_equal(cohort["hire_date"], pa.scalar(jan1_prior))).as_py() or 0
        scheduled = _scheduled_in(cohort, year).num_rows
    else:  # the first stored year: its cohort came from the census, as counted in the manifest
        counts = manifest.workforce_counts
        n, p = counts.get("n_active"), counts.get("n_prior_hires")
        if n is None or p is None:
            return
        # the census is not stored: its scheduled leavers are the events of that category
        first_events = events.filter(pc.equal(events["plan_design_id"], first))
        scheduled = pc.sum(pc.equal(first_events["event_category"], "scheduled_termination")).as_py() or 0
    want = expected_counts(n, p, cfg.scenario, scheduled)
    want["random_terms"] = want["experienced_terms"] - scheduled
    for design in designs:
        got = _actives(snapshot, design).num_rows
        if got != want["target"]:
            report.add("headcount", f"snapshot {year} {design}", f"{got} actives at year end, target {want['target']}")
        ev = events.filter(pc.equal(events["plan_design_id"], design))
        cats = ev["event_category"].value_counts().to_pylist()
        by_cat = {c["values"]: c["counts"] for c in cats}
        # scheduled leavers count toward experienced_terms; the rest are drawn
        for cat, key in (("experienced_termination", "random_terms"), ("scheduled_termination", "scheduled_terms"),
                         ("new_hire_termination", "new_hire_terms"), ("new_hire", "hires")):
            if by_cat.get(cat, 0) != want[key]:
                report.add("headcount", f"events {year} {design}", f"{by_cat.get(cat, 0)} {cat} events, "
                           f"expected {want[key]}")


def _check_scheduled(year: int, events: pa.Table, snapshot: pa.Table, prior: pa.Table | None,
                     report: ValidationReport) -> None:
    """Scheduled terminations happen on their date, in their year, and are carried until then.

    A snapshot carries a date only for an active whose date is after the year; with the
    prior snapshot stored, the scheduled_termination events are exactly its actives
    scheduled in this year, on their dates, and each later date is carried unchanged.
    """
    key = ["plan_design_id", "employee_id"]
    _, dec31 = _year_span(year)
    carried = snapshot.filter(pc.is_valid(snapshot["scheduled_termination_date"]))
    wrong = carried.filter(pc.or_(pc.not_equal(carried["status"], "active"),
                                  pc.less_equal(carried["scheduled_termination_date"], dec31)))
    if wrong.num_rows:
        r = wrong.slice(0, 1).to_pylist()[0]
        report.add("termination", f"snapshot {year}", f"{wrong.num_rows} row(s) carry a scheduled termination that "
                   f"is not an active's future date, e.g. {r['employee_id']}: {r['status']}, "
                   f"{r['scheduled_termination_date']}")
    if prior is None:
        return
    prior_active = prior.filter(pc.equal(prior["status"], "active"))
    due = _scheduled_in(prior_active, year).select([*key, "scheduled_termination_date"])
    happened = events.filter(pc.equal(events["event_category"], "scheduled_termination")).select([*key, "event_date"])
    want = {tuple(r.values()) for r in due.to_pylist()}
    got = {tuple(r.values()) for r in happened.to_pylist()}
    if want != got:
        e = sorted(want ^ got)[0]
        report.add("termination", f"events {year}", f"{len(want ^ got)} scheduled termination(s) differ from the "
                   f"{year - 1} snapshot's dates, e.g. {e[1]} ({e[2]}, {'missing' if e in want else 'unexpected'})")
    # each active's date is the one it had a year ago if that is still ahead, else none (new hires: none)
    later = prior_active.filter(pc.greater(prior_active["scheduled_termination_date"], dec31).fill_null(False))
    later = later.select([*key, "scheduled_termination_date"]).rename_columns([*key, "scheduled_before"])
    now = snapshot.filter(pc.equal(snapshot["status"], "active")).select([*key, "scheduled_termination_date"])
    both = now.join(later, key, join_type="left outer")
    before, after = both["scheduled_before"], both["scheduled_termination_date"]
    same = pc.or_(pc.and_(pc.is_null(before), pc.is_null(after)), pc.equal(before, after).fill_null(False))
    lost = both.filter(pc.invert(same))
    if lost.num_rows:
        r = lost.slice(0, 1).to_pylist()[0]
        report.add("termination", f"snapshot {year}", f"{lost.num_rows} active(s) whose scheduled termination "
                   f"differs from {year - 1}'s, e.g. {r['employee_id']}: {r['scheduled_before']} became "
                   f"{r['scheduled_termination_date']}")


def _check_continuity(year: int, prior: pa.Table, snapshot: pa.Table, report: ValidationReport) -> None:
    jan1 = pa.scalar(dt.date(year, 1, 1))
    for design in sorted(set(snapshot["plan_design_id"].to_pylist())):
        before = set(_actives(prior, design)["employee_id"].to_pylist())
        rows = snapshot.filter(pc.and_(pc.equal(snapshot["plan_design_id"], design),
                                       pc.less(snapshot["hire_date"], jan1)))
        now = set(rows["employee_id"].to_pylist())
        if before != now:
            gone, extra = sorted(before - now), sorted(now - before)
            report.add("continuity", f"snapshot {year} {design}",
                       f"cohort differs from {year - 1}'s actives: {len(gone)} missing (e.g. {gone[:3]}), "
                       f"{len(extra)} unexpected (e.g. {extra[:3]})")
