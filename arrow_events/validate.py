"""Check a warehouse against the output contract and the DOMAIN.md invariants.

Everything here is recomputed from the files themselves (and the config stored in
each year's manifest), independently of the engine's SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrow_events.config import config_from_dict
from arrow_events.errors import UserError
from arrow_events.params import EVENT_TYPES
from arrow_events.schema import TABLES
from arrow_events.writer import DATA_FILE, LOCK_FILE, STAGING_PREFIX, manifest_path, partition_dir, sha256_file

KEYS = {
    "events": ["scenario_id", "plan_design_id", "employee_id", "event_seq"],
    "snapshot": ["scenario_id", "plan_design_id", "employee_id"],
}
CHECKS = ["layout", "manifest", "schema", "keys", "order", "termination", "headcount", "continuity"]


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
    years = _check_layout(out, report)
    report.years = years
    tables: dict[tuple[str, int], pa.Table] = {}
    manifests: dict[int, dict[str, Any]] = {}
    for year in years:
        manifest = _read_manifest(out, year, report)
        if manifest is not None:
            manifests[year] = manifest
        for name, schema in TABLES.items():
            table = _read_checked(out, name, year, schema, manifest, report)
            if table is not None:
                tables[(name, year)] = table
                report.files += 1
    for (name, year), table in tables.items():
        _check_keys_and_order(name, year, table, report)
    for year in years:
        events, snapshot = tables.get(("events", year)), tables.get(("snapshot", year))
        if events is not None and snapshot is not None:
            _check_termination(year, events, snapshot, report)
            prior = tables.get(("snapshot", year - 1))
            if year in manifests:
                _check_headcount(year, events, snapshot, prior, manifests[year], report)
            if prior is not None:
                _check_continuity(year, prior, snapshot, report)
    return report


def _check_layout(out: Path, report: ValidationReport) -> list[int]:
    years_by_table: dict[str, set[int]] = {}
    for entry in sorted(out.iterdir()):
        if entry.name.startswith(STAGING_PREFIX):
            report.add("layout", str(entry), "interrupted write: the next `arrow-events run` completes or removes it")
        elif entry.name not in ("events", "snapshot", "manifests", LOCK_FILE):
            report.add("layout", str(entry), "stray entry in the warehouse")
    for name in TABLES:
        root = out / name
        years_by_table[name] = set()
        if not root.is_dir():
            report.add("layout", str(root), "missing table directory")
            continue
        for d in sorted(root.iterdir()):
            year = _year_of(d.name, "simulation_year=", "")
            if year is None or not d.is_dir():
                report.add("layout", str(d), "stray entry (expected simulation_year=<year>/ directories only)")
                continue
            years_by_table[name].add(year)
            names = sorted(p.name for p in d.iterdir())
            if names != [DATA_FILE]:
                report.add("layout", str(d), f"expected exactly {DATA_FILE}, found {names}")
    manifest_years: set[int] = set()
    mroot = out / "manifests"
    if mroot.is_dir():
        for p in sorted(mroot.iterdir()):
            year = _year_of(p.name, "simulation_year=", ".json")
            if year is None:
                report.add("layout", str(p), "stray entry in manifests/")
            else:
                manifest_years.add(year)
    else:
        report.add("layout", str(mroot), "missing manifests directory")
    years = sorted(set().union(*years_by_table.values(), manifest_years))
    for year in years:
        missing = [n for n, ys in years_by_table.items() if year not in ys]
        if year not in manifest_years:
            missing.append("manifest")
        if missing:
            report.add("layout", f"year {year}", f"missing: {', '.join(missing)}")
    return years


def _year_of(name: str, prefix: str, suffix: str) -> int | None:
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    middle = name[len(prefix) : len(name) - len(suffix)] if suffix else name[len(prefix) :]
    return int(middle) if middle.isdigit() else None


def _read_manifest(out: Path, year: int, report: ValidationReport) -> dict[str, Any] | None:
    path = manifest_path(out, year)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        report.add("manifest", str(path), f"unreadable manifest ({e})")
        return None


def _read_checked(out: Path, name: str, year: int, schema: pa.Schema, manifest: dict[str, Any] | None,
                  report: ValidationReport) -> pa.Table | None:
    path = partition_dir(out, name, year) / DATA_FILE
    if not path.is_file():
        return None
    where = str(path.relative_to(out))
    if manifest is not None:
        info = manifest.get("files", {}).get(name)
        if info is None:
            report.add("manifest", where, "not listed in the year's manifest")
        elif sha256_file(path) != info["sha256"]:
            report.add("manifest", where, "sha256 differs from the manifest (file edited or truncated)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        report.add("manifest", where, f"unreadable Parquet ({str(e).splitlines()[0]})")
        return None
    if manifest is not None and name in manifest.get("files", {}):
        rows = manifest["files"][name]["rows"]
        if table.num_rows != rows:
            report.add("manifest", where, f"{table.num_rows} rows, manifest says {rows}")
    if table.schema.remove_metadata() != schema:
        diffs = [f"{f.name}: {f.type}" for f in table.schema if f.name not in schema.names
                 or schema.field(f.name).type != f.type]
        missing = [n for n in schema.names if n not in table.schema.names]
        report.add("schema", where, f"schema differs from the contract (unexpected {diffs}, missing {missing})")
        return None
    return table


def _check_keys_and_order(name: str, year: int, table: pa.Table, report: ValidationReport) -> None:
    where = f"{name} {year}"
    keys = KEYS[name]
    rows = table.select(keys).to_pylist()
    tuples = [tuple(r[k] for k in keys) for r in rows]
    if len(set(tuples)) != len(tuples):
        seen: set[tuple] = set()
        dups = [t for t in tuples if t in seen or seen.add(t)]
        report.add("keys", where, f"{len(dups)} duplicate key(s), e.g. {dups[0]}")
    if tuples != sorted(tuples):
        first = next(i for i in range(1, len(tuples)) if tuples[i] < tuples[i - 1])
        report.add("order", where, f"rows not sorted by {', '.join(keys)} (row {first + 1})")
    if name == "events":
        _check_sequences(year, table, report)


def _check_sequences(year: int, events: pa.Table, report: ValidationReport) -> None:
    rank = {t: i for i, t in enumerate(EVENT_TYPES)}
    cols = events.select(["plan_design_id", "employee_id", "event_seq", "event_date", "event_type"]).to_pydict()
    groups: dict[tuple[str, str], list[tuple[int, dt.date, int]]] = defaultdict(list)
    for design, emp, seq, date, etype in zip(*cols.values(), strict=True):
        groups[(design, emp)].append((seq, date, rank.get(etype, -1)))
        if etype not in rank:
            report.add("keys", f"events {year}", f"unknown event_type {etype!r} for {emp}")
        if date.year != year:
            report.add("order", f"events {year}", f"{emp}: event dated {date} outside the year")
    for (design, emp), evs in groups.items():
        evs.sort()
        if [s for s, _, _ in evs] != list(range(1, len(evs) + 1)):
            report.add("order", f"events {year}", f"{design}/{emp}: event_seq not 1..{len(evs)}")
        elif [(d, r) for _, d, r in evs] != sorted((d, r) for _, d, r in evs):
            report.add("order", f"events {year}", f"{design}/{emp}: event_seq does not follow date and type order")


def _check_termination(year: int, events: pa.Table, snapshot: pa.Table, report: ValidationReport) -> None:
    terms = events.filter(pc.equal(events["event_type"], "termination"))
    term_date = {(r["plan_design_id"], r["employee_id"]): r["event_date"]
                 for r in terms.select(["plan_design_id", "employee_id", "event_date"]).to_pylist()}
    for r in events.select(["plan_design_id", "employee_id", "event_date", "event_type"]).to_pylist():
        t = term_date.get((r["plan_design_id"], r["employee_id"]))
        if t is not None and r["event_date"] > t:
            report.add("termination", f"events {year}",
                       f"{r['employee_id']}: {r['event_type']} on {r['event_date']} after termination on {t}")
    snap_terms = {(r["plan_design_id"], r["employee_id"]): r["termination_date"]
                  for r in snapshot.filter(pc.equal(snapshot["status"], "terminated"))
                  .select(["plan_design_id", "employee_id", "termination_date"]).to_pylist()}
    if snap_terms != term_date:
        report.add("termination", f"snapshot {year}",
                   f"{len(set(snap_terms.items()) ^ set(term_date.items()))} terminated rows disagree with events")


def expected_counts(n: int, p: int, scenario: Any) -> dict[str, int]:
    """DOMAIN.md section 4 workforce counts, in exact rational arithmetic."""
    growth = Fraction(str(scenario.growth))
    term, nh = Fraction(str(scenario.termination_rate)), Fraction(str(scenario.new_hire_termination_rate))
    target = math.floor(n * (1 + growth) + Fraction(1, 2))
    exp_terms = math.floor((n - p) * term + p * nh)
    net = target - (n - exp_terms)
    if net <= 0:
        return {"target": target, "experienced_terms": exp_terms - net, "hires": 0, "new_hire_terms": 0}
    hires = math.ceil(net / (1 - nh))
    return {"target": target, "experienced_terms": exp_terms, "hires": hires, "new_hire_terms": hires - net}


def _actives(snapshot: pa.Table, design: str) -> pa.Table:
    active = pc.equal(snapshot["status"], "active")
    return snapshot.filter(pc.and_(active, pc.equal(snapshot["plan_design_id"], design)))


def _check_headcount(year: int, events: pa.Table, snapshot: pa.Table, prior: pa.Table | None,
                     manifest: dict[str, Any], report: ValidationReport) -> None:
    try:
        cfg = config_from_dict(tomllib.loads(manifest["config_toml"]), "manifest")
    except (KeyError, tomllib.TOMLDecodeError, UserError) as e:
        report.add("manifest", f"year {year}", f"no usable config in the manifest ({e})")
        return
    designs = sorted(set(snapshot["plan_design_id"].to_pylist()))
    if not designs:
        return
    first = designs[0]
    if prior is not None:
        cohort = _actives(prior, first)
        jan1_prior = dt.date(year - 1, 1, 1)
        n = cohort.num_rows
        p = pc.sum(pc.greater_equal(cohort["hire_date"], pa.scalar(jan1_prior))).as_py() or 0
    else:  # the first stored year: its cohort came from the census, as counted in the manifest
        counts = manifest.get("workforce_counts", {})
        n, p = counts.get("n_active"), counts.get("n_prior_hires")
        if n is None or p is None:
            return
    want = expected_counts(n, p, cfg.scenario)
    for design in designs:
        got = _actives(snapshot, design).num_rows
        if got != want["target"]:
            report.add("headcount", f"snapshot {year} {design}", f"{got} actives at year end, target {want['target']}")
        ev = events.filter(pc.equal(events["plan_design_id"], design))
        cats = ev["event_category"].value_counts().to_pylist()
        by_cat = {c["values"]: c["counts"] for c in cats}
        for cat, key in (("experienced_termination", "experienced_terms"), ("new_hire_termination", "new_hire_terms"),
                         ("new_hire", "hires")):
            if by_cat.get(cat, 0) != want[key]:
                report.add("headcount", f"events {year} {design}", f"{by_cat.get(cat, 0)} {cat} events, "
                           f"expected {want[key]}")


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
