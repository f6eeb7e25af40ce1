"""What a user can do to a warehouse: OS errors, a directory that is not a warehouse, Ctrl-C.

Each ends in one line naming what happened (exit 2, or 130 for Ctrl-C), never a traceback, and leaves
the years already written complete and valid. The tests run as root, which read-only permissions do not
stop: they use what root cannot do (a `.lock` that is a directory, a path under a regular file), real
read-only and full file systems in a private mount namespace where `unshare` allows it, and injected
OSErrors (a write redirected to /dev/full is the kernel's own ENOSPC).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arrow_events import load_config, run
from arrow_events.census.intake import synthetic_census, write_census
from arrow_events.errors import Interrupted, UserError, WarehouseError
from arrow_events.warehouse import writer as writer_mod
from arrow_events.warehouse.parquet import ParquetFile
from arrow_events.warehouse.validate import validate_warehouse

FULL = "No space left on device"


def cli(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arrow_events", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def one_line(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    """The process failed with ``code`` and said exactly one line on stderr, no traceback, nothing on stdout."""
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == "", proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def manifest_years(out: Path) -> list[int]:
    return sorted(int(p.stem.split("=")[1]) for p in (out / "manifests").glob("simulation_year=*.json"))


def partition_inodes(out: Path, year: int) -> dict[str, int]:
    """A committed write swaps in new partition directories and a new manifest: new inodes."""
    paths = [writer_mod.partition_dir(out, t, year) for t in ("events", "snapshot")]
    paths.append(writer_mod.manifest_path(out, year))
    return {str(p): p.stat().st_ino for p in paths}


def assert_clean(out: Path, years: list[int]) -> None:
    report = validate_warehouse(out)
    assert report.ok, report.render()
    assert report.years == years
    assert not list(out.glob(".staging-*"))


def unshare_mounts() -> bool:
    """Can this process mount in a private namespace (root with CAP_SYS_ADMIN and util-linux's unshare)?"""
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(not unshare_mounts(), reason="needs `unshare -m` and mount (root in CI has them)")


def in_namespace(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace: its mounts vanish with it."""
    return subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=180)


PY = f"{sys.executable} -m arrow_events"

# --- 1. OS errors on the warehouse: one line naming the path and the OS reason, exit 2


def test_lock_file_that_is_a_directory(tmp_path):
    assert cli("run", "--years", "2025", "--out", "wh", cwd=tmp_path).returncode == 0
    (tmp_path / "wh" / ".lock").unlink()
    (tmp_path / "wh" / ".lock").mkdir()
    line = one_line(cli("run", "--years", "2025", "--out", "wh", cwd=tmp_path))
    assert line == "error: wh/.lock: cannot open the warehouse lock file (Is a directory)"


@pytest.mark.parametrize("out", ["afile/wh", "afile/deeper/wh"])
def test_out_under_a_regular_file(tmp_path, out):
    (tmp_path / "afile").write_text("not a directory")
    line = one_line(cli("run", "--out", out, cwd=tmp_path))
    assert line == f"error: {out}: cannot create output directory (Not a directory)"
    with pytest.raises(UserError, match="Not a directory"):
        run(load_config(None), tmp_path / out, [2025])


@needs_mounts
def test_read_only_file_system(tmp_path):
    # a new warehouse on a read-only mount: refused at the lock file; one inside a read-only tree: at mkdir
    (tmp_path / "ro" / "wh").mkdir(parents=True)
    proc = in_namespace(f"mount --bind ro ro && mount -o remount,ro,bind ro && {PY} run --out ro/wh; echo rc=$?; "
                        f"{PY} run --out ro/wh/sub", tmp_path)
    first, second = proc.stderr.strip().splitlines()
    assert first == "error: ro/wh/.lock: cannot open the warehouse lock file (Read-only file system)"
    assert second == "error: ro/wh/sub: cannot create output directory (Read-only file system)"
    assert proc.stdout.strip() == "rc=2" and proc.returncode == 2
    assert os.listdir(tmp_path / "ro" / "wh") == []


@needs_mounts
def test_disk_full_during_a_real_run(tmp_path):
    # a file system with room for one year but not two: the kernel's own ENOSPC while staging 2026
    ref = tmp_path / "ref"
    run(load_config(None), ref, [2025])
    year_bytes = sum(p.stat().st_size for p in ref.rglob("*") if p.is_file())
    (tmp_path / "small").mkdir()
    size_k = year_bytes * 3 // 2 // 1024
    proc = in_namespace(f"mount -t tmpfs -o size={size_k}k tmpfs small && {PY} run --years 2025-2027 "
                        f"--out small/wh; echo rc=$? >&2; {PY} validate small/wh", tmp_path)
    error, rc = proc.stderr.strip().splitlines()
    assert rc == "rc=2", proc.stderr
    assert re.fullmatch(r"error: small/wh/\.staging-2026/(events|snapshot)/part-0\.parquet: cannot write year 2026 "
                        rf"\({FULL}\); year 2025 was kept", error), error
    assert "clean: no violations" in proc.stdout  # 2025 complete and valid, no staging left behind
    assert "years: 2025-2025 (1)" in proc.stdout


def redirect_to_dev_full(monkeypatch, year: int) -> None:
    """Year ``year``'s Parquet files go to /dev/full: the real ENOSPC that pyarrow raises."""
    real = pq.ParquetWriter

    def parquet_writer(where, schema, **kw):
        if f".staging-{year}" not in str(where):
            return real(where, schema, **kw)
        # the device opened here, never passed as a path: a writer that fails may delete its path (as root!)
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode), "/dev/full is not the kernel's full device"
        return real(pa.OSFile("/dev/full", "wb"), schema, **kw)

    monkeypatch.setattr(pq, "ParquetWriter", parquet_writer)


def test_disk_full_while_staging_keeps_the_previous_state(tmp_path, monkeypatch):
    cfg = load_config(None)
    out = tmp_path / "wh"
    run(cfg, out, [2025, 2026, 2027])
    before = {y: partition_inodes(out, y) for y in (2026, 2027)}
    redirect_to_dev_full(monkeypatch, 2026)
    with pytest.raises(WarehouseError) as caught:
        run(cfg, out, [2025, 2026, 2027])
    assert str(caught.value) == (f"{out}/.staging-2026/events/part-0.parquet: cannot write year 2026 ({FULL}); "
                                 "year 2025 was kept")
    assert {y: partition_inodes(out, y) for y in (2026, 2027)} == before  # 2026 untouched, 2027 not reached
    assert_clean(out, [2025, 2026, 2027])


def test_disk_full_on_a_first_year(tmp_path, monkeypatch):
    redirect_to_dev_full(monkeypatch, 2025)
    with pytest.raises(WarehouseError, match=rf"cannot write year 2025 \({FULL}\); no year was written$"):
        run(load_config(None), tmp_path / "wh", [2025, 2026])
    assert os.listdir(tmp_path / "wh") == [".lock"]


def test_disk_full_writing_the_manifest_is_completed_by_the_next_run(tmp_path, monkeypatch):
    cfg = load_config(None)
    out = tmp_path / "wh"
    real = writer_mod.write_json

    def write_json(path, data):
        if path == writer_mod.manifest_path(out, 2026):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path.parent / f".{path.name}.tmp-1"))
        return real(path, data)

    monkeypatch.setattr(writer_mod, "write_json", write_json)
    with pytest.raises(WarehouseError) as caught:
        run(cfg, out, [2025, 2026, 2027])
    assert str(caught.value) == (f"{out}/manifests/.simulation_year=2026.json.tmp-1: cannot commit year 2026 ({FULL}); "
                                 "it is staged and journaled, and the next run completes it; year 2025 was kept")
    assert (out / ".staging-2026" / "commit.json").is_file()  # the journal stays for the roll-forward
    monkeypatch.undo()
    report = run(cfg, out, [2025])
    assert report.recovered == ["completed the interrupted write of 2026"]
    assert_clean(out, [2025, 2026])


def test_read_only_while_renaming_and_while_recovering(tmp_path, monkeypatch):
    cfg = load_config(None)
    out = tmp_path / "wh"
    real = os.rename

    def rename(src, dst):
        if ".staging-2026" in str(src):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(src), None, str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(WarehouseError) as caught:
        run(cfg, out, [2025, 2026])
    assert str(caught.value) == (f"{out}/.staging-2026/events: cannot commit year 2026 (Read-only file system); "
                                 "it is staged and journaled, and the next run completes it; year 2025 was kept")
    # the next run tries to roll 2026 forward first, and says why it cannot
    with pytest.raises(WarehouseError) as caught:
        run(cfg, out, [2025, 2026])
    assert str(caught.value) == (f"{out}/.staging-2026/contributions: cannot complete the interrupted write of 2026 "
                                 "(Read-only file system); no year was written")
    monkeypatch.undo()
    assert run(cfg, out, [2025]).recovered == ["completed the interrupted write of 2026"]
    assert_clean(out, [2025, 2026])


INJECT_FULL_DISK = """
import sys
import pyarrow as pa
import pyarrow.parquet as pq
real = pq.ParquetWriter
def writer(where, schema, **kw):  # the device opened here, never passed as a path a writer could delete
    if ".staging-2026" not in str(where):
        return real(where, schema, **kw)
    return real(pa.OSFile("/dev/full", "wb"), schema, **kw)
pq.ParquetWriter = writer
from arrow_events.cli import main
main(sys.argv[1:], prog_name="arrow-events")
"""


def test_disk_full_on_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-c", INJECT_FULL_DISK, "run", "--years", "2025-2027", "--out", "wh"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert one_line(proc) == (f"error: wh/.staging-2026/events/part-0.parquet: cannot write year 2026 ({FULL}); "
                              "year 2025 was kept")
    assert_clean(tmp_path / "wh", [2025])


# --- 2. a directory that is not a warehouse is refused before anything is created


def test_non_empty_directory_that_is_not_a_warehouse_is_refused(tmp_path):
    docs = tmp_path / "Documents"
    (docs / "photos").mkdir(parents=True)
    (docs / "notes.txt").write_text("mine")
    (docs / ".hidden").write_text("")
    (docs / "rejects").mkdir()  # a name a warehouse may hold: not counted, and no proof of a warehouse
    line = one_line(cli("run", "--out", "Documents", cwd=tmp_path))
    assert line == ("error: Documents: not an arrow-events warehouse (it holds 3 other entries, e.g. 'notes.txt'); "
                    "choose an empty or new directory, or an existing warehouse")
    assert sorted(os.listdir(docs)) == [".hidden", "notes.txt", "photos", "rejects"]  # nothing created
    (docs / "photos").rmdir()
    (docs / ".hidden").unlink()
    with pytest.raises(UserError, match=r"not an arrow-events warehouse \(it holds 1 other entry, e.g. 'notes.txt'\)"):
        run(load_config(None), docs, [2025])
    assert sorted(os.listdir(docs)) == ["notes.txt", "rejects"]


def test_empty_new_and_existing_warehouses_are_written(tmp_path):
    cfg = load_config(None)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [y.year for y in run(cfg, empty, [2025]).years] == [2025]
    # beside a warehouse's own entries: rejects/, and anything once it holds a year
    (empty / "rejects").mkdir()
    (empty / "rejects" / "census_rejects.csv").write_text("employee_id\n")
    (empty / "notes.txt").write_text("added by hand")
    assert [y.year for y in run(cfg, empty, [2025, 2026]).years] == [2025, 2026]
    # a directory left by a run killed before its first year committed: only .lock and a staging
    crashed = tmp_path / "crashed"
    (crashed / ".staging-2025" / "events").mkdir(parents=True)
    (crashed / ".lock").write_text("")
    report = run(cfg, crashed, [2025])
    assert report.recovered == ["removed an unfinished write of 2025 (the year kept its previous state)"]
    assert_clean(crashed, [2025])


def test_validate_and_compare_do_not_refuse_a_directory(tmp_path):
    (tmp_path / "Documents").mkdir()
    (tmp_path / "Documents" / "notes.txt").write_text("mine")
    for args in (["validate", "Documents"], ["compare", "Documents", "Documents"]):
        proc = cli(*args, cwd=tmp_path)
        assert "not an arrow-events warehouse" not in proc.stderr + proc.stdout
    assert "stray entry in the warehouse" in cli("validate", "Documents", cwd=tmp_path).stdout


# --- 3. Ctrl-C: exit 130, one line saying which years were kept


def test_ctrl_c_while_staging_keeps_the_finished_years(tmp_path, monkeypatch):
    real = ParquetFile.write

    def write(stream, table):
        if ".staging-2026" in str(stream.path):
            raise KeyboardInterrupt
        return real(stream, table)

    monkeypatch.setattr(ParquetFile, "write", write)
    out = tmp_path / "wh"
    with pytest.raises(Interrupted) as caught:
        run(load_config(None), out, [2025, 2026, 2027])
    assert (caught.value.kept, caught.value.remaining) == ([2025], [2026, 2027])
    assert str(caught.value) == (f"kept 2025 in {out}/ (complete and valid); 2026-2027 not written; "
                                 "re-run them with years=2026-2027")
    assert_clean(out, [2025])  # the staging of 2026 was removed
    # stopped in its first year, a re-run leaves the years it did not finish as they were
    before = partition_inodes(out, 2025)
    with pytest.raises(Interrupted) as caught:
        run(load_config(None), out, [2026, 2027])
    assert str(caught.value) == (f"no year was written to {out}/; 2026-2027 not written; "
                                 "re-run them with years=2026-2027")
    assert partition_inodes(out, 2025) == before
    assert_clean(out, [2025])


def test_ctrl_c_during_a_commit_waits_for_it(tmp_path, monkeypatch):
    # a real SIGINT between the two partition renames: the commit finishes, then the run stops
    real = writer_mod.failpoint

    def failpoint(name):
        if name == "swapped-events:2026":
            os.kill(os.getpid(), signal.SIGINT)
        return real(name)

    monkeypatch.setattr(writer_mod, "failpoint", failpoint)
    out = tmp_path / "wh"
    with pytest.raises(Interrupted) as caught:
        run(load_config(None), out, [2025, 2026, 2027, 2028])
    assert str(caught.value) == (f"kept 2025-2026 in {out}/ (complete and valid); 2027-2028 not written; "
                                 "re-run them with years=2027-2028")
    assert_clean(out, [2025, 2026])


def test_ctrl_c_on_a_real_run(tmp_path):
    census = tmp_path / "census.parquet"
    write_census(synthetic_census(300_000, 42, 2025), census)  # a few seconds a year on two cores
    out = tmp_path / "wh"
    proc = subprocess.Popen([sys.executable, "-m", "arrow_events", "run", "--census", str(census),
                             "--years", "2025-2029", "--out", "wh"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (out / "manifests" / "simulation_year=2025.json").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "2025 was not written in 90 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = one_line(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), code=130)
    # 2026 may have finished between the manifest appearing and the signal: the message says which
    kept = manifest_years(out)
    assert kept in ([2025], [2025, 2026])
    rest = f"{kept[-1] + 1}-2029"
    done = "2025" if kept == [2025] else "2025-2026"
    assert line == (f"interrupted: kept {done} in wh/ (complete and valid); {rest} not written; "
                    f"re-run them with --years {rest}")
    assert_clean(out, kept)
