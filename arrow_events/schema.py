"""The output contract (docs/model.md §5 and §6): event types, keys, order and Arrow schemas.

Inside the engine money is integer cents (``*_cents`` columns); the writer turns
them into decimal(18, 2) by reinterpreting the integer, which is exact.
simulation_year is the Hive partition key: it lives in the directory name.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# The order of an employee's events within one day (docs/model.md §5).
EVENT_TYPES = [
    "hire",
    "eligibility",
    "enrollment",
    "opt_out",
    "escalation",
    "deferral_change",
    "promotion",
    "merit",
    "termination",
]
# An event's moment orders an employee's year: days since 1970-01-01 x MOMENT_STRIDE + the
# type's place in EVENT_TYPES (1-based), so the date decides and the type order breaks ties.
MOMENT_STRIDE = 16
# The category of each type that has one; termination and enrollment have several (from the SQL).
CATEGORY = {"hire": "new_hire", "eligibility": "eligibility", "opt_out": "opt_out", "escalation": "auto_escalation",
            "deferral_change": "deferral_change", "promotion": "promotion", "merit": "merit_raise"}
# The unique keys, in the order rows are sorted: employee-major, so that a year is written
# shard by shard (employee_id ranges) with no sort across shards.
KEYS = {
    "events": ["scenario_id", "employee_id", "plan_design_id", "event_seq"],
    "snapshot": ["scenario_id", "employee_id", "plan_design_id"],
    "contributions": ["scenario_id", "employee_id", "plan_design_id"],
}

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

# docs/model.md §7: one row per snapshot row (plan design and employee active at any time in the year)
CONTRIBUTIONS_SCHEMA = pa.schema(
    [
        pa.field("scenario_id", pa.string(), nullable=False),
        pa.field("plan_design_id", pa.string(), nullable=False),
        pa.field("employee_id", pa.string(), nullable=False),
        pa.field("plan_compensation", MONEY, nullable=False),
        pa.field("employee_deferrals", MONEY, nullable=False),
        pa.field("employer_match", MONEY, nullable=False),
        pa.field("employer_core", MONEY, nullable=False),
        pa.field("deferral_limit_reached", pa.bool_(), nullable=False),
    ]
)

TABLES = {"events": EVENTS_SCHEMA, "snapshot": SNAPSHOT_SCHEMA, "contributions": CONTRIBUTIONS_SCHEMA}
# The snapshot's last column when a plan design requires hours of service (Config.hours_of_service):
# each employee's scheduled hours a week, carried to the next year like the rest of the state. Without
# such a design the snapshot has no such column (and its bytes are those of a run before hours existed).
HOURS_FIELD = pa.field("scheduled_hours_per_week", pa.float64(), nullable=False)


def snapshot_schema(hours_of_service: bool = False) -> pa.Schema:
    """The snapshot's schema: the contract's, with HOURS_FIELD when a design requires hours of service."""
    return SNAPSHOT_SCHEMA.append(HOURS_FIELD) if hours_of_service else SNAPSHOT_SCHEMA


def contract_schemas(hours_of_service: bool = False) -> dict[str, pa.Schema]:
    """The contract tables' schemas for a config (``Config.hours_of_service``)."""
    return {**TABLES, "snapshot": snapshot_schema(hours_of_service)}
# what every warehouse year has; contributions may be turned off (and years written before they
# existed have none): a year's manifest lists the tables it has
REQUIRED_TABLES = ("events", "snapshot")


def cents_to_money(cents: pa.Array) -> pa.Array:
    """int64 cents -> decimal(18, 2), exactly: the decimal's unscaled value is the cents."""
    cents = cents.cast(pa.int64())
    values = cents.fill_null(0).to_numpy() if cents.null_count else cents.to_numpy()
    if len(values) and np.abs(values).max() >= 10**18:  # cannot arise from pay (at most 1e9 a year)
        raise ValueError("an amount does not fit decimal(18, 2)")
    # a decimal128 is a little-endian two's-complement 128-bit integer: the cents, sign-extended
    unscaled = np.empty((len(values), 2), np.int64)
    unscaled[:, 0], unscaled[:, 1] = values, values >> 63
    validity = cents.buffers()[0] if cents.null_count else None
    if validity is not None and cents.offset:
        validity = pa.array(cents.is_valid()).buffers()[1]
    return pa.Array.from_buffers(MONEY, len(values), [validity, pa.py_buffer(unscaled)], null_count=cents.null_count)


def money_to_cents(money: pa.Array | pa.ChunkedArray) -> pa.Array:
    """decimal(18, 2) -> int64 cents, exactly."""
    arr = money.combine_chunks() if isinstance(money, pa.ChunkedArray) else money
    return arr.cast(MONEY).view(_CENTS).cast(pa.int64())
