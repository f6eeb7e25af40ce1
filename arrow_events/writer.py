"""The single writer: one year's partitions, swapped in whole, with a manifest beside them.

Layout under the warehouse directory:

    events/simulation_year=<t>/part-0.parquet
    snapshot/simulation_year=<t>/part-0.parquet
    manifests/simulation_year=<t>.json

A year is written into a hidden staging directory (readers skip names that
start with '.'), then each partition directory is renamed into place. Rename
is atomic, so a reader sees the old year or the new one, never a half-written
file. Parquet bytes depend only on the table: sorted rows, a fixed file name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arrow_events.errors import UserError

DATA_FILE = "part-0.parquet"
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1


def partition_dir(out: Path, table: str, year: int) -> Path:
    return out / table / f"simulation_year={year}"


def manifest_path(out: Path, year: int) -> Path:
    return out / "manifests" / f"simulation_year={year}.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_warehouse(out: Path) -> None:
    """Say why ``out`` cannot be a warehouse, without creating anything."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: output path exists and is not a directory")


def prepare_warehouse(out: Path) -> None:
    """Create the warehouse directory, or say why it cannot be one."""
    check_warehouse(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out}: cannot create output directory ({e.strerror})") from None


def existing_years(out: Path, table: str = "events") -> list[int]:
    root = out / table
    if not root.is_dir():
        return []
    years = []
    for d in root.iterdir():
        if d.is_dir() and d.name.startswith("simulation_year="):
            suffix = d.name.split("=", 1)[1]
            if suffix.isdigit():
                years.append(int(suffix))
    return sorted(years)


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)
    with path.open("rb") as f:
        os.fsync(f.fileno())


def write_year(out: Path, year: int, tables: dict[str, pa.Table], manifest: dict[str, Any]) -> dict[str, Any]:
    """Write ``tables`` (name -> contract table) as year ``year``; returns the manifest written."""
    staging = out / f".staging-{year}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        # Parquet encoding releases the GIL: the year's tables encode side by side
        with ThreadPoolExecutor(max_workers=len(tables)) as pool:
            infos = pool.map(lambda item: _stage(staging, year, *item), tables.items())
            files = dict(zip(tables, infos, strict=True))
        for name in tables:
            _swap_in(staging / name, partition_dir(out, name, year))
        manifest = {**manifest, "files": files}
        _write_json(manifest_path(out, year), manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _stage(staging: Path, year: int, name: str, table: pa.Table) -> dict[str, Any]:
    d = staging / name
    d.mkdir(parents=True)
    path = d / DATA_FILE
    write_parquet(table, path)
    return {
        "path": f"{name}/simulation_year={year}/{DATA_FILE}",
        "rows": table.num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _swap_in(staged: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.parent / f".old-{target.name}-{os.getpid()}"
    if target.exists():
        os.rename(target, old)
    os.rename(staged, target)
    _fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_partition(out: Path, table: str, year: int) -> pa.Table:
    return pq.read_table(partition_dir(out, table, year) / DATA_FILE)
