"""The Flight server under attack and a flaky network (issue 19): each fault reproduced by a real client
against a real server subprocess on loopback. Loops are bounded; conditions are awaited, not slept on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from arrow_events import synthetic_census
from tests.test_service import ROOT, action, get, message, put, start_server, stop_server

RUNAWAY = [  # each would run for hours: a huge generated range, an unbounded recursive CTE
    "SELECT count(*) AS n FROM generate_series(1, 1000000000000)",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) AS n FROM r",
]
HUNGRY = "SELECT length(repeat('x', 1000000000)) AS n FROM generate_series(1, 20)"  # 20 GB of strings


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_line(error: fl.FlightError, data_dir: Path | None = None) -> str:
    """Every error a client can cause: one line, in extra_info too, no traceback, no server path."""
    text = message(error)
    assert text and "\n" not in text and len(text) < 1200, text
    assert "Traceback" not in str(error) and ".py" not in str(error), str(error)
    if data_dir is not None:
        assert str(data_dir) not in str(error), str(error)
    return text


def runs_listed(client: fl.FlightClient) -> set[str]:
    return {json.loads(i.descriptor.command)["run"] for i in client.list_flights()}


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server with small limits and one finished run."""
    data = tmp_path_factory.mktemp("limits") / "runs"
    proc, location = start_server(data, "--max-runs", "1", "--query-timeout", "4", "--query-memory", "64MB",
                                  "--query-max-result", "2MB", "--max-upload", "2MB", "--upload-idle-timeout",
                                  "1.5", "--max-years", "5", "--query-workers", "2")
    client = fl.connect(location)
    run = put(client, synthetic_census(300, 3, 2025), years="2025-2026", seed=3)
    get(client, run=run, table="events", year=2026)  # waits for the run
    yield client, data, location, run, proc
    client.close()
    stop_server(proc)


UPLOADER = """
import json, os, sys, time
import pyarrow.flight as fl
from arrow_events import synthetic_census
census = synthetic_census(20_000, 1, 2025)
client = fl.connect(sys.argv[1])
writer, _ = client.do_put(fl.FlightDescriptor.for_command(json.dumps({"simulate": {"years": "2025"}})), census.schema)
for batch in census.slice(0, 4000).to_batches(max_chunksize=1000):
    writer.write_batch(batch)
print("sent", flush=True)
time.sleep(120)
"""


def test_a_client_killed_mid_upload_starts_no_run(limited):
    client, data, location, _, _ = limited
    before = runs_listed(client)
    uploader = subprocess.Popen([sys.executable, "-c", UPLOADER, location], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True)
    try:
        assert uploader.stdout.readline().strip() == "sent"
        wait_for(lambda: list((data / ".uploads").iterdir()), 10, "the upload arriving")
    finally:
        uploader.kill()
        uploader.wait(10)
    wait_for(lambda: not list((data / ".uploads").iterdir()), 10, "the cut-off upload removed")
    assert runs_listed(client) == before  # 4,000 of 20,000 rows never became a run
    assert not list((data / ".scratch").glob("run-*"))


def test_an_upload_past_its_deadline_or_short_of_its_rows_starts_no_run(limited):
    client, data, _, _, _ = limited
    before = runs_listed(client)
    census = synthetic_census(2000, 2, 2025)
    descriptor = fl.FlightDescriptor.for_command(json.dumps({"simulate": {"years": "2025"}}))
    writer, reader = client.do_put(descriptor, census.schema, options=fl.FlightCallOptions(timeout=0.5))
    with pytest.raises((fl.FlightError, pa.ArrowException)):
        for batch in census.to_batches(max_chunksize=100):
            writer.write_batch(batch)
            time.sleep(0.1)  # a slow link: the client's own deadline cuts the call
        writer.done_writing()
        reader.read()
    with pytest.raises(fl.FlightServerError) as e:  # a clean end of stream, but the client said 2,000 rows
        put(client, census.slice(0, 500), years="2025", rows=2000)
    assert one_line(e.value) == "census: the stream held 500 rows, the command said 2,000 (simulate.rows); no run " \
                                "was started"
    wait_for(lambda: not list((data / ".uploads").iterdir()), 10, "uploads removed")
    assert runs_listed(client) == before
    ok = put(client, census, years="2025", rows=2000)  # the stated count matches: it runs
    assert action(client, "validate", ok)["ok"]


STALLER = """
import json, sys
import pyarrow.flight as fl
from arrow_events import synthetic_census
census = synthetic_census(500, 4, 2025)
client = fl.connect(sys.argv[1])
writer, reader = client.do_put(fl.FlightDescriptor.for_command(json.dumps({"simulate": {"years": "2025"}})),
                               census.schema)
writer.write_batch(census.to_batches()[0])  # the schema and a batch, then nothing
print("sent", flush=True)
sys.stdin.readline()  # until the test says so
try:
    writer.write_batch(census.to_batches()[0])
    writer.done_writing()
    reader.read()
    print("answered", flush=True)
except Exception as e:
    print("dropped", type(e).__name__, flush=True)
"""


def test_a_stalled_upload_holds_no_slot_and_is_dropped(limited):
    """In a process of its own: gRPC shares one connection among a process's clients, and dropping the stalled
    upload's connection ends every call on it."""
    client, data, location, _, _ = limited
    staller = subprocess.Popen([sys.executable, "-c", STALLER, location], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert staller.stdout.readline().strip() == "sent"
        wait_for(lambda: list((data / ".uploads").iterdir()), 10, "the stalled upload arriving")
        run = put(client, synthetic_census(500, 4, 2025), years="2025")  # --max-runs 1: no slot is held
        assert action(client, "validate", run)["ok"]
        wait_for(lambda: not list((data / ".uploads").iterdir()), 10, "the stalled upload dropped")
        out, _ = staller.communicate("go\n", timeout=30)
        assert out.startswith("dropped"), out
    finally:
        staller.kill()
        staller.wait(10)


def test_an_upload_over_max_upload_is_refused(limited):
    client, data, _, _, _ = limited
    with pytest.raises(fl.FlightServerError) as e:
        put(client, synthetic_census(60_000, 1, 2025), years="2025")
    assert one_line(e.value, data) == ("census: the upload is over 2 MB, the limit of one upload (--max-upload); no "
                                       "run was started")
    wait_for(lambda: not list((data / ".uploads").iterdir()), 10, "the refused upload removed")


@pytest.mark.parametrize("sql", RUNAWAY)
def test_a_runaway_query_is_stopped_and_others_carry_on(limited, sql):
    client, _, location, run, proc = limited
    errors: list[BaseException] = []

    def runaway() -> None:
        with fl.connect(location) as own:
            try:
                get(own, run=run, sql=sql)
            except BaseException as e:  # checked below, in the test's thread
                errors.append(e)

    start = time.monotonic()
    thread = threading.Thread(target=runaway)
    thread.start()
    assert action(client, "status", run)["status"] == "done"  # others are served meanwhile
    assert get(client, run=run, sql="SELECT count(*) AS n FROM snapshot").num_rows == 1
    thread.join(30)
    elapsed = time.monotonic() - start
    assert len(errors) == 1 and isinstance(errors[0], fl.FlightServerError), errors
    assert one_line(errors[0]) == "query: stopped after 4 s, the time limit of a query (--query-timeout)"
    assert 3.5 < elapsed < 20, elapsed
    assert proc.poll() is None


def test_a_memory_hungry_query_fails_alone(limited):
    client, data, _, run, proc = limited
    with pytest.raises(fl.FlightServerError) as e:
        get(client, run=run, sql=HUNGRY)
    text = one_line(e.value, data)
    assert text.startswith("query: ") and "(64 MB, --query-memory)" in text, text
    assert rss_mb(proc.pid) < 600  # the server's own process never ran it
    assert get(client, run=run, sql="SELECT count(*) AS n FROM events").num_rows == 1


def test_a_result_over_the_cap_is_cut_off(limited):
    client, _, _, run, _ = limited
    with pytest.raises(fl.FlightServerError) as e:
        get(client, run=run, sql="SELECT value FROM generate_series(1, 10000000)")
    assert one_line(e.value).startswith("query: the result is over 2 MB, the limit of a query's result "
                                        "(--query-max-result)")
    assert get(client, run=run, sql="SELECT 1 AS one").num_rows == 1


def test_every_request_is_bounded(limited):
    client, data, _, run, _ = limited
    census = synthetic_census(20, 1, 2025)
    cases = [
        (lambda: client.do_get(fl.Ticket(b"{" + b" " * 2_000_000 + b"}")).read_all(),
         "ticket: 2,000,002 bytes, over the 64 KB limit of a request"),
        (lambda: client.do_get(fl.Ticket(b"[" * 50_000)).read_all(),
         "ticket: JSON nested deeper than 16 levels"),
        (lambda: get(client, run=run, sql="SELECT 1 -- " + "x" * 60_000),
         "query: SQL text of 60,012 bytes, over the 48 KB limit"),
        (lambda: put(client, census, years="2025-9999"),
         "simulate.years: years must be between 1900 and 2200, got '2025-9999'"),
        (lambda: put(client, census, years="2025-2150"), "simulate.years: at most 100 years in one run, got 126"),
        (lambda: put(client, census, years="2025-2030"),
         "simulate.years: at most 5 years in one run (--max-years), got 6"),
        (lambda: put(client, census, years="2025", seed=2**100), None),
        (lambda: put(client, census, years="2025", config="[a]\nb = " + "[" * 5000 + "]" * 5000),
         "config: invalid TOML: arrays or tables nested too deeply"),
        (lambda: put(client, census, years="2025", **{"x" * 10_000: 1}), None),
        (lambda: get(client, run="r" * 50_000, table="events", year=2025), None),
    ]
    for call, expected in cases:
        with pytest.raises(fl.FlightServerError) as e:
            call()
        text = one_line(e.value, data)
        if expected is not None:
            assert text == expected
        assert len(text) < 300, text  # a short prefix of the input at most
    with pytest.raises(fl.FlightServerError) as e:
        put(client, census, years="2025", seed=2**100)
    assert message(e.value).startswith("simulate.seed: must be between -9223372036854775808 and 9223372036854775807")


def test_errors_are_one_line_on_every_call(limited):
    client, data, _, run, _ = limited
    descriptor = fl.FlightDescriptor.for_command(b"not json")
    calls = {
        "do_get": lambda: client.do_get(fl.Ticket(b"nope")).read_all(),
        "do_get streaming": lambda: get(client, run=run, sql="SELECT CAST('x' AS INT) AS n FROM events"),
        "do_exchange": lambda: client.do_exchange(descriptor)[1].read_all(),
        "list_flights": lambda: list(client.list_flights(b"{")),
        "get_flight_info": lambda: client.get_flight_info(descriptor),
        "do_action": lambda: list(client.do_action(fl.Action("nope", b"{}"))),
        "do_put": lambda: put(client, synthetic_census(10, 1, 2025), yeras="2025"),
    }
    for name, call in calls.items():
        with pytest.raises(fl.FlightError) as e:
            call()
        assert not isinstance(e.value, fl.FlightInternalError), (name, str(e.value))
        one_line(e.value, data)
    # pyarrow's get_schema carries no Flight error either way (its client raises a plain ArrowException, its
    # server appends its traceback): the message leads, and no server path follows
    with pytest.raises(pa.ArrowException) as e:
        client.get_schema(descriptor)
    assert str(e.value).startswith('Unknown error: descriptor: expected JSON, e.g. {"run": "<id>", "table": "events"}, '
                                   "got 'not json'. Detail: ")
    assert str(data) not in str(e.value) and ".py\"" not in str(e.value).replace('_flight.pyx"', ""), str(e.value)


def tls_pair(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_ipv6_loopback_tls_and_a_mismatched_tls_pair(tmp_path):
    proc, location = start_server(tmp_path / "v6", host="::1")
    try:
        assert location.startswith("grpc://[::1]:")
        with fl.connect(location) as client:
            assert list(client.list_flights()) == []
            run = put(client, synthetic_census(100, 1, 2025), years="2025")
            assert action(client, "validate", run)["ok"]
    finally:
        stop_server(proc)
    cert, key = tls_pair(tmp_path, "one")
    proc, location = start_server(tmp_path / "tls-ok", "--tls-cert", str(cert), "--tls-key", str(key))
    try:  # TLS with a matching pair: pyarrow's client and ADBC's Flight SQL driver both connect
        assert location.startswith("grpc+tls://127.0.0.1:")
        with fl.connect(location, tls_root_certs=cert.read_bytes()) as client:
            assert list(client.list_flights()) == []
        import adbc_driver_flightsql.dbapi as flightsql

        options = {"adbc.flight.sql.client_option.tls_root_certs": cert.read_text()}
        with flightsql.connect(location, db_kwargs=options, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 AS one")
            assert cur.fetch_arrow_table()["one"].to_pylist() == [1]
    finally:
        stop_server(proc)
    _, other_key = tls_pair(tmp_path, "two")
    r = subprocess.run([sys.executable, "-m", "arrow_events", "serve", "--port", "0", "--data-dir",
                        str(tmp_path / "tls"), "--tls-cert", str(cert), "--tls-key", str(other_key)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == f"error: --tls-cert {cert}, --tls-key {other_key}: the key does not match the certificate\n"


def test_cancel_sigterm_and_tidy_disk(tmp_path):
    """A cancelled query frees its worker at once; SIGTERM with a runaway query, a stalled upload and a run
    in progress exits within --shutdown-timeout; scratch is gone after cancel, drop and restart."""
    data = tmp_path / "runs"
    args = ("--query-workers", "1", "--query-timeout", "60", "--shutdown-timeout", "4", "--max-runs", "2")
    proc, location = start_server(data, *args)
    client = fl.connect(location)
    done = put(client, synthetic_census(200, 5, 2025), years="2025")
    action(client, "validate", done)
    with pytest.raises(fl.FlightTimedOutError):  # the client gives up after 1 s
        client.do_get(fl.Ticket(json.dumps({"run": done, "sql": RUNAWAY[0]})),
                      options=fl.FlightCallOptions(timeout=1.0)).read_all()
    start = time.monotonic()  # one worker: this waits for the 60 s limit unless the cancel freed it
    assert get(client, run=done, sql="SELECT count(*) AS n FROM events").num_rows == 1
    assert time.monotonic() - start < 20

    busy = put(client, synthetic_census(30_000, 5, 2025), years="2025-2029")
    wait_for(lambda: (data / ".scratch" / f"run-{busy}").exists(), 30, "the run's scratch directory")
    action(client, "cancel", busy)
    assert not (data / ".scratch" / f"run-{busy}").exists()
    busy = put(client, synthetic_census(30_000, 6, 2025), years="2025-2029")
    action(client, "drop", busy)
    assert not (data / ".scratch" / f"run-{busy}").exists() and not (data / busy).exists()

    # an internal error: a manifest garbled on disk; the client sees a request id the log has
    manifest = next((data / done / "manifests").iterdir())
    manifest.write_text("{")
    with pytest.raises(fl.FlightInternalError) as e:
        list(client.list_flights())
    text = one_line(e.value, data)
    request = text.split("(request ")[1].split(")")[0]
    assert text == f"internal error (request {request}): JSONDecodeError in list_flights; the server's log has the " \
                   "details"

    running = put(client, synthetic_census(30_000, 7, 2025), years="2025-2029")
    errors: list[BaseException] = []

    def runaway() -> None:
        with fl.connect(location) as own:
            try:
                get(own, run=done, sql=RUNAWAY[1])
            except BaseException as e:
                errors.append(e)

    census = synthetic_census(500, 4, 2025)
    writer, _ = client.do_put(fl.FlightDescriptor.for_command(json.dumps({"simulate": {"years": "2025"}})),
                              census.schema)
    writer.write_batch(census.to_batches()[0])  # stalled
    thread = threading.Thread(target=runaway)
    thread.start()
    wait_for(lambda: list((data / ".scratch").glob("query-*")) and list((data / ".uploads").iterdir()), 10,
             "the query and the upload under way")
    start = time.monotonic()
    err = stop_server(proc)
    assert time.monotonic() - start < 4 + 5, err
    assert f"internal error in list_flights, request {request}:" in err
    thread.join(10)
    assert errors and isinstance(errors[0], fl.FlightError)
    client.close()
    assert not list((data / ".uploads").iterdir()) and not list((data / ".scratch").iterdir())

    manifest.unlink()
    proc, location = start_server(data, *args)
    try:
        with fl.connect(location) as again:
            assert action(again, "status", running)["status"] == "interrupted"
            assert not list((data / ".scratch").glob("run-*"))
    finally:
        stop_server(proc)
    assert {p.name for p in data.iterdir()} >= {".runs", ".uploads", ".scratch"}
    assert not [p for p in os.listdir(data / ".uploads")]


def test_no_upload_is_accepted_after_sigterm(tmp_path):
    data = tmp_path / "runs"
    proc, location = start_server(data, "--shutdown-timeout", "6")
    client = fl.connect(location)
    started = {put(client, synthetic_census(30_000, 8, 2025), years="2025-2029")}
    proc.send_signal(signal.SIGTERM)
    refused = None
    for _ in range(200):  # until the server refuses (or is gone)
        try:
            started.add(put(client, synthetic_census(50, 1, 2025), years="2025"))
        except fl.FlightError as e:
            refused = e
            break
        except pa.ArrowException as e:
            refused = e
            break
    assert refused is not None
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "shutting down" in str(refused) or not isinstance(refused, fl.FlightServerError), refused
    assert {p.stem for p in (data / ".runs").iterdir()} == started  # every run kept is one a client was told of
