"""The in-process API: arrow_events.simulation yields per-year Arrow streams with the rows the CLI writes."""

from __future__ import annotations

import datafusion
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import arrow_events
from arrow_events import UserError, read_census, synthetic_census
from arrow_events.schema import EVENTS_SCHEMA, SNAPSHOT_SCHEMA
from tests.conftest import read_year
from tests.test_cli import invoke

SHARD_ROWS = 500  # a 1,200-employee year in 3 shards: the streams cross shard boundaries


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """What `arrow-events run` writes for a small census in shards, 3 years, seed 7."""
    tmp = tmp_path_factory.mktemp("streams")
    census = tmp / "census.parquet"
    arrow_events.census.synthetic.write_census(synthetic_census(1200, 3, 2025), census)
    r = invoke("run", "--census", str(census), "--years", "2025-2027", "--seed", "7", "--shard-rows",
               str(SHARD_ROWS), "--out", "wh", cwd=tmp)
    assert r.exit_code == 0, r.output
    return census, tmp / "wh"


def simulate(census, **kwargs):
    return arrow_events.simulate(census, years="2025-2027", seed=7, shard_rows=SHARD_ROWS, **kwargs)


def test_polars_duckdb_and_datafusion_read_the_streams_and_see_the_cli_rows(cli_run):
    census, wh = cli_run
    seen = []
    for year in simulate(census):
        seen.append(year.year)
        events, snapshot = read_year(wh, "events", year.year), read_year(wh, "snapshot", year.year)
        if year.year == 2025:  # Polars: a DataFrame from the stream (from_arrow gives a struct Series of it)
            frame = pl.DataFrame(year.events)
            assert frame.to_arrow().cast(EVENTS_SCHEMA).equals(events)
            assert pl.from_arrow(year.snapshot).struct.unnest().to_arrow().cast(SNAPSHOT_SCHEMA).equals(snapshot)
        elif year.year == 2026:  # DuckDB scans the stream in place (a replacement scan of the Python variable)
            stream = year.events  # noqa: F841 (DuckDB finds it by name)
            got = duckdb.sql("SELECT event_type, count(*) AS n FROM stream GROUP BY 1 ORDER BY 1").fetchall()
            want = sorted((c["values"], c["counts"]) for c in events["event_type"].value_counts().to_pylist())
            assert got == want
            assert duckdb.from_arrow(year.snapshot).arrow().read_all().cast(SNAPSHOT_SCHEMA).equals(snapshot)
        else:  # DataFusion
            ctx = datafusion.SessionContext()
            assert ctx.from_arrow(year.events).to_arrow_table().cast(EVENTS_SCHEMA).equals(events)
            assert year.snapshot.to_arrow().equals(snapshot)
        assert year.contributions.to_arrow().equals(read_year(wh, "contributions", year.year))
    assert seen == [2025, 2026, 2027]


def test_contributions_can_be_turned_off(cli_run):
    census, wh = cli_run
    year = next(simulate(census, contributions=False))
    assert year.contributions is None
    assert year.events.to_arrow().equals(read_year(wh, "events", 2025))


def test_a_year_streams_shard_by_shard_as_it_is_read(cli_run):
    census, wh = cli_run
    year = next(simulate(census))
    batches = iter(year.events)
    first = next(batches)
    assert year._pump.shards == 3 and year._pump._shards is not None  # the year's later shards are not computed
    rest = list(batches)
    assert pa.Table.from_batches([first, *rest]).equals(read_year(wh, "events", 2025))
    assert year.counts["n_active"] == 1200


def test_skipped_and_partly_read_years_are_finished_before_the_next(cli_run):
    census, wh = cli_run
    sim = simulate(census)
    y2025 = next(sim)  # not read at all
    y2026 = next(sim)
    assert next(iter(y2026.events)).num_rows > 0  # one batch, then on
    y2027 = next(sim)
    assert y2027.events.to_arrow().equals(read_year(wh, "events", 2027))
    assert y2027.snapshot.to_arrow().equals(read_year(wh, "snapshot", 2027))
    # a year left behind can still be read whole, as long as its stream was not started
    assert y2025.events.to_arrow().equals(read_year(wh, "events", 2025))
    with pytest.raises(UserError, match="the events of 2026 were already read as a stream"):
        y2026.events.to_arrow()
    assert list(sim) == []


def test_to_arrow_keeps_the_table_and_a_stream_reads_once():
    year = next(arrow_events.simulate(synthetic_census(300, 1, 2025), years=2025))
    table = year.events.to_arrow()
    assert year.events.to_arrow() is table and pa.table(year.events).equals(table)  # served again
    first = pa.RecordBatchReader.from_stream(year.snapshot).read_all()
    assert first.num_rows >= 300 and first.schema == SNAPSHOT_SCHEMA
    with pytest.raises(Exception, match="the snapshot of 2025 were already read as a stream"):
        pa.RecordBatchReader.from_stream(year.snapshot).read_all()


def test_bad_inputs_raise_the_command_lines_message_at_the_call(tmp_path):
    raw = synthetic_census(50, 1, 2025)
    bad = raw.set_column(1, "employee_birth_date", pa.array(["1981-02-29"] * raw.num_rows))
    with pytest.raises(UserError) as refused:
        arrow_events.simulate(bad, years="2025")
    with pytest.raises(UserError) as direct:
        read_census(bad, 2025)
    assert str(refused.value) == str(direct.value) and "not real calendar dates" in str(refused.value)
    with pytest.raises(UserError, match=r"config: \[scenario\]: unknown key 'growht' \(did you mean 'growth'\?\)"):
        arrow_events.simulate(raw, "[scenario]\ngrowht = 0.1\n")
    (tmp_path / "plan.toml").write_text("[scenario]\ngrowht = 0.1\n")
    with pytest.raises(UserError, match=r"plan.toml: \[scenario\]: unknown key 'growht'"):
        arrow_events.simulate(raw, str(tmp_path / "plan.toml"))
    with pytest.raises(UserError, match="^years: expected YEAR or FIRST-LAST"):
        arrow_events.simulate(raw, years="2027-2025")


def test_defaults_are_the_cli_runs():
    # no census: the built-in one, like `arrow-events run` (5,000 employees, 3% growth)
    sim = arrow_events.simulate(years=2025)
    (year,) = list(sim)
    assert year.counts["n_active"] == 5000
    snapshot = year.snapshot.to_arrow()
    actives = snapshot.filter(pc.equal(snapshot["status"], "active"))
    assert actives.num_rows == 5150 and sim.config.scenario.seed == 42


def test_a_run_past_its_memory_limit_raises_on_the_stream():
    year = next(arrow_events.simulate(synthetic_census(20_000, 1, 2025), years=2025, memory_limit="2MiB"))
    with pytest.raises(arrow_events.errors.ResourceLimitError, match="needs more memory than the limit allows"):
        year.events.to_arrow()
