"""Property tests: hash_rng's contract and census parsing, on inputs hypothesis invents."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrow_events import UserError, read_census, udfs
from arrow_events.census.intake import write_census
from tests.test_hash_rng import ref_hash_rng

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
MASK = (1 << 64) - 1


def draw(ids, years, streams, seeds):
    n = len(ids)
    return udfs.hash_rng(pa.array(ids, pa.string()), pa.array(years if isinstance(years, list) else [years] * n,
                         pa.int64()), pa.array(streams if isinstance(streams, list) else [streams] * n, pa.string()),
                         pa.array(seeds if isinstance(seeds, list) else [seeds] * n, pa.int64())).to_pylist()


@given(st.lists(st.text(), min_size=1, max_size=40), st.integers(-(2**31), 2**31), st.text(min_size=1), INT64)
def test_hash_rng_in_unit_interval_deterministic_and_equal_to_reference(ids, year, stream, seed):
    got = draw(ids, year, stream, seed)
    assert got == draw(ids, year, stream, seed)
    assert all(0.0 <= u < 1.0 for u in got)
    assert got == [ref_hash_rng(i, year & MASK, stream, seed & MASK) for i in ids]


@given(st.lists(st.text(max_size=30), min_size=2, max_size=60), st.data())
def test_hash_rng_does_not_depend_on_batch_boundaries_or_neighbours(ids, data):
    cut = data.draw(st.integers(1, len(ids) - 1))
    whole = draw(ids, 2026, "merit", 7)
    assert whole == draw(ids[:cut], 2026, "merit", 7) + draw(ids[cut:], 2026, "merit", 7)
    assert draw(list(reversed(ids)), 2026, "merit", 7) == list(reversed(whole))


@given(st.text(), st.text(min_size=1), st.text(min_size=1), INT64)
def test_streams_give_different_draws(employee_id, s1, s2, seed):
    if s1 != s2:
        assert draw([employee_id], 2025, s1, seed) != draw([employee_id], 2025, s2, seed)


# --- census parsing --------------------------------------------------------------------------

ID = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1,
             max_size=20).filter(lambda s: s.strip() == s and s.strip() != "")
DAY = st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2024, 12, 31))


@st.composite
def employees(draw_):
    n = draw_(st.integers(1, 25))
    ids = draw_(st.lists(ID, min_size=n, max_size=n, unique=True))
    rows = []
    for i in ids:
        hire = draw_(DAY)
        birth = draw_(st.dates(min_value=dt.date(1900, 1, 1), max_value=hire))
        cents = draw_(st.integers(1, 10**11))
        rate = draw_(st.integers(0, 10_000)) / 10_000
        rows.append((i, birth, hire, cents, rate))
    return rows


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60, deadline=None)
@given(employees(), st.sampled_from(["csv", "parquet"]))
def test_valid_census_round_trips(tmp_path, rows, fmt):
    table = pa.table({
        "employee_id": [r[0] for r in rows],
        "employee_birth_date": pa.array([r[1] for r in rows], pa.date32()),
        "employee_hire_date": pa.array([r[2] for r in rows], pa.date32()),
        "employee_gross_compensation": [r[3] / 100 for r in rows],
        "employee_deferral_rate": [r[4] for r in rows],
    })
    path = tmp_path / f"census.{fmt}"
    write_census(table, path)
    back = read_census(path, 2025).table
    assert back["employee_id"].to_pylist() == [r[0] for r in rows]
    assert back["birth_date"].to_pylist() == [r[1] for r in rows]
    assert back["hire_date"].to_pylist() == [r[2] for r in rows]
    assert back["compensation_cents"].to_pylist() == [r[3] for r in rows]
    assert np.allclose(back["deferral_rate"].to_numpy(), [r[4] for r in rows])


JUNK_CELL = st.one_of(st.text(max_size=12), st.sampled_from(["", "2020-02-30", "-1", "nan", "1e400", "true", "6"]))
HEADERS = ["employee_id", "employee_birth_date", "employee_hire_date", "employee_gross_compensation", "active",
           "employee_deferral_rate", "level_id", "eligibility_override", "x", ""]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8).flatmap(
        lambda header: st.lists(st.lists(JUNK_CELL, min_size=len(header), max_size=len(header)), max_size=6).map(
            lambda rows: (",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)).encode()))
))
def test_junk_never_crashes(tmp_path, content):
    path = tmp_path / "junk.csv"
    path.write_bytes(content)
    try:
        read_census(path, 2025)
    except UserError as e:
        assert str(path) in str(e) and "\n" not in str(e)
