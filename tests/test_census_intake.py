"""Census intake as analysts' exports arrive: nothing changed silently, real formats read, bad rows set aside.

Each case is checked against values written out by hand in the test, and through the
command line where the user would meet it (one line on stderr, exit code 2).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from arrow_events import UserError, load_config, read_census, run
from arrow_events.cli import main
from tests.conftest import SAMPLES

H = ["employee_id", "employee_birth_date", "employee_hire_date", "employee_gross_compensation",
     "employee_deferral_rate"]


def csv_text(rows: list[list[str]], header: list[str] = H, sep: str = ",") -> str:
    """The file a spreadsheet would write: cells holding the delimiter are quoted."""
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def census_file(tmp_path: Path, rows: list[list[str]], header: list[str] = H, sep: str = ",",
                name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text(csv_text(rows, header, sep), encoding="utf-8")
    return path


def invoke(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def refused(cwd: Path, *args: str) -> str:
    """Run the CLI, expect one clean error line and nothing written; return that line."""
    r = invoke(cwd, *args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], r.stderr
    assert "Traceback" not in r.output and r.stdout == ""
    assert not (cwd / "warehouse").exists()
    return errors[0]


# --- 1. no silent change ---------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["1981-02-29", "2010-04-31", "2024-12-32", "1980-13-01", "1980-00-10"])
def test_impossible_calendar_dates_are_refused(tmp_path, cell):
    census_file(tmp_path, [["E1", cell, "2010-05-01", "85000", "0"]])
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert f"c.csv: column 'employee_birth_date': 1 row (line 2) is not a real calendar date (e.g. '{cell}')" in line


def test_feb_29_of_a_leap_year_is_a_date(tmp_path):
    t = read_census(census_file(tmp_path, [["E1", "1984-02-29", "2010-05-01", "85000", "0"]]), 2025).table
    assert t["birth_date"].to_pylist() == [dt.date(1984, 2, 29)]


def test_percent_column_note_on_stderr(tmp_path):
    rows = [[f"E{i}", "1980-01-01", "2010-05-01", "85000", r] for i, r in enumerate(["6", "3", "1", "0", "10"])]
    census_file(tmp_path, rows)
    r = invoke(tmp_path, "run", "--census", "c.csv", "--years", "2025", "--out", "wh")
    assert r.exit_code == 0, r.output
    assert ("note: c.csv: column 'employee_deferral_rate' is in percent (a value above 1 or with a % sign, "
            "e.g. '6' on line 2): every rate in it is divided by 100, so 6 means 0.06") in r.stderr
    snap = pq.read_table(tmp_path / "wh" / "snapshot" / "simulation_year=2025" / "part-0.parquet")
    start_rates = dict(zip(snap["employee_id"].to_pylist(), snap["deferral_rate"].to_pylist()))
    assert start_rates["E2"] < 0.05  # the '1' is 1% (it may have escalated by a point), never 100%


def test_a_rate_of_exactly_one_in_a_fraction_column_is_100_percent():
    t = read_census(pa.table({"employee_id": ["A", "B"], "employee_birth_date": ["1980-01-01"] * 2,
                              "employee_hire_date": ["2010-01-01"] * 2, "employee_gross_compensation": [5e4, 5e4],
                              "employee_deferral_rate": [0.5, 1.0]}), 2025).table
    assert t["deferral_rate"].to_pylist() == [0.5, 1.0]


def test_active_employee_with_a_termination_date_inside_the_simulation_stays_in_the_cohort(tmp_path):
    header = [*H, "active", "employee_termination_date"]
    rows = [["E1", "1980-01-01", "2010-05-01", "85000", "0", "true", "2026-03-31"],
            ["E2", "1980-01-01", "2010-05-01", "85000", "0", "", "2024-06-30"],
            ["E3", "1980-01-01", "2010-05-01", "85000", "0", "false", "2026-03-31"],
            ["E4", "1980-01-01", "2010-05-01", "85000", "0", "true", ""]]
    t = read_census(census_file(tmp_path, rows, header), 2025).table
    assert t["active"].to_pylist() == [True, False, False, True]
    assert t["termination_date"].to_pylist() == [dt.date(2026, 3, 31), dt.date(2024, 6, 30), dt.date(2026, 3, 31),
                                                 None]


def test_pay_rounds_to_whole_cents_half_up_exactly_and_says_so(tmp_path):
    rows = [["E1", "1980-01-01", "2010-05-01", "64400.005", "0"], ["E2", "1980-01-01", "2010-05-01", "1.015", "0"],
            ["E3", "1980-01-01", "2010-05-01", "70000.10", "0"], ["E4", "1980-01-01", "2010-05-01", "70000.100", "0"]]
    census = read_census(census_file(tmp_path, rows), 2025)
    # as decimals, half up: floats would give 6440000 and 101
    assert census.table["compensation_cents"].to_pylist() == [6_440_001, 102, 7_000_010, 7_000_010]
    assert any("2 rows (lines 2, 3) had fractions of a cent, rounded half up" in n for n in census.notes)


# --- 2. real exports -------------------------------------------------------------------------

@pytest.mark.parametrize(("sep", "word"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_delimiter_is_detected_and_named(tmp_path, sep, word):
    census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000", "0.05"]], sep=sep)
    r = invoke(tmp_path, "run", "--census", "c.csv", "--years", "2025", "--out", "wh")
    assert r.exit_code == 0, r.output
    assert f"note: c.csv: read as {word}-delimited" in r.stderr
    t = read_census(tmp_path / "c.csv", 2025).table
    assert t["compensation_cents"].to_pylist() == [8_500_000] and t["deferral_rate"].to_pylist() == [0.05]


def test_comma_files_get_no_delimiter_note(tmp_path):
    census = read_census(census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000", "0.05"]]), 2025)
    assert census.notes == []


def test_decimal_commas_in_semicolon_files(tmp_path):
    rows = [["E1", "1980-01-01", "2010-05-01", "64.400,50", "6,5"], ["E2", "1980-01-01", "2010-05-01", "51400", "3"],
            ["E3", "1980-01-01", "2010-05-01", "70000,1", "0"]]
    t = read_census(census_file(tmp_path, rows, sep=";"), 2025).table
    assert t["compensation_cents"].to_pylist() == [6_440_050, 5_140_000, 7_000_010]
    assert t["deferral_rate"].to_pylist() == pytest.approx([0.065, 0.03, 0.0])


def test_headers_are_trimmed_and_case_insensitive(tmp_path):
    header = [" Employee_ID ", "EMPLOYEE_BIRTH_DATE", "employee_hire_date  ", "Employee_Gross_Compensation",
              "Employee_Deferral_Rate", " Active"]
    t = read_census(census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000", "0.05", "yes"]], header),
                    2025).table
    assert t["employee_id"].to_pylist() == ["E1"] and t["active"].to_pylist() == [True]


def test_byte_order_mark_on_the_header(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text([["E1", "1980-01-01", "2010-05-01", "85000", "0"]]).encode())
    assert read_census(path, 2025).table.num_rows == 1


def test_spaced_headers_keep_their_did_you_mean(tmp_path):
    header = ["Employee ID", "Birth Date", "employee_hire_date", "employee_gross_compensation"]
    census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000"]], header)
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert ("required columns missing: 'employee_id' (found 'Employee ID': misspelled?), "
            "'employee_birth_date' (found 'Birth Date': misspelled?)") in line


@pytest.mark.parametrize("cell", ["1980-01-01 00:00:00", "1980-01-01T00:00:00Z", "1980-01-01T00:00:00.000Z",
                                  "1980-01-01T00:00:00+00:00", "1980/01/01", "1980-1-1"])
def test_dates_with_a_midnight_time_part(tmp_path, cell):
    t = read_census(census_file(tmp_path, [["E1", cell, "2010-05-01", "85000", "0"]]), 2025).table
    assert t["birth_date"].to_pylist() == [dt.date(1980, 1, 1)]


def test_a_time_of_day_is_refused(tmp_path):
    census_file(tmp_path, [["E1", "1980-01-01 13:45:00", "2010-05-01", "85000", "0"]])
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert "1 row (line 2) has a time of day other than midnight (dates only) (e.g. '1980-01-01 13:45:00')" in line


def test_money_and_percent_signs_and_thousands_separators(tmp_path):
    rows = [["E1", "1980-01-01", "2010-05-01", "$64,400.00", "6%"],
            ["E2", "1980-01-01", "2010-05-01", "$ 1,234,567", "10 %"],
            ["E3", "1980-01-01", "2010-05-01", "51400", "0%"]]
    t = read_census(census_file(tmp_path, rows), 2025).table
    assert t["compensation_cents"].to_pylist() == [6_440_000, 123_456_700, 5_140_000]
    assert t["deferral_rate"].to_pylist() == pytest.approx([0.06, 0.10, 0.0])


@pytest.mark.parametrize("cell", ["1,5", "64,40", "6.5%", "1,2345.00", "12 000"])
def test_misplaced_separators_and_signs_in_pay_are_refused(tmp_path, cell):
    census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", cell, "0"]])
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert f"column 'employee_gross_compensation': 1 row (line 2) is not a number (e.g. '{cell}')" in line


@pytest.mark.parametrize("missing", ["", "NULL", "N/A", "null", "n/a", "NA", "None"])
def test_missing_markers_in_optional_columns(tmp_path, missing):
    header = [*H, "active", "employee_termination_date", "auto_escalation_opt_out", "eligibility_override", "level_id"]
    rows = [["E1", "1980-01-01", "2010-05-01", "85000", missing, missing, missing, missing, missing, missing]]
    t = read_census(census_file(tmp_path, rows, header), 2025).table
    row = t.to_pylist()[0]
    assert (row["deferral_rate"], row["active"], row["termination_date"], row["auto_escalation_opt_out"],
            row["eligibility_override"], row["level_id"]) == (0.0, True, None, False, None, None)


def test_missing_marker_in_a_required_column_is_named_as_empty(tmp_path):
    census_file(tmp_path, [["E1", "NULL", "2010-05-01", "85000", "0"]])
    assert "1 row (line 2) is empty (a date is required)" in refused(tmp_path, "run", "--census", "c.csv")


def test_all_empty_rows_are_skipped_and_lines_still_count(tmp_path):
    body = csv_text([["E1", "1980-01-01", "2010-05-01", "85000", "0"]]) + ",,,,\n\n" \
        + "E2,1980-01-01,2010-05-01,-5,0\n,,,,\n,,,,\n"
    (tmp_path / "c.csv").write_text(body)
    # E2 is on line 5 of the file (header, E1, ',,,,', blank line, E2)
    assert "1 row (line 5) must be a finite amount > 0" in refused(tmp_path, "run", "--census", "c.csv")
    (tmp_path / "c.csv").write_text(body.replace("-5", "50000"))
    assert read_census(tmp_path / "c.csv", 2025).table["employee_id"].to_pylist() == ["E1", "E2"]


def test_ambiguous_dates_need_a_format(tmp_path):
    census_file(tmp_path, [["E1", "01/02/1980", "25/12/2010", "85000", "0"]])
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert "column 'employee_birth_date': dates like '01/02/1980' could be month/day/year or day/month/year" in line
    assert "--date-format %d/%m/%Y or --date-format %m/%d/%Y" in line
    census_file(tmp_path, [["E1", "1980-01-01", "25/12/2010", "85000", "0"]])
    assert "'25/12/2010' suggests day first: --date-format %d/%m/%Y" in refused(tmp_path, "run", "--census", "c.csv")


def test_explicit_date_format(tmp_path):
    census_file(tmp_path, [["E1", "01/02/1980", "12/25/2010", "85000", "0"]])
    t = read_census(tmp_path / "c.csv", 2025, date_format="%m/%d/%Y").table
    assert t["birth_date"].to_pylist() == [dt.date(1980, 1, 2)]
    assert t["hire_date"].to_pylist() == [dt.date(2010, 12, 25)]
    r = invoke(tmp_path, "run", "--census", "c.csv", "--date-format", "%m/%d/%Y", "--years", "2025", "--out", "wh")
    assert r.exit_code == 0, r.output
    census_file(tmp_path, [["E1", "02/29/1981", "12/25/2010", "85000", "0"]])
    line = refused(tmp_path, "run", "--census", "c.csv", "--date-format", "%m/%d/%Y")
    assert "is not a real calendar date (e.g. '02/29/1981')" in line
    census_file(tmp_path, [["E1", "1980-01-02", "12/25/2010", "85000", "0"]])
    assert "is not a date in the --date-format '%m/%d/%Y' form (e.g. '1980-01-02')" in refused(
        tmp_path, "run", "--census", "c.csv", "--date-format", "%m/%d/%Y")


def test_parquet_timestamps(tmp_path):
    base = {"employee_id": ["E1"], "employee_hire_date": pa.array([dt.date(2010, 5, 1)]),
            "employee_gross_compensation": [85000.0]}
    midnight = pa.array([dt.datetime(1980, 1, 1)], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({**base, "employee_birth_date": midnight}), tmp_path / "ok.parquet")
    assert read_census(tmp_path / "ok.parquet", 2025).table["birth_date"].to_pylist() == [dt.date(1980, 1, 1)]
    noon = pa.array([dt.datetime(1980, 1, 1, 12)], pa.timestamp("ms"))
    pq.write_table(pa.table({**base, "employee_birth_date": noon}), tmp_path / "noon.parquet")
    line = refused(tmp_path, "run", "--census", "noon.parquet")
    assert "noon.parquet: column 'employee_birth_date': 1 row (row 1) has a time of day other than midnight" in line


def test_short_rows_name_their_line(tmp_path):
    (tmp_path / "c.csv").write_text(csv_text([["E1", "1980-01-01", "2010-05-01", "85000", "0"]])
                                    + "E2,1980-01-01,2010-05-01\n")
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert "c.csv: line 3 has 3 fields where the header has 5 ('E2,1980-01-01,2010-05-01')" in line


# --- 3. quarantine ---------------------------------------------------------------------------

def mixed_census(tmp_path: Path) -> Path:
    rows = [["E1", "1980-01-01", "2010-05-01", "85000", "0.05"],
            ["E2", "2011-01-01", "2010-05-01", "60000", "0"],      # born after hired
            ["E3", "1981-02-29", "2010-05-01", "60000", "0"],      # no such day
            ["E1", "1985-01-01", "2012-05-01", "70000", "0"],      # repeated id
            ["E5", "1985-01-01", "2012-05-01", "lots", "0"],       # not a number
            ["E6", "1985-01-01", "2012-05-01", "55000", "-0.02"],  # a negative rate
            ["E7", "1985-01-01", "2012-05-01", "55000", "inf"],    # not a rate at all
            ["E8", "1990-06-15", "2020-03-01", "52000", "0.03"]]
    path = census_file(tmp_path, rows)
    with path.open("a") as f:
        f.write("E9,1990-06-15\n")                                # line 10: too few fields
    return path


EXPECTED_REJECTS = [
    (3, "E2", "employee_birth_date", "2011-01-01", "is after the employee_hire_date"),
    (4, "E3", "employee_birth_date", "1981-02-29", "is not a real calendar date"),
    (5, "E1", "employee_id", "E1", "repeats an employee_id seen earlier"),
    (6, "E5", "employee_gross_compensation", "lots", "is not a number"),
    (7, "E6", "employee_deferral_rate", "-0.02", "is outside 0-1 (or 0-100 in a column written in percent)"),
    (8, "E7", "employee_deferral_rate", "inf", "is not a finite number"),
    (10, None, "(row)", "E9,1990-06-15", "has 2 fields where the header has 5"),
]


def test_skip_sets_bad_rows_aside_with_line_and_reason(tmp_path):
    census = read_census(mixed_census(tmp_path), 2025, on_bad_rows="skip")
    assert census.table["employee_id"].to_pylist() == ["E1", "E8"]
    rejects = sorted(census.rejects.to_pylist(), key=lambda r: r["number"])
    assert [(r["number"], r["employee_id"], r["column"], r["value"], r["reason"]) for r in rejects] == EXPECTED_REJECTS
    assert {r["unit"] for r in rejects} == {"line"} and census.rows_rejected == 7 and census.rows_read == 9


def test_fail_is_the_default_and_names_the_first_problem(tmp_path):
    mixed_census(tmp_path)
    assert "line 10 has 2 fields where the header has 5" in refused(tmp_path, "run", "--census", "c.csv")


def test_skip_through_the_cli_writes_rejects_and_counts_them(tmp_path):
    mixed_census(tmp_path)
    r = invoke(tmp_path, "run", "--census", "c.csv", "--on-bad-rows", "skip", "--years", "2025-2026", "--out", "wh")
    assert r.exit_code == 0, r.output
    summary = [line for line in r.stdout.splitlines() if "set aside" in line]
    assert summary == ["7 of 9 census rows set aside ((row) has 2 fields where the header has 5: 1, "
                       "employee_birth_date is after the employee_hire_date: 1, employee_birth_date is not a real "
                       "calendar date: 1, employee_deferral_rate is not a finite number: 1, employee_deferral_rate "
                       "is outside 0-1 (or 0-100 in a column written in percent): 1, employee_gross_compensation is "
                       "not a number: 1, employee_id repeats an employee_id seen earlier: 1): "
                       "see wh/rejects/census_rejects.csv"]
    back = pacsv.read_csv(tmp_path / "wh" / "rejects" / "census_rejects.csv").to_pylist()
    assert sorted((r["number"], r["reason"]) for r in back) == [(e[0], e[4]) for e in EXPECTED_REJECTS]
    manifest = json.loads((tmp_path / "wh" / "manifests" / "simulation_year=2025.json").read_text())
    assert manifest["census"] == {"source": "c.csv", "rows_read": 9, "rows_kept": 2, "rows_rejected": 7,
                                  "rejects": "rejects/census_rejects.csv"}
    assert "census" not in json.loads((tmp_path / "wh" / "manifests" / "simulation_year=2026.json").read_text())
    assert invoke(tmp_path, "validate", "wh").exit_code == 0
    # a later clean census for the same start year leaves no stale list behind
    census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000", "0.05"]])
    r = invoke(tmp_path, "run", "--census", "c.csv", "--on-bad-rows", "skip", "--years", "2025", "--out", "wh")
    assert r.exit_code == 0 and "set aside" not in r.stdout
    assert not (tmp_path / "wh" / "rejects" / "census_rejects.csv").exists()


@pytest.mark.parametrize(("rows", "header", "needle"), [
    ([["E1", "1980-01-01", "2010-05-01"]], H[:3], "required column missing: 'employee_gross_compensation'"),
    ([["E1", "1980-01-01", "2010-05-01", "1", "0", "E1"]], [*H, "Employee_ID"],
     "column 'employee_id' (as 'employee_id', 'Employee_ID'; headers match ignoring case) appears more than once"),
    ([["E1", "01/02/1980", "2010-05-01", "85000", "0"]], H, "could be month/day/year or day/month/year"),
    ([["E1", "1980-01-01", "2010-05-01", "85000", "0.05"], ["E2", "1980-01-01", "2010-05-01", "85000", "6"]], H,
     "mixes fractions"),
])
def test_file_level_problems_fail_even_with_skip(tmp_path, rows, header, needle):
    census_file(tmp_path, rows, header)
    assert needle in refused(tmp_path, "run", "--census", "c.csv", "--on-bad-rows", "skip")


def test_reference_census_sets_aside_exactly_its_nine_rows(tmp_path):
    path = SAMPLES / "planalign_census_5k.parquet"
    raw = pq.read_table(path)
    born_after_hire = pc.greater(raw["employee_birth_date"], raw["employee_hire_date"])
    expected = sorted(raw.filter(born_after_hire)["employee_id"].to_pylist())
    assert len(expected) == 9
    with pytest.raises(UserError, match=r"9 rows \(rows 32, 583, 916, 1167, 2305 and 4 more\) are after"):
        read_census(path, 2025)
    census = read_census(path, 2025, on_bad_rows="skip")
    assert sorted(census.rejects["employee_id"].to_pylist()) == expected
    assert set(census.rejects["reason"].to_pylist()) == {"is after the employee_hire_date"}
    assert census.table.num_rows == 4_991
    active = pc.and_(raw["active"], pc.is_null(raw["employee_termination_date"]))
    assert pc.sum(census.table["active"]).as_py() == pc.sum(pc.and_(active, pc.invert(born_after_hire))).as_py()
    r = invoke(tmp_path, "run", "--census", str(path), "--on-bad-rows", "skip", "--years", "2025", "--out", "wh")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == ("9 of 5,000 census rows set aside (employee_birth_date is after the "
                                         "employee_hire_date: 9): see wh/rejects/census_rejects.csv")


# --- 4. plausibility -------------------------------------------------------------------------

def test_plausibility_warnings(tmp_path):
    header = [*H, "active", "employee_termination_date"]
    rows = [["E1", "2012-06-01", "2024-05-01", "85000", "0", "true", ""],        # 12 on Jan 1, 2025
            ["E2", "1920-01-02", "1960-05-01", "85000", "0", "true", ""],        # 104
            ["E3", "1980-01-01", "2010-05-01", "25000000", "0", "true", ""],     # paid 25M
            ["E4", "1980-01-01", "2010-05-01", "85", "0", "true", ""],           # 85 a year
            ["E5", "1980-01-01", "2010-05-01", "85000", "0", "true", "2024-03-31"],  # active, yet gone
            ["E6", "1980-01-01", "2010-05-01", "85000", "0", "true", ""]]
    census_file(tmp_path, rows, header)
    r = invoke(tmp_path, "run", "--census", "c.csv", "--years", "2025", "--out", "wh")
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: c.csv: column 'employee_birth_date': 1 row (line 2) is younger than 14 on 2025-01-01",
        "warning: c.csv: column 'employee_birth_date': 1 row (line 3) is older than 100 on 2025-01-01",
        "warning: c.csv: column 'employee_gross_compensation': 1 row (line 4) is paid more than 10,000,000 a year",
        "warning: c.csv: column 'employee_gross_compensation': 1 row (line 5) is paid less than 1,000 a year "
        "(is the column in thousands?)",
        "warning: c.csv: column 'employee_termination_date': 1 row (line 6) is marked active but terminated before "
        "2025-01-01; they are left out as terminated",
    ]
    assert r.stdout.splitlines()[1].split()[2] == "5"  # E5 is not in the cohort


def test_a_census_with_no_active_employee_is_refused(tmp_path):
    header = [*H, "employee_termination_date"]
    census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000", "0", "2024-03-31"]], header)
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert ("c.csv: no active employees at the end of 2024 (1 row, all inactive or terminated before 2025-01-01): "
            "nothing to simulate") in line


# --- 5. pay too large ------------------------------------------------------------------------

@pytest.mark.parametrize("pay", ["1e16", "1e17", "2000000000"])
def test_pay_too_large_for_cents_is_a_clear_refusal(tmp_path, pay):
    census_file(tmp_path, [["E1", "1980-01-01", "2010-05-01", "85000", "0"],
                           ["E2", "1980-01-01", "2010-05-01", pay, "0"]])
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert (f"column 'employee_gross_compensation': 1 row (line 3) is above 1,000,000,000 a year, more than can be "
            f"projected in whole cents with years of raises (e.g. '{pay}')") in line


# --- 6. start year ---------------------------------------------------------------------------

def late_census(tmp_path: Path) -> Path:
    rows = [[f"E{i}", "1980-01-01", "2029-06-01" if i < 3 else "2015-01-01", "85000", "0"] for i in range(40)]
    return census_file(tmp_path, rows)


def test_years_set_the_start_year_with_a_census(tmp_path):
    late_census(tmp_path)
    r = invoke(tmp_path, "run", "--census", "c.csv", "--years", "2030-2031", "--out", "wh")
    assert r.exit_code == 0, r.output
    assert [line.split()[0] for line in r.stdout.splitlines()[1:3]] == ["2030", "2031"]
    manifest = json.loads((tmp_path / "wh" / "manifests" / "simulation_year=2030.json").read_text())
    assert "start_year = 2030" in manifest["config_toml"]
    assert invoke(tmp_path, "validate", "wh").exit_code == 0


def test_start_year_set_in_the_config_conflicts_with_years(tmp_path):
    late_census(tmp_path)
    (tmp_path / "plan.toml").write_text("[scenario]\nstart_year = 2025\n")
    line = refused(tmp_path, "run", "--census", "c.csv", "--config", "plan.toml", "--years", "2030-2032")
    assert line == ("error: --years: the run starts in 2030, but plan.toml sets [scenario].start_year = 2025, and a "
                    "census is the workforce at the end of the year before the start: run --years 2025-2030, or remove "
                    "start_year from plan.toml to start the census in 2030")


def test_without_years_the_config_start_year_applies_and_the_message_says_where_it_came_from(tmp_path):
    late_census(tmp_path)
    line = refused(tmp_path, "run", "--census", "c.csv")
    assert ("3 rows (lines 2, 3, 4) are on or after the simulation start 2025-01-01 (the first simulated year: "
            "[scenario].start_year, or with a census the first year simulated); the census is the workforce at the end "
            "of 2024") in line


# --- 7. library intake -----------------------------------------------------------------------

def raw_table() -> pa.Table:
    return pa.table({
        "employee_id": ["E1", "E2", "E3"],
        "employee_birth_date": pa.array([dt.date(1980, 1, 1), dt.date(1990, 6, 15), dt.date(1975, 3, 3)]),
        "employee_hire_date": pa.array([dt.date(2010, 5, 1), dt.date(2020, 3, 1), dt.date(2001, 9, 9)]),
        "employee_gross_compensation": [85000.0, 60000.0, 120000.5],
        "employee_deferral_rate": [0.05, 0.0, 0.06],
    })


def test_arrow_objects_read_like_a_file(tmp_path):
    table = raw_table()
    pq.write_table(table, tmp_path / "c.parquet")
    expected = read_census(tmp_path / "c.parquet", 2025).table
    assert expected["compensation_cents"].to_pylist() == [8_500_000, 6_000_000, 12_000_050]
    readers = {
        "table": table,
        "record batch reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2)),
        "c stream": type("Stream", (), {"__arrow_c_stream__": lambda self, requested_schema=None:
                                        table.__arrow_c_stream__(requested_schema)})(),
    }
    for name, source in readers.items():
        assert read_census(source, 2025).table.equals(expected), name


def test_polars_pandas_and_duckdb_read_directly():
    import duckdb
    import pandas as pd
    import polars as pl

    table = raw_table()
    expected = read_census(table, 2025).table
    assert read_census(pl.from_arrow(table), 2025).table.equals(expected)
    assert read_census(pd.DataFrame(table.to_pydict()), 2025).table.equals(expected)
    con = duckdb.connect()
    con.register("census_view", table)
    assert read_census(con.sql("SELECT * FROM census_view"), 2025).table.equals(expected)


def test_library_errors_are_user_errors_with_the_same_messages(tmp_path):
    bad = raw_table().set_column(3, "employee_gross_compensation", pa.array([85000.0, -1.0, 5.0]))
    with pytest.raises(UserError, match=r"census \(pyarrow.Table\): column 'employee_gross_compensation': 1 row "
                                        r"\(row 2\) must be a finite amount > 0"):
        read_census(bad, 2025)
    with pytest.raises(UserError, match="required column missing: 'employee_hire_date'"):
        read_census(raw_table().drop_columns(["employee_hire_date"]), 2025)
    with pytest.raises(UserError, match="expected a file path, a pyarrow Table or RecordBatchReader, or an object "
                                        "with __arrow_c_stream__"):
        read_census(42, 2025)
    with pytest.raises(UserError, match="must be a finite amount > 0"):
        run(load_config(None), tmp_path / "wh", census=bad)
    assert not (tmp_path / "wh").exists()


def test_run_takes_a_raw_table_and_quarantines(tmp_path):
    import polars as pl

    bad = raw_table().set_column(3, "employee_gross_compensation", pa.array([85000.0, -1.0, 5e4]))
    report = run(load_config(None), tmp_path / "wh", [2025], census=pl.from_arrow(bad), on_bad_rows="skip")
    assert report.census.rows_rejected == 1 and report.years[0].headcount_start == 2
    rejects = pacsv.read_csv(tmp_path / "wh" / "rejects" / "census_rejects.csv").to_pylist()
    assert [(r["unit"], r["number"], r["employee_id"]) for r in rejects] == [("row", 2, "E2")]
    ok = run(load_config(None), tmp_path / "wh2", [2025], census=raw_table())
    assert ok.years[0].headcount_start == 3



def test_scheduled_hours_per_week_are_read_checked_and_default_to_40(tmp_path):
    header = H + ["scheduled_hours_per_week"]
    rows = [["E1", "1980-01-01", "2010-01-01", "50000", "0", "37.5"], ["E2", "1980-01-01", "2010-01-01", "50000",
                                                                      "0", ""]]
    census = read_census(census_file(tmp_path, rows, header), 2025)
    assert census.table["scheduled_hours_per_week"].to_pylist() == [37.5, 40.0]  # empty: the standard week
    without = read_census(census_file(tmp_path, [rows[0][:5]]), 2025)  # no column: the standard week
    assert without.table["scheduled_hours_per_week"].to_pylist() == [40.0]
    for cell in ("0", "169", "-5"):
        bad = census_file(tmp_path, [rows[0][:5] + [cell]], header, name="bad.csv")
        with pytest.raises(UserError, match=r"column 'scheduled_hours_per_week': 1 row \(line 2\) must be more than 0 "
                                            r"and at most 168 hours a week"):
            read_census(bad, 2025)
