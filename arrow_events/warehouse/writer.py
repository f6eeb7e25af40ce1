"""The single writer: one year's partitions, swapped in whole, with a manifest beside them.

Layout under the warehouse directory:

    events/simulation_year=<t>/part-0.parquet
    snapshot/simulation_year=<t>/part-0.parquet
    manifests/simulation_year=<t>.json

A year is committed in steps that survive a crash at any point:

1. its files are written into the hidden directory ``.staging-<t>/`` (readers
   skip names that start with '.');
2. ``.staging-<t>/commit.json`` records the year's manifest: from here on the
   year rolls forward;
3. each partition directory is renamed into place (rename is atomic: a reader
   sees the old partition or the new one, never a half-written file);
4. the manifest is written, and the staging directory removed.

A run killed before step 2 leaves the previous state of the year; killed after
it, the next run (``recover``) finishes the swaps. Only the instant between two
renames shows one table's new partition beside the other's old one. One run at
a time writes a warehouse: ``lock`` holds an advisory lock on ``.lock`` that
the kernel releases when the process dies. Parquet bytes depend only on the
table: sorted rows, a fixed file name.

An OS error (full disk, read-only file system, ...) becomes a ``WarehouseError``
naming the path and the OS reason. Failing before step 2, a year's staging is
removed and the year keeps its previous state; failing after it, the staging stays
for the next run to roll forward. Only a directory that is new, empty, or already
a warehouse is written to (``check_warehouse``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.errors import UserError, WarehouseError, os_reason
from arrow_events.schema import REQUIRED_TABLES, TABLES
from arrow_events.warehouse.manifest import YearManifest, read_manifest
from arrow_events.warehouse.parquet import YearStage

DATA_FILE = "part-0.parquet"


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
    except OSError as e:
        e.filename = e.filename or str(path)
        raise
    finally:
        os.close(fd)


STAGING_PREFIX = ".staging-"
JOURNAL = "commit.json"
LOCK_FILE = ".lock"
# what a warehouse holds: its tables, manifests, lock and the census rows set aside
WAREHOUSE_ENTRIES = frozenset({*TABLES, "manifests", LOCK_FILE, "rejects"})
OPTIONAL_TABLES = [name for name in TABLES if name not in REQUIRED_TABLES]


def check_warehouse(out: Path) -> None:
    """Say why ``out`` cannot be a warehouse, without creating anything.

    ``out`` may be new, an empty directory, or a warehouse (one that holds a year, even half-written, may
    hold other entries too: ``validate`` reports them). A directory holding anything else is refused, so
    unrelated files are never mixed into a warehouse.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: output path exists and is not a directory")
    if not out.is_dir():
        return
    try:
        names = os.listdir(out)
    except OSError as e:
        raise WarehouseError(f"{out}: cannot list the output directory ({os_reason(e)})") from None
    others = sorted((n for n in names if n not in WAREHOUSE_ENTRIES and not n.startswith(STAGING_PREFIX)),
                    key=lambda n: (n.startswith("."), n))
    if others and not _holds_a_year(out, names):
        count = f"{len(others)} other entr{'y' if len(others) == 1 else 'ies'}"
        raise UserError(f"{out}: not an arrow-events warehouse (it holds {count}, e.g. {others[0]!r}); "
                        "choose an empty or new directory, or an existing warehouse")


def _holds_a_year(out: Path, names: list[str]) -> bool:
    """A manifest, a partition or a staged year: arrow-events has written here."""
    if any(n.startswith(STAGING_PREFIX) for n in names):
        return True
    manifests = out / "manifests"
    if manifests.is_dir() and any(manifests.glob("simulation_year=*.json")):
        return True
    return any(existing_years(out, table) for table in TABLES)


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


def failpoint(name: str) -> None:
    """Crash here (SIGKILL) when ARROW_EVENTS_FAILPOINT names this point: the crash-safety tests' hook."""
    if os.environ.get("ARROW_EVENTS_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def staged_year(out: Path, year: int, schemas: dict[str, pa.Schema]) -> Iterator[YearStage]:
    """Step 1: a year's tables stream into ``.staging-<year>/`` while the block writes them, shard by shard.

    Stopped by an error or Ctrl-C, the staging is removed and the year keeps its previous state; an
    OS error raises ``WarehouseError`` naming the file and the reason.
    """
    staging = out / f"{STAGING_PREFIX}{year}"
    with _discarded_on_failure(staging, year):
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        stage = YearStage(staging, schemas, DATA_FILE)
        try:
            yield stage
            stage.close()
        except BaseException:
            stage.abort()
            raise
        failpoint(f"staged:{year}")


@contextmanager
def _discarded_on_failure(staging: Path, year: int) -> Iterator[None]:
    """Until its journal is written, a year that fails is dropped: it keeps its previous state."""
    try:
        yield
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(e, OSError):
            raise WarehouseError(f"{e.filename or staging}: cannot write year {year} ({os_reason(e)})") from None
        raise


def commit_year(out: Path, year: int, stage: YearStage, manifest: YearManifest,
                on_commit: Callable[[], None] | None = None) -> YearManifest:
    """Steps 2-4 for a staged year: journal, swap in, manifest. Returns the manifest written.

    Ctrl-C waits for the commit (renames and the manifest) and for ``on_commit``, so a caller counts a
    year it was told is committed, or none.
    """
    staging = stage.staging
    with _discarded_on_failure(staging, year):
        files = {name: _file_entry(stream.path, year, name, stream.rows) for name, stream in stage.streams.items()}
        manifest = replace(manifest, files=files)
        write_json(staging / JOURNAL, manifest.to_json())
        failpoint(f"journaled:{year}")
    try:
        with ctrl_c_held():
            _roll_forward(out, year, staging, manifest)
            if on_commit:
                on_commit()
    except OSError as e:
        raise WarehouseError(f"{e.filename or staging}: cannot commit year {year} ({os_reason(e)}); "
                             f"it is staged and journaled, and the next run completes it") from None
    return manifest


def _roll_forward(out: Path, year: int, staging: Path, manifest: YearManifest) -> None:
    """Steps 3 and 4: swap in whatever is still staged, write the manifest, drop the staging."""
    for name in manifest.files:
        if (staging / name).is_dir():
            _swap_in(staging / name, partition_dir(out, name, year), staging / f"old-{name}")
            failpoint(f"swapped-{name}:{year}")
    for name in OPTIONAL_TABLES:  # a table this year no longer has goes: it would describe another run
        if name not in manifest.files and partition_dir(out, name, year).exists():
            _park(partition_dir(out, name, year), staging / f"old-{name}")
    write_json(manifest_path(out, year), manifest.to_json())
    failpoint(f"committed:{year}")
    shutil.rmtree(staging)


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it: a commit takes milliseconds and is never
    stopped halfway by Ctrl-C (SIGKILL can be: the journal covers that). Only in the main thread, the one
    that runs Python's signal handlers, and only over a handler installed from Python."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


def recover(out: Path) -> list[str]:
    """Finish or discard what an interrupted run left; returns what was done, for the user."""
    done: list[str] = []
    if not out.is_dir():
        return done
    for staging in sorted(out.glob(f"{STAGING_PREFIX}*")):
        year_text = staging.name[len(STAGING_PREFIX):]
        journal = staging / JOURNAL
        if year_text.isdigit() and journal.is_file():
            try:
                manifest = read_manifest(journal)
                with ctrl_c_held():
                    _roll_forward(out, int(year_text), staging, manifest)
            except OSError as e:
                raise WarehouseError(f"{e.filename or staging}: cannot complete the interrupted write of "
                                     f"{year_text} ({os_reason(e)})") from None
            done.append(f"completed the interrupted write of {year_text}")
        else:
            shutil.rmtree(staging, ignore_errors=True)
            done.append(f"removed an unfinished write of {year_text} (the year kept its previous state)")
    for tmp in (out / "manifests").glob(".*.tmp-*") if (out / "manifests").is_dir() else []:
        tmp.unlink(missing_ok=True)
    return done


@contextmanager
def lock(out: Path) -> Iterator[None]:
    """Hold the warehouse's write lock for the block, or refuse with the holder's pid."""
    with exclusive(out / LOCK_FILE, "warehouse lock file",
                   lambda pid: f"{out}: another arrow-events run (pid {pid}) is writing this warehouse; "
                               "wait for it to finish or stop it, then run again"):
        yield


@contextmanager
def exclusive(path: Path, what: str, busy: Callable[[str], str]) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created, holding our pid) for the block; when another
    process holds it, a UserError ``busy(its pid)``. ``what`` names the file in an OS error."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise WarehouseError(f"{path}: cannot open the {what} ({os_reason(e)})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(busy(os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown")) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as e:
            raise WarehouseError(f"{path}: cannot write the {what} ({os_reason(e)})") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock; so does the process dying


def _file_entry(path: Path, year: int, name: str, rows: int) -> dict[str, Any]:
    """A staged file, made durable, as its manifest entry."""
    try:
        with path.open("rb") as f:
            os.fsync(f.fileno())
    except OSError as e:
        e.filename = e.filename or str(path)
        raise
    return {
        "path": f"{name}/simulation_year={year}/{DATA_FILE}",
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _swap_in(staged: Path, target: Path, old: Path) -> None:
    """Rename ``staged`` to ``target``; a previous ``target`` is parked at ``old`` (inside the staging)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        _park(target, old)
    os.rename(staged, target)
    _fsync_dir(target.parent)


def _park(target: Path, old: Path) -> None:
    """Move ``target`` out of the warehouse to ``old`` (inside the staging, removed with it)."""
    if old.exists():
        shutil.rmtree(old)
    os.rename(target, old)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A JSON record (a manifest, a run's record): replaced whole and durable, never seen half-written."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a hidden temporary beside ``path``, make it durable, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        write(tmp)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        e.filename = e.filename or str(tmp)
        raise
    finally:
        tmp.unlink(missing_ok=True)  # after a failure: nothing half-written stays behind


REJECTS = Path("rejects") / "census_rejects.csv"


def write_rejects(out: Path, rejects: pa.Table | None) -> Path | None:
    """Put the census rows set aside at ``<out>/rejects/census_rejects.csv`` (or remove an older list)."""
    path = out / REJECTS
    if rejects is None:
        path.unlink(missing_ok=True)
        return None
    replace_atomically(path, lambda tmp: pacsv.write_csv(rejects, tmp))
    return path


def read_partition(out: Path, table: str, year: int, active_only: bool = False) -> pa.Table:
    """A table's year partition; of the snapshot, optionally only its active rows."""
    return pq.read_table(partition_dir(out, table, year) / DATA_FILE,
                         filters=[("status", "=", "active")] if active_only else None)
