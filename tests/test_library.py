"""The library as a user composes it: a census is a path, an Arrow object or a Census wherever one is taken;
columns in any Arrow encoding read like their plain form; the public API is listed and documented."""

from __future__ import annotations

import decimal
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import arrow_events
from arrow_events import UserError, from_census, load_config, read_census, simulate
from tests.conftest import ROOT

CENSUS = ROOT / "examples" / "census.csv"


def plain_table() -> pa.Table:
    """The first 40 rows of examples/census.csv, typed as a Parquet export would have them."""
    return pacsv.read_csv(CENSUS).slice(0, 40)


def test_a_census_is_a_path_an_arrow_object_or_a_census_everywhere():
    cfg = load_config(None)
    census = read_census(CENSUS, 2025)
    expected = from_census(census, cfg).cohort
    for source in (census, census.table, CENSUS, str(CENSUS), pacsv.read_csv(CENSUS)):
        assert from_census(source, cfg).cohort.equals(expected), type(source)
    assert read_census(census, 2025) is census  # a Census read for the same start is taken as it is
    with pytest.raises(UserError, match="checked for a start in 2025, not 2026"):
        read_census(census, 2026)
    first = next(iter(simulate(census, cfg, years="2025")))  # simulate and run take one too
    assert first.snapshot.to_arrow().num_rows > 0


def encodings(table: pa.Table) -> dict[str, pa.Table]:
    """``table`` with its columns in other Arrow encodings of the same values."""
    import pandas as pd

    frame = table.to_pandas()
    categories = pa.Table.from_pandas(frame.astype({c: "category" for c in frame.columns}), preserve_index=False)
    # a CSV read by pandas as text, every column a category: Parquet keeps them dictionary-encoded
    text = frame.astype(str).astype("category")
    text_categories = pa.Table.from_pandas(text, preserve_index=False)
    dictionary = pa.table({c: pc.dictionary_encode(table[c]) for c in table.column_names})
    large = table.set_column(0, "employee_id", table["employee_id"].cast(pa.large_string()))
    midnight = table
    for name in ("employee_birth_date", "employee_hire_date"):
        i = midnight.schema.get_field_index(name)
        midnight = midnight.set_column(i, name, midnight[name].cast(pa.timestamp("ms", tz="UTC")))
    pay = pa.array([decimal.Decimal(f"{v:.2f}") for v in table["employee_gross_compensation"].to_pylist()],
                   pa.decimal128(12, 2))
    rates = table["employee_deferral_rate"].cast(pa.decimal128(5, 4))
    decimals = (table.set_column(table.schema.get_field_index("employee_gross_compensation"),
                                 "employee_gross_compensation", pay)
                .set_column(table.schema.get_field_index("employee_deferral_rate"), "employee_deferral_rate", rates))
    assert isinstance(frame["active"].astype("category").dtype, pd.CategoricalDtype)
    return {"pandas category": categories, "pandas category of text": text_categories, "dictionary": dictionary,
            "large_string": large, "timestamps at midnight": midnight, "decimals": decimals}


def test_logical_types_read_like_their_plain_form(tmp_path):
    table = plain_table()
    expected = read_census(table, 2025).table
    for name, encoded in encodings(table).items():
        path = tmp_path / f"{name.replace(' ', '_')}.parquet"
        pq.write_table(encoded, path)  # written and read back, as an analyst's export arrives
        assert read_census(path, 2025).table.equals(expected), name
        assert read_census(encoded, 2025).table.equals(expected), name
    assert pq.read_schema(tmp_path / "pandas_category_of_text.parquet").field("active").type == pa.dictionary(
        pa.int8(), pa.string())


def test_the_public_api_is_listed_and_documented_with_types():
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(?:arrow_events\.)?(\w+)", api, flags=re.MULTILINE))
    assert set(arrow_events.__all__) <= documented, sorted(set(arrow_events.__all__) - documented)
    for name in arrow_events.__all__:
        assert hasattr(arrow_events, name), name
        thing = getattr(arrow_events, name)
        if callable(thing) and not isinstance(thing, type):
            hints = thing.__annotations__
            assert "return" in hints, f"{name} has no return type"
