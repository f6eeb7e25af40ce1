"""Crashes mid-write, concurrent runs, and the memory limit, on real subprocesses."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from arrow_events.warehouse.validate import validate_warehouse

YEARS = ["--years", "2025-2027"]


def cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "arrow_events", *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def data_digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.glob("*/simulation_year=*/*.parquet"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """An uninterrupted 3-year run: what every recovered run must end up as."""
    cwd = tmp_path_factory.mktemp("ref")
    assert cli("run", *YEARS, "--out", "wh", cwd=cwd).returncode == 0
    return data_digests(cwd / "wh")


def readable_years(out: Path) -> list[int]:
    """What a reader sees: every visible year reads back, in both tables."""
    years = []
    for table in ("events", "snapshot"):
        if (out / table).is_dir():
            t = ds.dataset(out / table, format="parquet", partitioning="hive").to_table()
            years.append(sorted(set(t["simulation_year"].to_pylist())))
    return years[0] if years and all(y == years[0] for y in years) else years


POINTS = ["staged:2026", "journaled:2026", "swapped-events:2026", "swapped-snapshot:2026", "committed:2026"]


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_mid_write_keeps_finished_years_and_the_next_run_completes(tmp_path, reference, point):
    crashed = cli("run", *YEARS, "--out", "wh", cwd=tmp_path, env={"ARROW_EVENTS_FAILPOINT": point})
    assert crashed.returncode == -signal.SIGKILL
    out = tmp_path / "wh"
    # 2025 finished before the crash: intact, byte for byte
    done = {k: v for k, v in data_digests(out).items() if "2025" in k}
    assert done == {k: v for k, v in reference.items() if "2025" in k}
    # every visible file is a final one, never a half-written file
    assert all(reference[k] == v for k, v in data_digests(out).items())
    if point in ("staged:2026", "journaled:2026"):
        assert readable_years(out) == [2025]  # before the first rename: 2026 is not visible at all
    elif point == "swapped-events:2026":
        # killed in the instant between the two renames: 2026 is uncommitted (no manifest),
        # validate says so, and the next run rolls it forward
        assert not (out / "manifests" / "simulation_year=2026.json").exists()
        assert any("interrupted write" in v.detail for v in validate_warehouse(out).violations)
    else:
        assert readable_years(out) == [2025, 2026]
    again = cli("run", *YEARS, "--out", "wh", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    if point != "staged:2026":
        assert "completed the interrupted write of 2026" in again.stderr
    assert data_digests(out) == reference
    assert validate_warehouse(out).ok
    assert not list(out.glob(".staging-*"))


def test_sigkill_at_random_moments_never_leaves_a_broken_warehouse(tmp_path, reference):
    for delay in (0.8, 1.4, 2.0):  # in the imports, in the first year, later
        out = tmp_path / f"wh{delay}"
        proc = subprocess.Popen([sys.executable, "-m", "arrow_events", "run", *YEARS, "--out", str(out)],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if out.exists():
            visible = {k: v for k, v in data_digests(out).items()}
            assert all(reference[k] == v for k, v in visible.items())  # whatever is visible is final
        again = cli("run", *YEARS, "--out", str(out), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert data_digests(out) == reference


def test_second_run_on_the_same_warehouse_refuses(tmp_path):
    out = tmp_path / "wh"
    out.mkdir()
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running arrow-events holds it
    os.pwrite(fd, b"4242\n", 0)
    try:
        proc = cli("run", "--out", "wh", cwd=tmp_path)
        assert proc.returncode == 2
        assert "another arrow-events run (pid 4242) is writing this warehouse" in proc.stderr
        assert not list(out.glob("events"))  # nothing interleaved
    finally:
        os.close(fd)
    assert cli("run", "--years", "2025", "--out", "wh", cwd=tmp_path).returncode == 0


def test_lock_of_a_killed_run_is_released(tmp_path, reference):
    proc = cli("run", *YEARS, "--out", "wh", cwd=tmp_path, env={"ARROW_EVENTS_FAILPOINT": "staged:2025"})
    assert proc.returncode == -signal.SIGKILL
    again = cli("run", *YEARS, "--out", "wh", cwd=tmp_path)
    assert again.returncode == 0 and data_digests(tmp_path / "wh") == reference


def test_two_real_runs_at_once_never_interleave(tmp_path, reference):
    cmd = [sys.executable, "-m", "arrow_events", "run", *YEARS, "--out", "wh"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2])  # the second waits its turn or is refused, never both writing
    for code, err in results:
        if code == 2:
            assert "is writing this warehouse" in err
    assert data_digests(tmp_path / "wh") == reference


def test_memory_limit_failure_is_a_clean_error(tmp_path):
    census = tmp_path / "c.parquet"
    assert cli("census", "--employees", "30000", "--out", str(census), cwd=tmp_path).returncode == 0
    proc = cli("run", "--census", str(census), "--years", "2025", "--out", "wh", "--memory-limit", "2MB",
               cwd=tmp_path)
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: year 2025 needs more memory than the limit allows")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "wh" / "events").exists()


def test_memory_limit_that_fits_gives_identical_bytes(tmp_path, reference):
    proc = cli("run", *YEARS, "--out", "wh", "--memory-limit", "256MB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert data_digests(tmp_path / "wh") == reference
