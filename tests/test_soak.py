"""The soak (issue 19): 8 clients at once against a real server subprocess on loopback, mixing uploads (some cut
off), SQL tickets (some runaway, some memory-hungry), Flight SQL statements, cancels and status calls. After it
the server still answers, its RSS stayed bounded, no process, upload or scratch directory is left over, and
every finished run validates.

Its length is ARROW_EVENTS_SOAK_S seconds (12 in the suite; the README's figures come from 60:
``ARROW_EVENTS_SOAK_S=60 python -m pytest -q -n0 -s tests/test_soak.py``). The figures are printed as one JSON
line starting with ``soak:``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl

from arrow_events import synthetic_census
from arrow_events.service.wire import pack_any
from tests.test_flight_limits import HUNGRY, RUNAWAY, rss_mb, wait_for
from tests.test_service import action, put, start_server

CLIENTS = 8
SECONDS = float(os.environ.get("ARROW_EVENTS_SOAK_S", "12"))
RSS_BOUND_MB = 1024  # the server process's own resident memory, whatever its clients do
# the limits a client may meet, by words of their one-line message -> the name the figures give them
EXPECTED = {"--query-timeout": "query-timeout", "--query-memory": "query-memory",
            "--query-max-result": "query-max-result", "--max-runs": "max-runs",
            "query workers are busy": "workers-busy", "no run was started": "upload-refused",
            "was cancelled": "run-cancelled",
            "cancelled: the client went away": "client-gone", "run ended before": "run-ended"}


def children(pid: int) -> list[int]:
    """The live worker processes (runs', queries') of ``pid``: not multiprocessing's resource tracker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has ended; init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Skip(Exception):
    """Nothing to ask yet (no finished run): not a request."""


class Soak:
    def __init__(self, location: str, data: Path) -> None:
        self.location, self.data = location, data
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # "kind: outcome"
        self.unexpected: list[str] = []
        self.runs: list[str] = []
        self.done: list[str] = []  # runs a status call saw finished: queries go to these
        self.censuses = [synthetic_census(n, 11 + n, 2025) for n in (200, 800, 3000)]

    def note(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.requests[kind] += 1
            self.outcomes[f"{kind}: {outcome}"] += 1

    def client(self, index: int, deadline: float) -> None:
        rng = random.Random(index)
        kinds = ["upload", "status", "sql", "runaway", "hungry", "cut", "cancel", "flightsql", "list"]
        with fl.connect(self.location) as client:
            while time.monotonic() < deadline:
                kind = rng.choice(kinds)
                try:
                    getattr(self, f"do_{kind}")(client, rng)
                    self.note(kind, "ok")
                except Skip:
                    time.sleep(0.05)
                except (fl.FlightError, pa.ArrowException) as e:
                    text = str(e)
                    limit = next((name for words, name in EXPECTED.items() if words in text), None)
                    if kind == "cut" and isinstance(e, fl.FlightTimedOutError):
                        limit = "client-deadline"
                    self.note(kind, limit or "unexpected")
                    if limit is None:
                        with self.lock:
                            self.unexpected.append(f"{kind}: {text[:300]}")

    def any_run(self, rng: random.Random) -> str:
        with self.lock:
            if not self.runs:
                raise Skip()
            return rng.choice(self.runs)

    def done_run(self, rng: random.Random) -> str:
        with self.lock:
            if not self.done:
                raise Skip()
            return rng.choice(self.done)

    def do_upload(self, client: fl.FlightClient, rng: random.Random) -> None:
        census = rng.choice(self.censuses)
        run = put(client, census, years=rng.choice(["2025", "2025-2026"]), seed=rng.randrange(1000),
                  rows=census.num_rows)
        with self.lock:
            self.runs.append(run)

    def do_cut(self, client: fl.FlightClient, rng: random.Random) -> None:
        """An upload cut off by the client's deadline halfway."""
        census = self.censuses[2]
        descriptor = fl.FlightDescriptor.for_command(json.dumps({"simulate": {"years": "2025"}}))
        writer, reader = client.do_put(descriptor, census.schema, options=fl.FlightCallOptions(timeout=0.3))
        for batch in census.slice(0, 1500).to_batches(max_chunksize=300):
            writer.write_batch(batch)
            time.sleep(0.1)
        writer.done_writing()
        reader.read()
        raise AssertionError("a cut-off upload was answered")

    def do_status(self, client: fl.FlightClient, rng: random.Random) -> None:
        run = self.any_run(rng)
        if action(client, "status", run)["status"] == "done":
            with self.lock:
                if run not in self.done:
                    self.done.append(run)

    def do_list(self, client: fl.FlightClient, rng: random.Random) -> None:
        list(client.list_flights())

    def do_cancel(self, client: fl.FlightClient, rng: random.Random) -> None:
        action(client, "cancel", self.any_run(rng))  # a finished run stays as it is

    def _sql(self, client: fl.FlightClient, rng: random.Random, sql: str) -> pa.Table:
        run = self.done_run(rng)
        return client.do_get(fl.Ticket(json.dumps({"run": run, "sql": sql}))).read_all()

    def do_sql(self, client: fl.FlightClient, rng: random.Random) -> None:
        self._sql(client, rng, "SELECT event_type, count(*) AS n FROM events GROUP BY 1")

    def do_runaway(self, client: fl.FlightClient, rng: random.Random) -> None:
        self._sql(client, rng, rng.choice(RUNAWAY))

    def do_hungry(self, client: fl.FlightClient, rng: random.Random) -> None:
        self._sql(client, rng, HUNGRY)

    def do_flightsql(self, client: fl.FlightClient, rng: random.Random) -> None:
        run = self.done_run(rng)  # Flight SQL shows finished runs
        sql = f'SELECT simulation_year, count(*) AS n FROM "{run}".snapshot GROUP BY 1'
        info = client.get_flight_info(fl.FlightDescriptor.for_command(pack_any("CommandStatementQuery", [(1, sql)])))
        for endpoint in info.endpoints:
            client.do_get(endpoint.ticket).read_all()


def test_soak(tmp_path):
    data = tmp_path / "runs"
    proc, location = start_server(data, "--max-runs", "2", "--query-workers", "2", "--query-timeout", "3",
                                  "--query-memory", "64MB", "--query-max-result", "8MB", "--upload-idle-timeout",
                                  "2", "--shutdown-timeout", "10")
    soak = Soak(location, data)
    try:
        rss_before = rss_mb(proc.pid)
        peak = rss_before
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=soak.client, args=(i, deadline)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.25)
        for t in threads:
            t.join(60)
        assert not soak.unexpected, sorted({u[:160] for u in soak.unexpected})

        with fl.connect(location) as client:  # the server still answers; every run ends, every finished one validates
            wait_for(lambda: all(action(client, "status", r)["status"] not in ("checking", "running")
                                 for r in soak.runs), 120, "every run ended")
            statuses = Counter(action(client, "status", r)["status"] for r in soak.runs)
            validated = 0
            for run in soak.runs:
                if action(client, "status", run)["status"] == "done":
                    report = action(client, "validate", run)
                    assert report["ok"], report["report"]
                    validated += 1
            assert validated > 0
            records = {p.stem for p in (data / ".runs").iterdir()}
            assert records == set(soak.runs)  # no cut-off upload became a run
            wait_for(lambda: not list((data / ".uploads").iterdir()), 10, "no upload left")
            assert not list((data / ".scratch").glob("run-*"))
            assert len(list((data / ".scratch").glob("query-*"))) <= 2
            kids = children(proc.pid)
            assert len(kids) <= 2 + 1, kids  # the query workers and the spare run process, no more
        rss_after = rss_mb(proc.pid)
        assert peak < RSS_BOUND_MB, peak
    finally:
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        proc.communicate(timeout=60)
    stop_s = time.monotonic() - start
    assert proc.returncode == 0 and stop_s < 10 + 2
    # the workers ended with the server (a killed one's zombie is reaped by init once the server is gone)
    wait_for(lambda: not [pid for pid in kids if running(pid)], 5, "the server's children gone")
    assert not list((data / ".uploads").iterdir()) and not list((data / ".scratch").iterdir())
    figures = {"seconds": SECONDS, "clients": CLIENTS, "requests": dict(soak.requests),
               "outcomes": dict(sorted(soak.outcomes.items())), "runs": len(soak.runs), "run_statuses": dict(statuses),
               "validated": validated, "server_rss_mb": {"before": round(rss_before), "after": round(rss_after),
                                                         "peak": round(peak)},
               "children_after": len(kids), "stop_s": round(stop_s, 2)}
    print("soak:", json.dumps(figures))
