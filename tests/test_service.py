"""`arrow-events serve`: a real pyarrow.flight client against the server in a subprocess, on loopback only."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl
import pyarrow.parquet as pq
import pytest

import arrow_events
from arrow_events import UserError, read_census, synthetic_census
from arrow_events.warehouse.writer import DATA_FILE, partition_dir, sha256_file
from tests.conftest import read_year
from tests.test_cli import invoke

ROOT = Path(__file__).resolve().parents[1]


def start_server(data_dir: Path, *args: str, host: str = "127.0.0.1") -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "arrow_events", "serve", "--host", host, "--port", "0",
                             "--data-dir", str(data_dir), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.search(r"grpc(?:\+tls)?://(?:127\.0\.0\.1|\[::1\]|localhost):\d+", line)
    if not found:
        proc.kill()
        pytest.fail(f"server did not start: {line!r} {proc.stderr.read()[-2000:]}")
    return proc, found.group(0)


def stop_server(proc: subprocess.Popen) -> str:
    """SIGTERM: the server stops cleanly, exit code 0."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "stopped", err
    return err


def put(client: fl.FlightClient, census: pa.Table, options: fl.FlightCallOptions | None = None, **simulate) -> str:
    descriptor = fl.FlightDescriptor.for_command(json.dumps({"simulate": simulate}))
    writer, reader = client.do_put(descriptor, census.schema, options=options)
    writer.write_table(census, max_chunksize=1000)
    writer.done_writing()
    answer = reader.read()
    writer.close()
    return json.loads(answer.to_pybytes())["run"]


def get(client: fl.FlightClient, **ticket) -> pa.Table:
    return client.do_get(fl.Ticket(json.dumps(ticket))).read_all()


def action(client: fl.FlightClient, kind: str, run: str) -> dict:
    (result,) = client.do_action(fl.Action(kind, json.dumps({"run": run}).encode()))
    return json.loads(result.body.to_pybytes())


def message(error: fl.FlightError) -> str:
    """The one-line message, as the server sent it (also in the error's text, before pyarrow's details)."""
    text = error.extra_info.decode()
    assert str(error).startswith(text)
    return text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("flight") / "runs"
    proc, location = start_server(data, "--max-runs", "2")
    client = fl.connect(location)
    yield client, data, location
    client.close()
    stop_server(proc)


@pytest.fixture(scope="module")
def cli_and_flight_run(server, tmp_path_factory):
    """One census through `arrow-events run` and through the server: 2 years, seed 7, 2 shards a year."""
    client, data, _ = server
    tmp = tmp_path_factory.mktemp("cli")
    path = tmp / "census.parquet"
    arrow_events.census.synthetic.write_census(synthetic_census(1000, 11, 2025), path)
    r = invoke("run", "--census", str(path), "--years", "2025-2026", "--seed", "7", "--shard-rows", "700",
               "--out", "wh", cwd=tmp)
    assert r.exit_code == 0, r.output
    run = put(client, pq.read_table(path), years="2025-2026", seed=7, shard_rows=700)
    return tmp / "wh", run


def test_round_trip_equals_the_cli_run_byte_for_byte(server, cli_and_flight_run):
    client, data, _ = server
    wh, run = cli_and_flight_run
    for year in (2025, 2026):  # each do_get waits for its year
        for table in ("events", "snapshot"):
            pulled = get(client, run=run, table=table, year=year)
            assert pulled.equals(read_year(wh, table, year)), (table, year)  # the contract tables
            ours = partition_dir(data / run, table, year) / DATA_FILE
            assert sha256_file(ours) == sha256_file(partition_dir(wh, table, year) / DATA_FILE)
    listed = client.list_flights(json.dumps({"run": run}).encode())
    infos = {json.loads(i.descriptor.command)["table"]: i for i in listed}
    events = infos["events"]
    assert json.loads(events.app_metadata)["status"] == "done"
    assert events.total_records == sum(read_year(wh, "events", y).num_rows for y in (2025, 2026))
    assert events.schema == read_year(wh, "events", 2025).schema
    via_endpoints = [client.do_get(e.ticket).read_all() for e in events.endpoints]
    assert pa.concat_tables(via_endpoints).equals(pa.concat_tables([read_year(wh, "events", y) for y in (2025, 2026)]))
    same = client.get_flight_info(fl.FlightDescriptor.for_command(json.dumps({"run": run, "table": "snapshot"})))
    assert same.total_records == infos["snapshot"].total_records
    status = action(client, "status", run)
    assert status["status"] == "done" and status["years_done"] == [2025, 2026] and status["census"]["rows_kept"] == 1000
    report = action(client, "validate", run)
    assert report["ok"] and report["years"] == [2025, 2026], report["report"]


def test_sql_ticket_aggregates_on_the_server(server, cli_and_flight_run):
    client, _, _ = server
    wh, run = cli_and_flight_run
    sql = "SELECT event_type, count(*) AS n FROM events WHERE simulation_year = 2026 GROUP BY 1 ORDER BY 1"
    got = get(client, run=run, sql=sql)
    counts = read_year(wh, "events", 2026)["event_type"].value_counts().to_pylist()
    assert [(r["event_type"], r["n"]) for r in got.to_pylist()] == sorted((c["values"], c["counts"]) for c in counts)
    info = client.get_flight_info(fl.FlightDescriptor.for_command(json.dumps({"run": run, "sql": sql})))
    assert info.schema.names == ["event_type", "n"] and got.schema.field("event_type").type == pa.string()
    actives = get(client, run=run, sql="SELECT simulation_year, count(*) AS n FROM snapshot WHERE status = 'active' "
                                       "GROUP BY 1 ORDER BY 1")
    snap = read_year(wh, "snapshot", 2026)
    n_active = pc.sum(pc.equal(snap["status"], "active")).as_py()
    assert actives.num_rows == 2 and actives.to_pylist()[1] == {"simulation_year": 2026, "n": n_active}
    for bad, words in [("COPY events TO '/tmp/x.parquet'", "query: Error during planning: DML not supported: COPY"),
                       ("SELECT nope FROM events", "query: Schema error: No field named nope")]:
        with pytest.raises(fl.FlightServerError) as e:
            get(client, run=run, sql=bad)
        assert message(e.value).startswith(words)


def test_two_clients_at_once_are_isolated(server):
    _, _, location = server
    census = synthetic_census(600, 5, 2025)
    results: dict[int, pa.Table] = {}
    errors: list[BaseException] = []

    def client_run(seed: int) -> None:
        try:
            with fl.connect(location) as client:
                run = put(client, census, years="2025", seed=seed)
                results[seed] = get(client, run=run, table="events", year=2025)
        except BaseException as e:  # reported below, from the test's thread
            errors.append(e)

    threads = [threading.Thread(target=client_run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for seed in (1, 2):
        (year,) = arrow_events.simulate(census, years="2025", seed=seed)
        assert results[seed].equals(year.events.to_arrow())
    assert not results[1].equals(results[2])


def test_bad_input_comes_back_as_the_cli_message_and_nothing_is_kept(server):
    client, data, _ = server
    before = sorted(p.name for p in data.iterdir())
    census = synthetic_census(50, 1, 2025)
    bad = census.set_column(1, "employee_birth_date", pa.array(["1981-02-29"] * census.num_rows))
    with pytest.raises(UserError) as direct:
        read_census(bad, 2025)
    with pytest.raises(fl.FlightServerError) as refused:
        put(client, bad, years="2025")
    assert message(refused.value) == str(direct.value)
    with pytest.raises(fl.FlightServerError) as e:
        put(client, census, years="2025", config="[scenario]\ngrowht = 0.1\n")
    assert message(e.value) == "config: [scenario]: unknown key 'growht' (did you mean 'growth'?)"
    with pytest.raises(fl.FlightServerError) as e:
        put(client, census, yeras="2025")
    assert message(e.value) == "simulate: unknown key 'yeras' (did you mean 'years'?)"
    with pytest.raises(fl.FlightServerError) as e:
        get(client, run="0123456789ab", table="events", year=2025)
    assert "no such run" in message(e.value)
    assert sorted(p.name for p in data.iterdir()) == before
    assert not list((data / ".uploads").iterdir())


def test_a_run_past_its_memory_limit_fails_alone(server):
    client, _, _ = server
    run = put(client, synthetic_census(20_000, 1, 2025), years="2025", memory_limit="2MiB")
    with pytest.raises(fl.FlightServerError) as e:
        get(client, run=run, table="events", year=2025)
    assert message(e.value).startswith(f"run {run} failed: year 2025 needs more memory than the limit allows")
    assert action(client, "status", run)["status"] == "failed"
    ok = put(client, synthetic_census(100, 2, 2025), years="2025")  # the server goes on serving
    assert get(client, run=ok, table="snapshot", year=2025).num_rows >= 100


def test_max_runs_cancel_and_drop(server):
    client, data, _ = server
    big = synthetic_census(30_000, 3, 2025)
    runs = [put(client, big, years="2025-2029") for _ in range(2)]
    with pytest.raises(fl.FlightUnavailableError) as e:
        put(client, big, years="2025")
    assert "--max-runs 2" in message(e.value)
    for run in runs:
        status = action(client, "cancel", run)
        assert status["status"] == "cancelled" and status["years_done"] != [2025, 2026, 2027, 2028, 2029]
    with pytest.raises(fl.FlightServerError) as e:
        get(client, run=runs[0], table="events", year=2029)
    assert message(e.value).startswith(f"run {runs[0]} was cancelled before 2029 was written")
    assert action(client, "drop", runs[0]) == {"run": runs[0], "dropped": True}
    assert not (data / runs[0]).exists()
    listed = {json.loads(i.descriptor.command)["run"] for i in client.list_flights()}
    assert runs[0] not in listed and runs[1] in listed


def test_a_token_is_required_when_set(tmp_path):
    proc, location = start_server(tmp_path / "runs", "--token", "s3cret")
    try:
        with fl.connect(location) as client:
            with pytest.raises(fl.FlightUnauthenticatedError):
                list(client.list_flights())
            wrong = fl.FlightCallOptions(headers=[(b"authorization", b"Bearer nope")])
            with pytest.raises(fl.FlightUnauthenticatedError):
                put(client, synthetic_census(20, 1, 2025), wrong, years="2025")
            right = fl.FlightCallOptions(headers=[(b"authorization", b"Bearer s3cret")])
            assert list(client.list_flights(options=right)) == []
            assert {a.type for a in client.list_actions(options=right)} == {"status", "validate", "cancel", "drop",
                                                                           "CreatePreparedStatement",
                                                                           "ClosePreparedStatement"}
    finally:
        stop_server(proc)
    assert not list((tmp_path / "runs" / ".runs").iterdir())  # the refused put started nothing


def test_a_restart_keeps_finished_runs(tmp_path):
    data = tmp_path / "runs"
    proc, location = start_server(data)
    try:
        with fl.connect(location) as client:
            done = put(client, synthetic_census(300, 4, 2025), years="2025-2026")
            events = get(client, run=done, table="events", year=2026)
            busy = put(client, synthetic_census(30_000, 4, 2025), years="2025-2029")
    finally:
        stop_server(proc)  # SIGTERM while `busy` runs
    proc, location = start_server(data)
    try:
        with fl.connect(location) as client:
            assert get(client, run=done, table="events", year=2026).equals(events)
            assert action(client, "status", done)["status"] == "done"
            status = action(client, "status", busy)
            assert status["status"] == "interrupted" and status["error"].startswith("the server stopped during the run")
            assert action(client, "validate", done)["ok"]
    finally:
        stop_server(proc)


def test_serve_refuses_bad_arguments_in_one_line(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    r = invoke("serve", "--port", "0", "--data-dir", "notes", cwd=tmp_path)
    assert r.exit_code == 2
    assert r.output == ("error: notes: not an arrow-events service directory (it holds 1 other entry, e.g. "
                        "'todo.txt'); choose an empty or new directory\n")
    r = invoke("serve", "--port", "0", "--data-dir", "runs", "--tls-cert", "cert.pem", cwd=tmp_path)
    assert (r.exit_code, r.output) == (2, "error: --tls-cert and --tls-key go together\n")
    assert not (tmp_path / "runs").exists()


def test_flight_info_of_a_run_without_contributions(tmp_path):
    """A run written before contributions existed (or without them) lists that table with no years."""
    from types import SimpleNamespace

    from arrow_events import RunOptions, load_config, run
    from arrow_events.service.runs import Run
    from arrow_events.service.server import EventsServer

    out = tmp_path / "r1"
    run(load_config(None), out, [2025], options=RunOptions(contributions=False))
    server = SimpleNamespace(store=SimpleNamespace(out=lambda r: out))
    done = Run(id="r1", years=[2025], seed=42, status="done", years_done=[2025])
    contributions = EventsServer._table_info(server, done, "contributions")
    assert contributions.total_records == 0 and not contributions.endpoints
    assert EventsServer._table_info(server, done, "events").total_records > 0
