"""The Flight service's runs: each a warehouse under the data directory, written by its own process.

Layout of ``--data-dir``:

    <run-id>/                 the run's warehouse (events/, snapshot/, manifests/), by the single writer
    .runs/<run-id>.json       the run's record: status, years, census summary, error
    .uploads/<id>.arrow       a census being uploaded, then read by its run's process
    .scratch/run-<run-id>/    the run's temporary files (DataFusion's spills, scratch relations)
    .scratch/query-<n>/       a query worker's temporary files

Uploads and scratch are removed when their run or worker ends (cancelled, dropped or killed as well),
and wholesale at start-up: nothing under them outlives the process that used it.

A run is ``checking`` (its process reads the census), then ``running``, then ``done``,
``failed`` (its one-line message in ``error``), ``cancelled`` or ``interrupted`` (the service
stopped during it). Years already committed stay readable whatever the ending. A census the
worker refuses leaves nothing behind. Records survive a restart; a run that was in progress
when the service stopped is ``interrupted``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pyarrow as pa

from arrow_events.config import Config, config_from_toml, for_run, load_config
from arrow_events.errors import UserError, years_text
from arrow_events.execute.pool import death, start_worker
from arrow_events.options import MAX_YEARS, RunOptions, parse_whole
from arrow_events.schema import contract_schemas
from arrow_events.service.requests import ClientGone, ServerBusy, shown
from arrow_events.service.worker import worker_main
from arrow_events.warehouse.manifest import read_manifest
from arrow_events.warehouse.validate import hours_of_service
from arrow_events.warehouse.writer import manifest_path, recover, write_json

ACTIVE = ("checking", "running")
RUN_ID = re.compile(r"[0-9a-f]{12}")
# the run options a simulate command may set (arrow_events.options), besides its config text
SIMULATE_KEYS = ("years", "seed", "threads", "engine", "memory_limit", "shard_rows", "contributions", "on_bad_rows",
                 "date_format")


@dataclass
class SimulateRequest:
    """A ``{"simulate": {...}}`` command, checked: what the worker runs."""

    cfg: Config
    years: list[int]
    options: RunOptions
    rows: int | None = None  # the census rows the client says it sends: a different count is refused


def parse_simulate(body: Any, max_years: int = MAX_YEARS) -> SimulateRequest:
    """Check the simulate command's keys and values; ``config`` is TOML text (never a path on the server),
    ``rows`` the census's row count if the client states it; at most ``max_years`` years."""
    if not isinstance(body, dict):
        raise UserError('simulate: expected an object, e.g. {"simulate": {"years": "2025-2027", "seed": 7}}')
    values = dict(body)
    text = values.pop("config", None)
    rows = values.pop("rows", None)
    if text is not None and not isinstance(text, str):
        raise UserError(f"simulate.config: expected TOML text, got {shown(text)}")
    if rows is not None:
        rows = parse_whole(rows, "simulate.rows", 1, 2**62)
    options = RunOptions.from_values(values, [*SIMULATE_KEYS, "rows"], where="simulate")
    try:
        cfg = config_from_toml(text) if text else load_config(None)
    except RecursionError:  # tomllib recurses per nesting level
        raise UserError("simulate.config: TOML nested too deeply") from None
    cfg, years, options = for_run(cfg, options, census=True)
    if len(years) > max_years:
        raise UserError(f"simulate.years: at most {max_years} years in one run (--max-years), got {len(years)}")
    return SimulateRequest(cfg, years, options, rows)


@dataclass
class Run:
    """One run: its record (saved as JSON) and, while it runs, its process."""

    id: str
    years: list[int]
    seed: int
    status: str = "checking"
    error: str | None = None
    census: dict[str, Any] = field(default_factory=dict)
    years_done: list[int] = field(default_factory=list)
    year_summaries: dict[str, Any] = field(default_factory=dict)
    hours_of_service: bool = False  # its config's: the snapshot then carries scheduled hours
    process: BaseProcess | None = field(default=None, repr=False)

    def record(self) -> dict[str, Any]:
        return {"run": self.id, "years": self.years, "seed": self.seed, "status": self.status, "error": self.error,
                "census": self.census, "years_done": sorted(self.years_done), "year_summaries": self.year_summaries,
                "hours_of_service": self.hours_of_service}

    @property
    def schemas(self) -> dict[str, pa.Schema]:
        """Its tables' schemas, as its files have them."""
        return contract_schemas(self.hours_of_service)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class RunStore:
    """The runs under a data directory, their worker processes, and waiting for their years."""

    def __init__(self, data_dir: Path, max_runs: int = 2) -> None:
        self.data_dir, self.max_runs = Path(data_dir), max_runs
        _prepare_data_dir(self.data_dir)
        self.records, self.uploads = self.data_dir / ".runs", self.data_dir / ".uploads"
        self.scratch = self.data_dir / ".scratch"
        self.records.mkdir(exist_ok=True)
        for leftover in (self.uploads, self.scratch):  # a previous server's, killed before it could tidy
            shutil.rmtree(leftover, ignore_errors=True)
            leftover.mkdir()
        self._cond = threading.Condition()
        self._runs: dict[str, Run] = {}
        self._starting = 0  # runs between their slot being taken and their process answering
        self._stopping = False
        self._spare: tuple[BaseProcess, Connection] | None = None
        for path in sorted(self.records.glob("*.json")):
            self._load(path)
        self._spawn_spare()

    # -- runs on disk -------------------------------------------------------------------------

    def out(self, run: Run) -> Path:
        return self.data_dir / run.id

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            run = Run(id=data["run"], years=data["years"], seed=data["seed"], status=data["status"],
                      error=data.get("error"), census=data.get("census", {}),
                      year_summaries=data.get("year_summaries", {}),
                      hours_of_service=bool(data.get("hours_of_service", False)))
        except (OSError, ValueError, KeyError, TypeError):
            return  # not a record of ours: ignored, never deleted
        if not RUN_ID.fullmatch(run.id) or path.stem != run.id:
            return
        out = self.out(run)
        run.years_done = [y for y in run.years if manifest_path(out, y).is_file()]
        if "hours_of_service" not in data and run.years_done:  # a record from before the flag: its files say
            run.hours_of_service = hours_of_service(read_manifest(manifest_path(out, run.years_done[0])))
        if run.active:  # the service stopped (or was killed) during the run
            run.status, run.error = "interrupted", _interrupted_text(run)
            _tidy(out)
            self._save(run)
        self._runs[run.id] = run

    def _save(self, run: Run) -> None:
        write_json(self.records / f"{run.id}.json", run.record())

    def runs(self) -> list[Run]:
        with self._cond:
            return sorted(self._runs.values(), key=lambda r: r.id)

    def get(self, run_id: Any) -> Run:
        with self._cond:
            run = self._runs.get(run_id) if isinstance(run_id, str) else None
        if run is None:
            raise UserError(f"run {shown(run_id)}: no such run on this server (list_flights shows the runs)")
        return run

    # -- starting a run -----------------------------------------------------------------------

    def upload_path(self) -> Path:
        """Where an upload is saved, under the data directory, until its run's process has read it."""
        return self.uploads / f"upload-{secrets.token_hex(8)}.arrow"

    def check_accepting(self) -> None:
        with self._cond:
            if self._stopping:
                raise ServerBusy("the server is shutting down")

    def start(self, request: SimulateRequest, census: Path) -> Run:
        """Start a run from a complete, saved census (the store owns the file from here on): take a slot,
        start the run's process, wait for its census check.

        Raises ServerBusy at --max-runs, UserError with the worker's message for a refused census.
        """
        try:
            return self._start(request, census)
        except BaseException:
            census.unlink(missing_ok=True)
            raise

    def _start(self, request: SimulateRequest, census: Path) -> Run:
        with self._cond:
            if self._stopping:
                raise ServerBusy("the server is shutting down")
            running = sum(r.active for r in self._runs.values()) + self._starting
            if running >= self.max_runs:
                raise ServerBusy(f"the server is running its limit of {self.max_runs} simulation(s) (--max-runs "
                                 f"{self.max_runs}); try again when one has finished")
            self._starting += 1
        try:
            run = self._launch(request, census)
        except BaseException:
            with self._cond:
                self._starting -= 1
            raise
        with self._cond:
            while run.status == "checking":
                self._cond.wait(0.25)
            if run.status == "refused":
                self._forget(run)
                raise UserError(run.error or "census refused")
        return run

    def _launch(self, request: SimulateRequest, census: Path) -> Run:
        run_id = secrets.token_hex(6)
        process, conn = self._take_spare()
        run = Run(run_id, request.years, request.cfg.scenario.seed, hours_of_service=request.cfg.hours_of_service,
                  process=process)
        with self._cond:
            self._runs[run_id] = run  # counted as active from here on, no longer as starting
            self._starting -= 1
        try:
            conn.send({"request": request, "census": str(census), "out": str(self.out(run)),
                       "scratch": str(self.scratch / f"run-{run_id}")})
        except OSError:  # the worker died meanwhile: the follower records the run as failed
            conn.close()
        threading.Thread(target=self._follow, args=(run, conn, census), daemon=True,
                         name=f"run-{run_id}").start()
        return run

    def _spawn_spare(self) -> None:
        self._spare = start_worker(worker_main, name="arrow-events-run")

    def _take_spare(self) -> tuple[BaseProcess, Connection]:
        """The spare worker if it is alive, else a new one. The next spare is started once a run ends
        (``_follow``): importing it meanwhile would take CPU from the run."""
        with self._cond:
            spare, self._spare = self._spare, None
            if spare is None or not spare[0].is_alive():
                self._spawn_spare()
                spare, self._spare = self._spare, None
        assert spare is not None
        return spare

    def _follow(self, run: Run, conn: Connection, census: Path) -> None:
        """The run's messages, until its process ends; then its final status."""
        try:
            while True:
                kind, payload = conn.recv()
                with self._cond:
                    try:
                        self._apply(run, kind, payload)
                    except Exception:  # a record that cannot be saved must not stop following the run
                        traceback.print_exc(file=sys.stderr)
                    self._cond.notify_all()
        except (EOFError, OSError):
            pass
        assert run.process is not None
        run.process.join()
        census.unlink(missing_ok=True)
        shutil.rmtree(self.scratch / f"run-{run.id}", ignore_errors=True)
        with self._cond:
            if run.active:
                run.status, run.error = "failed", f"the run ended before finishing: {death(run.process.exitcode)}"
            if run.status != "refused":
                _tidy(self.out(run))
                if run.id in self._runs:
                    self._save(run)
            run.process = None
            if self._spare is None and not self._stopping:
                self._spawn_spare()
            self._cond.notify_all()

    def _apply(self, run: Run, kind: str, payload: Any) -> None:
        if not run.active:  # cancelled or interrupted meanwhile: its process is being stopped
            return
        if kind == "refused":
            run.status, run.error = "refused", payload
            return
        if kind == "checked":
            run.status, run.census = "running", payload
        elif kind == "year":
            run.years_done.append(payload["year"])
            run.year_summaries[str(payload["year"])] = payload
        elif kind == "done":
            run.status = "done"
        elif kind == "failed":
            run.status, run.error = "failed", payload
        self._save(run)

    def _forget(self, run: Run) -> None:
        self._runs.pop(run.id, None)
        (self.records / f"{run.id}.json").unlink(missing_ok=True)
        shutil.rmtree(self.scratch / f"run-{run.id}", ignore_errors=True)
        shutil.rmtree(self.out(run), ignore_errors=True)

    # -- waiting, cancelling, dropping ----------------------------------------------------------

    def _wait(self, done: Callable[[], bool], cancelled: Callable[[], bool] | None) -> None:
        """Wait (holding the condition) until ``done()``, the service stops, or the client cancels."""
        while not done() and not self._stopping:
            if cancelled is not None and cancelled():
                raise ClientGone()
            self._cond.wait(0.25)

    def wait_year(self, run: Run, year: int, cancelled: Callable[[], bool] | None = None) -> Path:
        """The run's warehouse once ``year`` is committed (waiting for it); UserError if it never will be."""
        if year not in run.years:
            raise UserError(f"run {run.id}: no year {year} (its years are {years_text(run.years)})")
        with self._cond:
            self._wait(lambda: year in run.years_done or not run.active, cancelled)
            if year in run.years_done:
                return self.out(run)
        raise UserError(self._ended_text(run, f"before {year} was written"))

    def wait_finished(self, run: Run, cancelled: Callable[[], bool] | None = None) -> Path:
        """The run's warehouse once the run is done; UserError if it ended otherwise."""
        with self._cond:
            self._wait(lambda: not run.active, cancelled)
            if run.status == "done":
                return self.out(run)
        raise UserError(self._ended_text(run, "before finishing"))

    def wait_ended(self, run: Run, cancelled: Callable[[], bool] | None = None) -> Path:
        """The run's warehouse once the run has ended, however it ended."""
        with self._cond:
            self._wait(lambda: not run.active, cancelled)
            if run.active:
                raise UserError("the server is shutting down")
        return self.out(run)

    def _ended_text(self, run: Run, when: str) -> str:
        if self._stopping and run.active:
            return "the server is shutting down"
        kept = f"; years {years_text(run.years_done)} are readable" if run.years_done else ""
        if run.status == "failed":
            return f"run {run.id} failed: {run.error}"
        return f"run {run.id} was {run.status} {when}{kept}"

    def cancel(self, run: Run, status: str = "cancelled") -> None:
        """Stop a running run (its process is terminated); its committed years stay readable."""
        with self._cond:
            if not run.active:
                return
            run.status = status
            run.error = _interrupted_text(run) if status == "interrupted" else None
            process = run.process
            self._save(run)
            self._cond.notify_all()
        if process is not None:
            process.terminate()
            process.join(10)
            if process.is_alive():
                process.kill()
        with self._cond:  # the run's follower tidies the warehouse and records the years kept
            while run.process is not None:
                self._cond.wait(0.25)

    def drop(self, run: Run) -> None:
        """Cancel the run if it runs, then delete its warehouse and record."""
        self.cancel(run)
        with self._cond:
            self._forget(run)

    def stop(self, timeout: float = 10.0) -> None:
        """Shutting down within ``timeout`` seconds: waiters return, runs in progress are interrupted (their
        processes terminated together, killed at the deadline), the spare exits."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._stopping = True
            active = [r for r in self._runs.values() if r.active]
            for run in active:
                run.status, run.error = "interrupted", _interrupted_text(run)
                self._save(run)
            processes = [r.process for r in active if r.process is not None]
            spare, self._spare = self._spare, None
            self._cond.notify_all()
        for process in processes:
            process.terminate()
        if spare is not None:
            spare[1].close()  # it reads EOF and exits
            processes.append(spare[0])
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1)
        with self._cond:  # the followers tidy the warehouses and record the years kept
            while any(r.process is not None for r in active) and time.monotonic() < deadline:
                self._cond.wait(0.1)


def _interrupted_text(run: Run) -> str:
    kept = f"years {years_text(run.years_done)} were kept" if run.years_done else "no year was written"
    return f"the server stopped during the run; {kept}"


def _tidy(out: Path) -> None:
    """Complete or discard a year a stopped process left staged (the writer's own recovery)."""
    if out.is_dir():
        try:
            recover(out)
        except UserError:
            pass


def _prepare_data_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"{data_dir}: data directory exists and is not a directory")
    if data_dir.is_dir():
        names = [n for n in os.listdir(data_dir) if n not in (".runs", ".uploads", ".scratch")]
        if names and not (data_dir / ".runs").is_dir():
            raise UserError(f"{data_dir}: not an arrow-events service directory (it holds {len(names)} other "
                            f"entr{'y' if len(names) == 1 else 'ies'}, e.g. {sorted(names)[0]!r}); choose an empty "
                            "or new directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{data_dir}: cannot create the data directory ({e.strerror})") from None
