"""The output contract (DOMAIN.md section 5 and 6) as explicit Arrow schemas.

Inside the engine money is integer cents (``*_cents`` columns); the writer turns
them into decimal(18, 2) by reinterpreting the integer, which is exact.
simulation_year is the Hive partition key: it lives in the directory name.
"""

from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
_CENTS = pa.decimal128(18, 0)

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("scenario_id", pa.string(), nullable=False),
        pa.field("plan_design_id", pa.string(), nullable=False),
        pa.field("employee_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_category", pa.string(), nullable=False),
        pa.field("event_seq", pa.int32(), nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("level_id", pa.int32()),
        pa.field("previous_level_id", pa.int32()),
        pa.field("compensation", MONEY),
        pa.field("previous_compensation", MONEY),
        pa.field("deferral_rate", pa.float64()),
        pa.field("previous_deferral_rate", pa.float64()),
        pa.field("event_probability", pa.float64()),
        pa.field("employee_age", pa.int32()),
        pa.field("tenure_years", pa.int32()),
        pa.field("age_band", pa.string()),
        pa.field("tenure_band", pa.string()),
    ]
)

SNAPSHOT_SCHEMA = pa.schema(
    [
        pa.field("scenario_id", pa.string(), nullable=False),
        pa.field("plan_design_id", pa.string(), nullable=False),
        pa.field("employee_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("hire_date", pa.date32(), nullable=False),
        pa.field("birth_date", pa.date32(), nullable=False),
        pa.field("termination_date", pa.date32()),
        # an active's known future termination (from the census), carried to the year it falls in
        pa.field("scheduled_termination_date", pa.date32()),
        pa.field("level_id", pa.int32(), nullable=False),
        pa.field("compensation", MONEY, nullable=False),
        pa.field("deferral_rate", pa.float64(), nullable=False),
        pa.field("enrolled", pa.bool_(), nullable=False),
        pa.field("enrollment_date", pa.date32()),
        pa.field("opted_out", pa.bool_(), nullable=False),
        pa.field("auto_escalation_opt_out", pa.bool_(), nullable=False),
        pa.field("eligibility_override", pa.bool_()),
        pa.field("eligibility_date", pa.date32()),
    ]
)

TABLES = {"events": EVENTS_SCHEMA, "snapshot": SNAPSHOT_SCHEMA}


def cents_to_money(cents: pa.Array) -> pa.Array:
    """int64 cents -> decimal(18, 2), exactly (cents beyond 18 digits cannot arise from pay)."""
    # int64 needs 19 digits; the final cast to 18 digits checks every value fits
    return cents.cast(pa.decimal128(19, 0)).view(pa.decimal128(19, 2)).cast(MONEY)


def money_to_cents(money: pa.Array | pa.ChunkedArray) -> pa.Array:
    """decimal(18, 2) -> int64 cents, exactly."""
    arr = money.combine_chunks() if isinstance(money, pa.ChunkedArray) else money
    return arr.cast(MONEY).view(_CENTS).cast(pa.int64())


def to_contract(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast the engine's columns into ``schema`` (cents become money)."""
    columns = []
    for f in schema:
        if f.type == MONEY:
            columns.append(cents_to_money(table[f"{f.name}_cents"].combine_chunks()))
        else:
            columns.append(table[f.name].combine_chunks().cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)
