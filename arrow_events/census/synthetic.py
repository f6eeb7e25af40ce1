"""Synthetic censuses in the PlanAlign column format, and writing a census file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrow_events.errors import UserError

_LEVEL_SHARE = np.array([0.40, 0.30, 0.17, 0.09, 0.04])
_LEVEL_PAY = np.array([[45_000, 80_000], [80_000, 120_000], [120_000, 160_000], [160_000, 275_000],
                       [275_000, 450_000]], dtype=float)


def synthetic_census(employees: int, seed: int = 42, start_year: int = 2025) -> pa.Table:
    """A realistic census in the PlanAlign column format, deterministic per (employees, seed).

    Ages 22-64, tenures skewed short, pay inside each level's band, ~12% hired
    in the year before the start, ~40% enrolled at 3-10%, 5% escalation opt-outs.
    """
    if employees < 1:
        raise UserError(f"employees: must be at least 1, got {employees}")
    rng = np.random.default_rng(seed)
    n = employees
    base_end = np.datetime64(f"{start_year - 1}-12-31")
    level = rng.choice(5, size=n, p=_LEVEL_SHARE) + 1
    age = np.clip(np.round(rng.normal(41 + 3 * (level - 1), 10, n)), 22, 64).astype(int)
    recent = rng.random(n) < 0.12
    tenure_days = np.where(
        recent,
        rng.integers(0, 365, n),
        np.minimum(rng.exponential(6.0, n) * 365.25, (age - 20) * 365.25).astype(int) + 365,
    )
    hire = base_end - tenure_days.astype("timedelta64[D]")
    birth_offset = (age * 365.25 + rng.integers(0, 365, n)).astype(int)
    birth = base_end - birth_offset.astype("timedelta64[D]")
    birth = np.minimum(birth, hire - np.timedelta64(18 * 365, "D"))
    lo, hi = _LEVEL_PAY[level - 1, 0], _LEVEL_PAY[level - 1, 1]
    pay = np.round(lo + (hi - lo) * rng.beta(2.0, 3.0, n), 2)
    enrolled = rng.random(n) < 0.40
    rate = np.where(enrolled, rng.integers(3, 11, n) / 100.0, 0.0)
    ids = pa.array([f"EMP_{i:07d}" for i in range(1, n + 1)], pa.string())
    return pa.table(
        {
            "employee_id": ids,
            "employee_birth_date": pa.array(birth.astype("datetime64[D]"), pa.date32()),
            "employee_hire_date": pa.array(hire.astype("datetime64[D]"), pa.date32()),
            "employee_gross_compensation": pa.array(pay),
            "active": pa.array(np.ones(n, bool)),
            "employee_termination_date": pa.nulls(n, pa.date32()),
            "employee_deferral_rate": pa.array(rate),
            "auto_escalation_opt_out": pa.array(rng.random(n) < 0.05),
            "eligibility_override": pa.nulls(n, pa.bool_()),
            "level_id": pa.array(level.astype(np.int32)),
        }
    )


def write_census(table: pa.Table, path: str | Path) -> None:
    """Write a census as CSV or Parquet by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    elif path.suffix.lower() == ".csv":
        pacsv.write_csv(table, path)
    else:
        raise UserError(f"{path}: census output must end in .csv or .parquet")
