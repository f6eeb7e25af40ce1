"""Compare two warehouses: identical files, or where and how they differ; first of all, whether the two runs
were made with different seeds or configs (then differing files are expected, not a fault)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrow_events.config import config_from_toml
from arrow_events.errors import UserError
from arrow_events.schema import KEYS, TABLES
from arrow_events.warehouse.manifest import read_manifest
from arrow_events.warehouse.results import plain_text
from arrow_events.warehouse.writer import DATA_FILE, existing_years, manifest_path, partition_dir, sha256_file

# what a table's rows are counted by when the files differ
COUNT_BY = {"events": "event_type", "snapshot": "status", "contributions": "plan_design_id"}
# and the amounts it is totalled on
TOTALS = {"contributions": ["plan_compensation", "employee_deferrals", "employer_match", "employer_core"]}


@dataclass
class TableDiff:
    table: str
    year: int
    problem: str = ""  # set when one side has no file or it cannot be read
    rows: tuple[int, int] = (0, 0)
    count_changes: dict[str, tuple[int, int]] = field(default_factory=dict)
    total_changes: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    only_in_a: list[tuple] = field(default_factory=list)
    only_in_b: list[tuple] = field(default_factory=list)
    changed: list[tuple[tuple, dict[str, tuple]]] = field(default_factory=list)  # the first examples
    changed_rows: int = 0


@dataclass
class CompareReport:
    a: Path
    b: Path
    files_compared: int = 0
    diffs: list[TableDiff] = field(default_factory=list)
    runs_differ: list[str] = field(default_factory=list)  # how the two runs' seeds, scenarios and configs differ

    @property
    def identical(self) -> bool:
        return not self.diffs

    def render(self, examples: int = 5) -> str:
        said = [f"note: the two runs differ in {what}" for what in self.runs_differ]
        if self.identical:
            return "\n".join([*said, f"identical: {self.files_compared} data files match byte for byte"])
        lines = [*said, f"different: {len(self.diffs)} of {self.files_compared} data files differ"]
        for d in self.diffs:
            head = f"{d.table} {d.year}"
            if d.problem:
                lines.append(f"  {head}: {d.problem}")
                continue
            lines.append(f"  {head}: rows {d.rows[0]:,} vs {d.rows[1]:,}")
            for value, (x, y) in sorted(d.count_changes.items()):
                lines.append(f"    {COUNT_BY[d.table]}={value}: {x:,} vs {y:,} ({y - x:+,})")
            for column, (x, y) in d.total_changes.items():
                lines.append(f"    total {column}: {x:,} vs {y:,} ({y - x:+,})")
            for key in d.only_in_a[:examples]:
                lines.append(f"    only in A: ({', '.join(plain_text(k) for k in key)})")
            for key in d.only_in_b[:examples]:
                lines.append(f"    only in B: ({', '.join(plain_text(k) for k in key)})")
            for key, cols in d.changed[:examples]:
                shown = ", ".join(f"{c}: {plain_text(x)} vs {plain_text(y)}" for c, (x, y) in cols.items())
                lines.append(f"    differs at ({', '.join(plain_text(k) for k in key)}): {shown}")
            hidden = d.changed_rows - len(d.changed[:examples])
            if hidden > 0:
                lines.append(f"    ... and {hidden} more rows with differing values")
        return "\n".join(lines)


def compare_warehouses(a: str | Path, b: str | Path, examples: int = 5) -> CompareReport:
    a, b = Path(a), Path(b)
    for d in (a, b):
        if not d.is_dir():
            raise UserError(f"{d}: not a warehouse directory")
    report = CompareReport(a, b, runs_differ=runs_differ(a, b))
    for table in TABLES:
        for year in sorted(set(existing_years(a, table)) | set(existing_years(b, table))):
            report.files_compared += 1
            fa, fb = partition_dir(a, table, year) / DATA_FILE, partition_dir(b, table, year) / DATA_FILE
            if not fa.is_file() or not fb.is_file():
                side = "A" if not fa.is_file() else "B"
                report.diffs.append(TableDiff(table, year, problem=f"no data file in {side}"))
            elif sha256_file(fa) != sha256_file(fb):
                report.diffs.append(_diff_table(table, year, fa, fb, examples))
    return report


def runs_differ(a: Path, b: Path) -> list[str]:
    """How the runs behind two warehouses differ, from their manifests (the first year both hold): seed,
    scenario, plan designs and config, with the first config keys that differ."""
    years = sorted(set(existing_years(a, "snapshot")) & set(existing_years(b, "snapshot")))
    if not years:
        return []
    try:
        ma, mb = (read_manifest(manifest_path(w, years[0])) for w in (a, b))
    except (OSError, ValueError, TypeError):
        return []
    said = []
    if ma.seed != mb.seed:
        said.append(f"seed ({ma.seed} vs {mb.seed})")
    if ma.scenario_id != mb.scenario_id:
        said.append(f"scenario_id ({ma.scenario_id} vs {mb.scenario_id})")
    keys = _config_keys_that_differ(ma.config_toml, mb.config_toml)
    if keys:
        more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
        said.append(f"config ({', '.join(keys[:3])}{more})")
    return said


def _config_keys_that_differ(a: str | None, b: str | None) -> list[str]:
    """'[scenario].growth 0.03 vs 0.05', the config keys whose values differ (seed left to the seed's line)."""
    try:
        da, db = (config_from_toml(t or "", "manifest").model_dump(exclude={"engine"}) for t in (a, b))
    except UserError:
        return [] if a == b else ["unreadable in a manifest"]
    found = []
    for section in sorted(da.keys() | db.keys()):
        x, y = da.get(section), db.get(section)
        if isinstance(x, dict) and isinstance(y, dict):
            found += [f"[{section}].{k} {plain_text(x.get(k))} vs {plain_text(y.get(k))}"
                      for k in sorted(x.keys() | y.keys()) if x.get(k) != y.get(k) and k != "seed"]
        elif x != y:
            found.append(f"{section} differ" if section == "plan_designs" else f"[{section}] differs")
    return found


def _read(path: Path) -> pa.Table | None:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError):
        return None


def _diff_table(table: str, year: int, fa: Path, fb: Path, examples: int) -> TableDiff:
    ta, tb = _read(fa), _read(fb)
    if ta is None or tb is None:
        return TableDiff(table, year, problem=f"unreadable Parquet in {'A' if ta is None else 'B'}")
    if ta.schema.remove_metadata() != tb.schema.remove_metadata():
        return TableDiff(table, year, problem="the two files have different schemas")
    diff = TableDiff(table, year, rows=(ta.num_rows, tb.num_rows))
    by = COUNT_BY[table]
    ca, cb = _counts(ta, by), _counts(tb, by)
    diff.count_changes = {k: (ca.get(k, 0), cb.get(k, 0)) for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k)}
    totals = {c: (pc.sum(ta[c]).as_py() or Decimal(0), pc.sum(tb[c]).as_py() or Decimal(0))
              for c in TOTALS.get(table, [])}
    diff.total_changes = {c: (x, y) for c, (x, y) in totals.items() if x != y}
    keys = KEYS[table]
    values = [c for c in ta.column_names if c not in keys]
    joined = (
        ta.append_column("_in_a", pa.array(np.ones(ta.num_rows, bool)))
        .join(tb.append_column("_in_b", pa.array(np.ones(tb.num_rows, bool))), keys, join_type="full outer",
              left_suffix="_a", right_suffix="_b", coalesce_keys=True)
        .sort_by([(k, "ascending") for k in keys])
    )
    in_a, in_b = joined["_in_a"].is_valid(), joined["_in_b"].is_valid()
    diff.only_in_a = _keys(joined.filter(pc.and_(in_a, pc.invert(in_b))), keys, examples)
    diff.only_in_b = _keys(joined.filter(pc.and_(in_b, pc.invert(in_a))), keys, examples)
    both = joined.filter(pc.and_(in_a, in_b))
    differs = {c: _differs(both[f"{c}_a"], both[f"{c}_b"]) for c in values}
    any_diff = np.zeros(both.num_rows, bool)
    for mask in differs.values():
        any_diff |= mask
    diff.changed_rows = int(any_diff.sum())
    for i in np.flatnonzero(any_diff)[:examples]:
        key = tuple(both[k][int(i)].as_py() for k in keys)
        cols = {c: (both[f"{c}_a"][int(i)].as_py(), both[f"{c}_b"][int(i)].as_py()) for c, m in differs.items() if m[i]}
        diff.changed.append((key, cols))
    if not (diff.count_changes or diff.total_changes or diff.only_in_a or diff.only_in_b or diff.changed):
        diff.problem = "same rows, different bytes (encoding or metadata)"
    return diff


def _counts(t: pa.Table, column: str) -> dict:
    return {c["values"]: c["counts"] for c in t[column].value_counts().to_pylist()}


def _keys(t: pa.Table, keys: list[str], examples: int) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in t.slice(0, examples).select(keys).to_pylist()]


def _differs(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Row-wise: the values differ, or exactly one of them is null."""
    equal = pc.equal(a, b).fill_null(False)
    both_null = pc.and_(a.is_null(), b.is_null())
    return np.asarray(pc.invert(pc.or_(equal, both_null)).to_numpy(zero_copy_only=False), dtype=bool)
