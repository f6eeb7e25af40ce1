"""Census reading: the sample file loads; each kind of bad census gets one clear error."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from arrow_events import UserError, read_census, synthetic_census
from arrow_events.census.intake import normalize_census
from tests.conftest import SAMPLES

HEADER = ("employee_id,employee_birth_date,employee_hire_date,employee_gross_compensation,"
          "employee_deferral_rate,active,employee_termination_date\n")
GOOD = "E1,1980-01-01,2010-05-01,85000,0.05,true,\nE2,1990-06-15,2020-03-01,60000,0.06,true,\n"


def write(tmp_path, body, header=HEADER, name="census.csv"):
    p = tmp_path / name
    p.write_text(header + body)
    return p


def test_invariant_sample_loads():
    t = read_census(SAMPLES / "invariant_census.csv", 2025).table
    assert t.num_rows == 150
    assert pc.sum(t["active"]).as_py() == 149  # one row carries a termination date
    assert pc.sum(pc.greater(t["deferral_rate"], 0)).as_py() == 60
    assert pc.sum(t["auto_escalation_opt_out"]).as_py() == 3
    first = t.slice(0, 1).to_pylist()[0]
    assert first["compensation_cents"] == 6_440_000 and first["deferral_rate"] == 0.04


def test_percent_rule_is_decided_per_column(tmp_path):
    # 6, 3, 1, 0, 10 are all percents: the 1 is 1%, not a 100% deferral
    body = "".join(f"E{i},1980-01-01,2010-05-01,85000,{r},true,\n" for i, r in enumerate(["6", "3", "1", "0", "10"]))
    census = read_census(write(tmp_path, body), 2025)
    assert census.table["deferral_rate"].to_pylist() == [0.06, 0.03, 0.01, 0.0, 0.10]
    assert any("is in percent" in n and "'6' on line 2" in n for n in census.notes)
    fractions = read_census(write(tmp_path, GOOD), 2025)
    assert fractions.table["deferral_rate"].to_pylist() == [0.05, 0.06] and not fractions.notes
    with pytest.raises(UserError, match=r"mixes fractions \('0.05' on line 2\) and percentages \('6' on line 3\)"):
        read_census(write(tmp_path, GOOD.replace("0.06", "6")), 2025)


def test_parquet_census_reads_the_same(tmp_path):
    t = read_census(write(tmp_path, GOOD), 2025).table
    raw = synthetic_census(50, 1)
    from arrow_events.census.intake import write_census
    write_census(raw, tmp_path / "c.parquet")
    write_census(raw, tmp_path / "c.csv")
    assert read_census(tmp_path / "c.parquet", 2025).table.equals(read_census(tmp_path / "c.csv", 2025).table)
    assert t.num_rows == 2


BAD = [
    ("missing column", "employee_id,employee_birth_date,employee_hire_date,employee_gross_compensaton\n"
     "E1,1980-01-01,2010-01-01,5\n", None, "'employee_gross_compensation' (found 'employee_gross_compensaton'"),
    ("bad date", "E1,1980-13-01,2010-05-01,85000,0,true,\n", HEADER, "employee_birth_date': 1 row (line 2)"),
    ("bad number", "E1,1980-01-01,2010-05-01,85k,0,true,\n", HEADER, "'85k'"),
    ("duplicate id", GOOD + "E1,1985-01-01,2011-05-01,70000,0,true,\n", HEADER, "line 4"),
    ("zero pay", "E1,1980-01-01,2010-05-01,0,0,true,\n", HEADER, "must be a finite amount > 0"),
    ("birth after hire", "E1,2011-01-01,2010-05-01,50000,0,true,\n", HEADER, "after the employee_hire_date"),
    ("hire after start", "E1,1980-01-01,2025-02-01,50000,0,true,\n", HEADER, "on or after the simulation start"),
    ("rate over 100", "E1,1980-01-01,2010-05-01,50000,150,true,\n", HEADER, "outside 0-1"),
    ("bad bool", "E1,1980-01-01,2010-05-01,50000,0,maybe,\n", HEADER, "'maybe'"),
]


@pytest.mark.parametrize(("case", "body", "header", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_census_names_file_column_and_rows(tmp_path, case, body, header, needle):
    p = write(tmp_path, body, header=header or "")
    with pytest.raises(UserError) as err:
        read_census(p, 2025)
    msg = str(err.value)
    assert str(p) in msg and needle in msg
    assert "\n" not in msg


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="empty"):
        read_census(tmp_path / "empty.csv", 2025)
    with pytest.raises(UserError, match="no employee rows"):
        read_census(write(tmp_path, "", name="header_only.csv"), 2025)
    with pytest.raises(UserError, match="not found"):
        read_census(tmp_path / "nope.csv", 2025)


def test_many_bad_rows_are_counted(tmp_path):
    body = "".join(f"E{i},1980-01-01,2010-05-01,-5,0,true,\n" for i in range(12))
    with pytest.raises(UserError, match=r"12 rows \(lines 2, 3, 4, 5, 6 and 7 more\)"):
        read_census(write(tmp_path, body), 2025)


def test_synthetic_census_is_deterministic_and_realistic():
    a, b = synthetic_census(20_000, 7), synthetic_census(20_000, 7)
    assert a.equals(b)
    assert not a.equals(synthetic_census(20_000, 8))
    t = normalize_census(a, 2025)  # passes every validation rule
    rate = t["deferral_rate"].to_numpy()
    enrolled = rate > 0
    assert 0.37 < enrolled.mean() < 0.43
    assert rate[enrolled].min() >= 0.03 and rate[enrolled].max() <= 0.10
    birth = t["birth_date"].cast("int32").to_numpy()
    age = (np.datetime64("2025-01-01").astype(int) - birth) / 365.25
    assert age.min() >= 21 and age.max() < 67
