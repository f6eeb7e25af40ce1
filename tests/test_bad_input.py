"""Every kind of bad input: one line naming what and where, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

from arrow_events.cli import main

H = "employee_id,employee_birth_date,employee_hire_date,employee_gross_compensation,employee_deferral_rate\n"
OK_ROW = "E1,1980-01-01,2010-05-01,85000,0.05\n"

# (case, file name, file bytes, extra CLI args, text the message must contain)
CENSUS_CASES = [
    ("misspelled column", "c.csv", b"employee_id,employee_birth_date,employee_hire_date,gross_compensation\n"
     b"E1,1980-01-01,2010-05-01,1\n", [], "required column missing: 'employee_gross_compensation'"),
    ("missing column", "c.csv", b"employee_id,employee_birth_date\nE1,1980-01-01\n", [],
     "required columns missing: 'employee_hire_date', 'employee_gross_compensation'"),
    ("empty file", "c.csv", b"", [], "census file is empty"),
    ("repeated column", "c.csv", (H.strip() + ",employee_id\n" + OK_ROW.strip() + ",E2\n").encode(), [],
     "column 'employee_id' appears more than once in the header"),
    ("header only", "c.csv", H.encode(), [], "census has a header but no employee rows"),
    ("not parquet", "c.parquet", b"PAR1 not really", [], "cannot read census"),
    ("unknown format", "c.xlsx", b"x", [], "unsupported census format '.xlsx'"),
    ("bad date", "c.csv", (H + "E1,01/02/1980,2010-05-01,85000,0\n").encode(), [],
     "column 'employee_birth_date': dates like '01/02/1980' could be month/day/year or day/month/year; pass the "
     "file's format, e.g. --date-format %d/%m/%Y or --date-format %m/%d/%Y"),
    ("impossible date", "c.csv", (H + "E1,1981-02-29,2010-05-01,85000,0\n").encode(), [],
     "column 'employee_birth_date': 1 row (line 2) is not a real calendar date (e.g. '1981-02-29')"),
    ("bad number", "c.csv", (H + OK_ROW + "E2,1980-01-01,2010-05-01,85k,0\n").encode(), [],
     "column 'employee_gross_compensation': 1 row (line 3) is not a number (e.g. '85k')"),
    ("duplicate id", "c.csv", (H + OK_ROW + OK_ROW).encode(), [],
     "column 'employee_id': 1 row (line 3) repeats an employee_id seen earlier (e.g. 'E1')"),
    ("zero pay", "c.csv", (H + "E1,1980-01-01,2010-05-01,0,0\n").encode(), [], "must be a finite amount > 0"),
    ("infinite pay", "c.csv", (H + "E1,1980-01-01,2010-05-01,1e999,0\n").encode(), [],
     "must be a finite amount > 0"),
    ("birth after hire", "c.csv", (H + "E1,2011-01-01,2010-05-01,50000,0\n").encode(), [],
     "is after the employee_hire_date"),
    ("hire after start", "c.csv", (H + "E1,1980-01-01,2025-03-01,50000,0\n").encode(), [],
     "1 row (line 2) is on or after the simulation start 2025-01-01 (the first simulated year: "
     "[scenario].start_year, or with a census the first year simulated)"),
    ("rate above 100%", "c.csv", (H + "E1,1980-01-01,2010-05-01,50000,150\n").encode(), [], "outside 0-1"),
    ("negative rate", "c.csv", (H + "E1,1980-01-01,2010-05-01,50000,-0.02\n").encode(), [], "outside 0-1"),
    ("unknown level", "c.csv", (H.strip() + ",level_id\n" + OK_ROW.strip() + ",6\n").encode(), [],
     "column 'level_id': 1 row (line 2) is not a level 1-5"),
    ("non-UTF-8", "c.csv", H.encode() + b"E\xff1,1980-01-01,2010-05-01,50000,0\n", [],
     "census is not UTF-8 text (line 2: byte 0xff"),
    ("many bad rows", "c.csv", (H + "".join(f"E{i},1980-01-01,2010-05-01,-1,0\n" for i in range(9))).encode(), [],
     "9 rows (lines 2, 3, 4, 5, 6 and 4 more)"),
]

CONFIG_CASES = [
    ("bad TOML", "[scenario\n", "invalid TOML"),
    ("unknown key", "[scenario]\nturnover = 0.1\n", "unknown key 'turnover'"),
    ("did you mean", "[scenario]\nsede = 1\n", "unknown key 'sede' (did you mean 'seed'?)"),
    ("rate out of range", "[scenario]\ntermination_rate = 1.5\n", "termination_rate: must be between 0 and 1"),
    ("impossible growth", "[scenario]\ngrowth = -1.5\n", "|growth| must be <= 1"),
    ("impossible solver", "[scenario]\nnew_hire_termination_rate = 0.995\n", "must be below 0.99"),
    ("wrong type", "[[plan_designs]]\nmin_age = \"21\"\n", "expected a whole number"),
    ("bad memory limit", "[engine]\nmemory_limit = \"lots\"\n", "[engine].memory_limit: expected a size like 1GB"),
    ("non-UTF-8 config", b"[scenario]\n# \xff\n", "config is not UTF-8 text"),
]

ARG_CASES = [
    (["run", "--year", "2027"], "no snapshot for 2026"),
    (["run", "--years", "2027-2025"], "--years: expected YEAR or FIRST-LAST"),
    (["run", "--years", "2030", "--year", "2031"], "--years and --year cannot be used together"),
    (["run", "--census", "c.csv", "--year", "2027"], "--census and --year cannot be used together"),
    (["run", "--out", "afile"], "afile: output path exists and is not a directory"),
    (["run", "--memory-limit", "12 apples"], "--memory-limit: expected a size like 1GB"),
    (["run", "--years", "2025-9999"], "--years: years must be between 1900 and 2200"),
    (["run", "--years", "2025-2200"], "--years: at most 100 years in one run, got 176"),
    (["run", "--threads", "0"], "--threads: must be between 1 and 256, got 0"),
    (["run", "--seed", str(2**64)], "--seed: must be between"),
    (["run", "--ray-address", "auto"], "--ray-address: goes with --executor ray"),
    (["sweep", "--seeds", "5-1"], "--seeds: expected seeds like 1-100"),
    (["run", "--census", "nowhere.csv"], "nowhere.csv: census file not found"),
    (["run", "--config", "nowhere.toml"], "nowhere.toml: config file not found"),
    (["explain", "--year", "2025", "--dump", "rng"], "--dump and --out go together"),
]


def real_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The command as users run it: its own process."""
    return subprocess.run([sys.executable, "-m", "arrow_events", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The same command in this process (each case in seconds less); a traceback would exit 1, not 2."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(main, args)
    finally:
        os.chdir(old)
    err = r.stderr + ("".join(traceback.format_exception(r.exception)) if r.exit_code not in (0, 2) else "")
    return subprocess.CompletedProcess(args, r.exit_code, r.stdout, err)


@pytest.mark.parametrize(("args", "files"), [
    (["run", "--census", "c.csv"], {"c.csv": CENSUS_CASES[0][2]}),
    (["run", "--config", "plan.toml"], {"plan.toml": b"[scenario\n"}),
    (ARG_CASES[0][0], {}),
], ids=["census", "config", "arguments"])
def test_refusals_in_a_real_process(tmp_path, args, files):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    proc, same = real_cli(args, tmp_path), cli(args, tmp_path)
    assert_clean_refusal(proc, "", tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (same.returncode, same.stdout, same.stderr)


def assert_clean_refusal(proc: subprocess.CompletedProcess, needle: str, cwd: Path) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (cwd / "warehouse").exists()


@pytest.mark.parametrize(("case", "name", "content", "args", "needle"), CENSUS_CASES, ids=[c[0] for c in CENSUS_CASES])
def test_bad_census(tmp_path, case, name, content, args, needle):
    (tmp_path / name).write_bytes(content)
    proc = cli(["run", "--census", name, *args], tmp_path)
    assert_clean_refusal(proc, needle, tmp_path)
    assert name in proc.stderr


def test_parquet_census_with_unusable_column_types(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"employee_id": pa.array([[1], [2]]), "employee_birth_date": ["1980-01-01"] * 2,
                             "employee_hire_date": ["2010-01-01"] * 2, "employee_gross_compensation": [1.0, 2.0]}),
                   tmp_path / "c.parquet")
    proc = cli(["run", "--census", "c.parquet"], tmp_path)
    assert_clean_refusal(proc, "census columns have unusable types (employee_id: list<element: int64>", tmp_path)


@pytest.mark.parametrize(("case", "content", "needle"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(tmp_path, case, content, needle):
    path = tmp_path / "plan.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = cli(["run", "--config", "plan.toml"], tmp_path)
    assert_clean_refusal(proc, needle, tmp_path)
    assert "plan.toml" in proc.stderr


@pytest.mark.parametrize(("args", "needle"), ARG_CASES, ids=[" ".join(a[:3]) for a, _ in ARG_CASES])
def test_bad_arguments(tmp_path, args, needle):
    (tmp_path / "afile").write_text("not a directory")
    proc = cli(args, tmp_path)
    assert_clean_refusal(proc, needle, tmp_path)
