"""Arrow Flight SQL: clients nobody here wrote (ADBC's Flight SQL driver, through its DB-API) against a real
server subprocess on loopback, plus the protocol's messages sent raw with pyarrow.flight."""

from __future__ import annotations

import json

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as fl
import pytest

from arrow_events import synthetic_census
from arrow_events.schema import TABLES
from arrow_events.service.wire import WireError, decode, encode, pack_any, unpack_any
from tests.test_service import message, put, start_server, stop_server

TOKEN = "s3cret"
AUTH = fl.FlightCallOptions(headers=[(b"authorization", f"Bearer {TOKEN}".encode())])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = tmp_path_factory.mktemp("flightsql") / "runs"
    proc, location = start_server(data, "--token", TOKEN, "--query-timeout", "4")
    client = fl.connect(location)
    census = synthetic_census(400, 9, 2025)
    runs = [put(client, census, AUTH, years="2025-2026", seed=seed) for seed in (1, 2)]
    for run in runs:
        client.do_get(fl.Ticket(json.dumps({"run": run, "table": "events", "year": 2026})), AUTH).read_all()
    yield client, location, runs
    client.close()
    stop_server(proc)


def connect(location: str, token: str | None = TOKEN) -> flightsql.Connection:
    kwargs = {adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {token}"} if token else {}
    return flightsql.connect(location, db_kwargs=kwargs, autocommit=True)


def json_sql(client: fl.FlightClient, run: str, sql: str) -> pa.Table:
    return client.do_get(fl.Ticket(json.dumps({"run": run, "sql": sql})), AUTH).read_all()


def test_statements_read_each_run_as_a_schema(served):
    client, location, (one, two) = served
    sql = 'SELECT event_type, count(*) AS n FROM "{run}".events WHERE simulation_year = 2026 GROUP BY 1 ORDER BY 1'
    with connect(location) as conn, conn.cursor() as cur:
        cur.execute(sql.format(run=one))
        got = cur.fetch_arrow_table()
        assert got.equals(json_sql(client, one, sql.format(run="").replace('"".', "")))
        cur.execute(f'SELECT a.n - b.n AS diff FROM (SELECT count(*) AS n FROM "{one}".snapshot) a, '
                    f'(SELECT count(*) AS n FROM arrow_events."{two}".snapshot) b')
        assert cur.fetch_arrow_table().num_rows == 1  # two runs in one query, the catalog named or not
        cur.execute(f'SELECT simulation_year, count(*) AS n FROM "{one}".contributions GROUP BY 1 ORDER BY 1')
        assert cur.fetch_arrow_table()["simulation_year"].to_pylist() == [2025, 2026]


def test_a_parameterized_query(served):
    client, location, (one, _) = served
    with connect(location) as conn, conn.cursor() as cur:
        sql = f'SELECT count(*) AS n FROM "{one}".events WHERE simulation_year = ? AND event_type = ?'
        cur.execute(sql, parameters=(2026, "hire"))
        got = cur.fetch_arrow_table()["n"].to_pylist()
        expected = json_sql(client, one, "SELECT count(*) AS n FROM events WHERE simulation_year = 2026 "
                                         "AND event_type = 'hire'")["n"].to_pylist()
        assert got == expected and got[0] > 0
        cur.execute(sql, parameters=(2025, "hire"))  # the same statement, other values
        assert cur.fetch_arrow_table().num_rows == 1
        cur.execute(f"SELECT '?' AS q, count(*) AS n FROM \"{one}\".events WHERE simulation_year = $1",
                    parameters=(2025,))
        assert cur.fetch_arrow_table()["q"].to_pylist() == ["?"]


def test_metadata_for_bi_tools(served):
    _, location, runs = served
    with connect(location) as conn:
        objects = conn.adbc_get_objects().read_all().to_pylist()
        (catalog,) = objects
        assert catalog["catalog_name"] == "arrow_events"
        schemas = {s["db_schema_name"]: s for s in catalog["catalog_db_schemas"]}
        assert set(runs) <= set(schemas)
        tables = {t["table_name"]: t for t in schemas[runs[0]]["db_schema_tables"]}
        assert set(tables) == set(TABLES) and {t["table_type"] for t in tables.values()} == {"TABLE"}
        columns = [c["column_name"] for c in tables["events"]["table_columns"]]
        assert columns == [*TABLES["events"].names, "simulation_year"]
        schema = conn.adbc_get_table_schema("snapshot", db_schema_filter=runs[0])
        assert schema.names == [*TABLES["snapshot"].names, "simulation_year"]
        assert conn.adbc_get_table_types() == ["TABLE"]
        info = conn.adbc_get_info()
        assert info["vendor_name"] == "arrow-events" and info["vendor_arrow_version"] == pa.__version__
        filtered = conn.adbc_get_objects(depth="db_schemas", db_schema_filter=runs[1][:4] + "%").read_all()
        names = [s["db_schema_name"] for c in filtered.to_pylist() for s in c["catalog_db_schemas"]]
        assert runs[1] in names and all(n.startswith(runs[1][:4]) for n in names)


def test_read_only_guard_limits_and_token(served):
    _, location, (one, _) = served
    with connect(location) as conn, conn.cursor() as cur:
        for sql, words in [(f'CREATE TABLE t AS SELECT * FROM "{one}".events', "DDL not supported"),
                           (f"COPY \"{one}\".events TO '/tmp/x.parquet'", "DML not supported: COPY"),
                           ("SELECT count(*) FROM events", 'each finished run is a schema: FROM "<run id>".events'),
                           ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
                            "query: stopped after 4 s, the time limit of a query (--query-timeout)")]:
            with pytest.raises(adbc_driver_manager.Error) as e:
                cur.execute(sql)
                cur.fetch_arrow_table()
            assert words in str(e.value), str(e.value)
            assert "Traceback" not in str(e.value)
        cur.execute("SELECT 1 AS one")  # the connection goes on
        assert cur.fetch_arrow_table()["one"].to_pylist() == [1]
    with pytest.raises(adbc_driver_manager.Error) as e:
        with connect(location, token=None) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    assert "this server needs its token" in str(e.value)


def flight_sql(client: fl.FlightClient, name: str, fields: list) -> pa.Table:
    descriptor = fl.FlightDescriptor.for_command(pack_any(name, fields))
    info = client.get_flight_info(descriptor, AUTH)
    table = pa.concat_tables([client.do_get(e.ticket, AUTH).read_all() for e in info.endpoints])
    assert table.schema.equals(info.schema)
    return table


def test_the_protocol_messages_raw(served):
    client, _, (one, _) = served
    info = flight_sql(client, "CommandGetSqlInfo", [(1, 0), (1, 3), (1, 504)]).to_pylist()
    assert info == [{"info_name": 0, "value": "arrow-events"}, {"info_name": 3, "value": True},
                    {"info_name": 504, "value": '"'}]
    assert flight_sql(client, "CommandGetCatalogs", [])["catalog_name"].to_pylist() == ["arrow_events"]
    schemas = flight_sql(client, "CommandGetDbSchemas", [(1, "arrow_events"), (2, one)]).to_pylist()
    assert schemas == [{"catalog_name": "arrow_events", "db_schema_name": one}]
    assert flight_sql(client, "CommandGetDbSchemas", [(1, "")]).num_rows == 0  # "" means no catalog
    tables = flight_sql(client, "CommandGetTables", [(2, one), (3, "snap%"), (5, True)]).to_pylist()
    assert [t["table_name"] for t in tables] == ["snapshot"]
    assert pa.ipc.read_schema(pa.py_buffer(tables[0]["table_schema"])).names[-1] == "simulation_year"
    assert flight_sql(client, "CommandGetPrimaryKeys", [(3, "events")]).num_rows == 0
    statement = flight_sql(client, "CommandStatementQuery", [(1, f'SELECT count(*) AS n FROM "{one}".events')])
    assert statement["n"][0].as_py() > 0
    for name, words in [("CommandStatementUpdate", "this server is read-only: an update is not supported"),
                        ("CommandGetNothing", "CommandGetNothing is not supported by this server")]:
        with pytest.raises(fl.FlightServerError) as e:
            client.get_flight_info(fl.FlightDescriptor.for_command(pack_any(name, [(1, "x")])), AUTH)
        assert message(e.value) == f"Flight SQL: {words}"
    assert list(client.do_action(fl.Action("ClosePreparedStatement", pack_any(
        "ActionClosePreparedStatementRequest", [(1, b"{}")])), AUTH)) == []
    with pytest.raises(fl.FlightServerError) as e:
        client.do_get(fl.Ticket(pack_any("TicketStatementQuery", [(1, b"\xff" * 10)])), AUTH).read_all()
    assert message(e.value).startswith("Flight SQL: prepared statement handle: expected JSON")


def test_the_wire_codec():
    fields = [(1, "ünï"), (2, b"\x00\x01"), (3, True), (4, -1), (5, 2**63 - 1), (6, None)]
    decoded = decode(encode(fields))
    assert decoded == {1: ["ünï".encode()], 2: [b"\x00\x01"], 3: [1], 4: [2**64 - 1], 5: [2**63 - 1]}
    message = unpack_any(pack_any("CommandGetSqlInfo", [(1, b"\x07\xac\x02")]))  # packed: 7, 300
    assert message.name == "CommandGetSqlInfo" and message.uints(1) == [7, 300]
    assert unpack_any(b'{"run": "x"}') is None and unpack_any(b"\x0a\x03abc") is None
    for bad in (b"\x0a\xff", b"\x08" + b"\xff" * 11, b"\x0b"):
        with pytest.raises(WireError):
            decode(bad)


def test_a_run_that_counts_hours_is_described_as_its_files_are(tmp_path):
    # a design with a minimum of hours puts each employee's scheduled hours in the snapshot: the FlightInfo,
    # the Flight SQL table schema and the streamed file agree, and still do after a restart (the run record)
    from tests.conftest import ROOT

    data = tmp_path / "runs"
    config = (ROOT / "examples" / "planalign_like.toml").read_text()
    for restarted in (False, True):
        proc, location = start_server(data, "--token", TOKEN)
        try:
            client = fl.connect(location)
            if not restarted:
                run = put(client, synthetic_census(300, 5, 2025), AUTH, years="2025", config=config)
            descriptor = fl.FlightDescriptor.for_command(json.dumps({"run": run, "table": "snapshot"}))
            streamed = client.do_get(fl.Ticket(json.dumps({"run": run, "table": "snapshot", "year": 2025})),
                                     AUTH).read_all()
            assert "scheduled_hours_per_week" in streamed.schema.names
            assert client.get_flight_info(descriptor, AUTH).schema == streamed.schema
            listed = {json.loads(i.descriptor.command)["table"]: i.schema
                      for i in client.list_flights(json.dumps({"run": run}).encode(), AUTH)}
            assert listed["snapshot"] == streamed.schema and listed["events"] == TABLES["events"]
            with connect(location) as conn:
                table = conn.adbc_get_table_schema("snapshot", db_schema_filter=run)
                assert table.names == [*streamed.schema.names, "simulation_year"]
            client.close()
        finally:
            stop_server(proc)
