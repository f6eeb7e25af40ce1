"""A shard's events and snapshot in contract form, read off its member rows with no sort.

``member_year`` (queries/member_year.sql) holds one row per plan design and member with every
branch's outcome side by side: per event type ``<type>_on`` (the date; NULL when the event does
not happen), ``<type>_category`` where the type has several, ``<type>_probability``, and the
state the event sets (``<type>_level_id``, ``<type>_compensation_cents``, ``<type>_deferral_rate``).
A row's events are its dated types in moment order; emitting them row after row, the rows in
(employee_id, plan_design_id) order, gives the year partition's order directly.

Level, pay and deferral rate are shown as of each event: the value set by the latest event at or
before it, else the row's Jan-1 value. An event that sets one shows the value before it as
``previous_*``. This is mechanics, not a rule: which event sets what is the SQL's to say.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from arrow_events.schema import (
    CATEGORY,
    EVENT_TYPES,
    EVENTS_SCHEMA,
    MOMENT_STRIDE,
    MONEY,
    cents_to_money,
    snapshot_schema,
)
from arrow_events.udfs.hash_rng import event_id_prefix, event_id_text

# The state an event may set, shown as of every event.
STATE = ["level_id", "compensation_cents", "deferral_rate"]
# a moment is a day number times MOMENT_STRIDE plus the type: int32 holds any date for 300,000 years,
# and sorting rows of int32 costs less than of int64
_ABSENT = np.iinfo(np.int32).max


def in_order(rows: pa.Table, designs: int) -> pa.Table:
    """A query's rows (one per member and design, or some members' rows) in (member, design) order.

    DataFusion's partitions hand over batches that are each in order but interleaved: then the batches
    are put in order, which copies no rows; otherwise the rows are gathered."""
    position = _positions(rows["member_ix"], rows["design_rank"], designs)
    batches = [b for b in rows.to_batches() if b.num_rows]
    starts = np.cumsum([0] + [b.num_rows for b in batches])
    if len(batches) > 1:
        ascending = np.diff(position) > 0
        ascending[starts[1:-1] - 1] = True  # a batch may start anywhere
        if ascending.all():
            firsts, lasts = position[starts[:-1]], position[starts[1:] - 1]
            sequence = np.argsort(firsts, kind="stable")
            if (lasts[sequence][:-1] < firsts[sequence][1:]).all():  # the batches do not overlap
                return pa.Table.from_batches([batches[i] for i in sequence], rows.schema)
    order = _order(position)
    return rows if (order == np.arange(len(order))).all() else rows.take(order)


def in_row_order(rows: pa.Table, name: str, designs: int) -> np.ndarray:
    """Column ``name`` of a query's rows (one per member and design), in contract order, as NumPy."""
    return _numbers(in_order(rows.select(["member_ix", "design_rank", name]), designs)[name])[0]


def contract_rows(rows: pa.Table, designs: int, schema: pa.Schema, beside: pa.Table | None = None) -> pa.Table:
    """A query's one row per (member, design), in contract order and ``schema``'s types; a money
    column ``x`` comes from the query's integer ``x_cents``, and a column the query lacks from
    ``beside``, contract rows of the same (member, design) pairs (the snapshot's keys)."""
    ordered = in_order(rows, designs)
    columns = []
    for f in schema:
        if f.type == MONEY:
            columns.append(cents_to_money(ordered[f"{f.name}_cents"].combine_chunks()))
        elif f.name in ordered.column_names or beside is None:
            columns.append(ordered[f.name].combine_chunks().cast(f.type))
        else:
            columns.append(beside[f.name])
    return pa.Table.from_arrays(columns, schema=schema)


def snapshot_rows(snapshot: pa.Table, designs: int, hours_of_service: bool = False) -> pa.Table:
    """The snapshot query's rows in contract order and types (with each employee's scheduled hours when a
    design requires hours of service)."""
    return contract_rows(snapshot, designs, snapshot_schema(hours_of_service))


def events(members: pa.Table, designs: int, year: int) -> tuple[pa.Table, np.ndarray]:
    """Every event of ``members`` (member_year rows of ``year``), in contract order and types, and each
    event's path."""
    if not members.num_rows:
        return EVENTS_SCHEMA.empty_table(), np.zeros(0, np.int64)
    members = in_order(members, designs)
    column = _Columns(members)
    moment, rows, seq = _placed(column, members.num_rows)
    types = (moment % MOMENT_STRIDE - 1).astype(np.intp)
    first = np.arange(len(rows)) - seq + 1  # each event's row's first event
    of_type = [np.flatnonzero(types == t) for t in range(len(EVENT_TYPES))]

    def by_type(field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each event's ``<type>_<field>``: values, validity, and whether its type has the field."""
        kind = next(column[c][0].dtype for c in (f"{n}_{field}" for n in EVENT_TYPES) if c in column)
        values, valid, has = np.zeros(len(rows), kind), np.zeros(len(rows), bool), np.zeros(len(rows), bool)
        for t, name in enumerate(EVENT_TYPES):
            if f"{name}_{field}" in column:
                at = of_type[t]
                v, ok = column[f"{name}_{field}"]
                values[at], valid[at], has[at] = v[rows[at]], ok[rows[at]], True
        return values, valid, has

    shown: dict[str, pa.Array] = {}
    for field in STATE:
        setter, setter_ok, sets = by_type(field)
        base, base_ok = (a[rows] for a in column[field])
        latest = np.maximum.accumulate(np.where(sets, np.arange(len(rows)), -1))
        before = np.full_like(latest, -1)  # the latest setter strictly before the event
        before[1:] = latest[:-1]
        now_set, before_set = latest >= first, before >= first
        shown[field] = _array(np.where(now_set, setter[latest], base), np.where(now_set, setter_ok[latest], base_ok))
        shown[f"previous_{field}"] = _array(np.where(before_set, setter[before], base),
                                            sets & np.where(before_set, setter_ok[before], base_ok))
    probability, probability_ok, _ = by_type("probability")

    def take(name: str) -> pa.Array:
        return members[name].take(rows).combine_chunks()

    # the id's fold over scenario, design, employee and year is the row's; only the seq is the event's
    prefix = event_id_prefix(column["scenario_key"][0], column["plan_design_key"][0], column["employee_key"][0],
                             np.int64(year))
    columns = {
        "event_id": event_id_text(prefix[rows], seq),
        "scenario_id": take("scenario_id"),
        "plan_design_id": take("plan_design_id"),
        "employee_id": take("employee_id"),
        "event_type": pa.array(EVENT_TYPES).take(types),
        "event_category": _categories(members, rows, types, of_type),
        "event_seq": pa.array(seq.astype(np.int32)),
        "event_date": pa.array((moment // MOMENT_STRIDE).astype(np.int32)).view(pa.date32()),
        "level_id": shown["level_id"].cast(pa.int32()),
        "previous_level_id": shown["previous_level_id"].cast(pa.int32()),
        "compensation": cents_to_money(shown["compensation_cents"]),
        "previous_compensation": cents_to_money(shown["previous_compensation_cents"]),
        "deferral_rate": shown["deferral_rate"],
        "previous_deferral_rate": shown["previous_deferral_rate"],
        "event_probability": _array(probability, probability_ok),
        "employee_age": pa.array(column["age"][0][rows].astype(np.int32)),
        "tenure_years": pa.array(column["tenure"][0][rows].astype(np.int32)),
        "age_band": take("age_band"),
        "tenure_band": take("tenure_band"),
    }
    return pa.Table.from_arrays([columns[f.name] for f in EVENTS_SCHEMA], schema=EVENTS_SCHEMA), column["path"][0][rows]


def _placed(column: _Columns, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each event's moment, row and seq (1-based within its row), in output order (the rows in contract
    order). A function of its own so that its arrays by row and type are freed before the events' columns
    are made (peak memory)."""
    # each row's moments (absent types last) ...
    moments = np.full((n, len(EVENT_TYPES)), _ABSENT, np.int32)
    for t, name in enumerate(EVENT_TYPES):
        days, dated = column[f"{name}_on"]
        np.copyto(moments[:, t], days * MOMENT_STRIDE + (t + 1), where=dated)
    moments.sort(axis=1)
    # ... so that reading the present ones row by row gives the events in output order
    present = moments != _ABSENT
    row, nth = np.nonzero(present)
    return moments[present], row, nth + 1


def _categories(members: pa.Table, rows: np.ndarray, types: np.ndarray, of_type: list[np.ndarray]) -> pa.Array:
    """Each event's category: its type's own, or the row's ``<type>_category`` where the type has several."""
    names = [CATEGORY.get(t, t) for t in EVENT_TYPES]
    codes = types.astype(np.int32)
    for t, name in enumerate(EVENT_TYPES):
        if f"{name}_category" in members.column_names:
            at = of_type[t]
            found = members[f"{name}_category"].take(rows[at]).combine_chunks().dictionary_encode()
            codes[at] = len(names) + found.indices.to_numpy(zero_copy_only=False)
            names += found.dictionary.to_pylist()
    return pa.array(names, pa.string()).take(codes)


class _Columns(dict):
    """A table's numeric and date columns as NumPy (values, validity), converted when first asked for."""

    def __init__(self, table: pa.Table) -> None:
        super().__init__()
        self.table = table

    def __contains__(self, name: object) -> bool:
        return name in self.table.column_names

    def __missing__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        self[name] = _numbers(self.table[name])
        return self[name]


def _numbers(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A numeric or date column as (values, validity), without copying; values under nulls are arbitrary."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_date32(arr.type):
        arr = arr.view(pa.int32())
    valid = np.ones(len(arr), bool) if not arr.null_count else _validity(arr)
    values = pa.Array.from_buffers(arr.type, len(arr), [None, arr.buffers()[1]], offset=arr.offset)
    return values.to_numpy(), valid


def _validity(arr: pa.Array) -> np.ndarray:
    """An array's validity bitmap as booleans (unpacked directly: ten times faster than ``is_valid()``)."""
    bits = np.frombuffer(arr.buffers()[0], np.uint8)
    return np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")[arr.offset:].view(bool)


def _positions(member_ix: pa.Array | pa.ChunkedArray, design_rank: pa.Array | pa.ChunkedArray,
               designs: int) -> np.ndarray:
    """Each row's place in (member, design) order."""
    return _numbers(member_ix)[0] * designs + _numbers(design_rank)[0]


def _order(position: np.ndarray) -> np.ndarray:
    """The indices that put ``position`` in order: a scatter when every place occurs once, else a sort."""
    if len(position) and position.max() + 1 != len(position):
        return np.argsort(position, kind="stable")
    order = np.empty(len(position), np.int64)
    order[position] = np.arange(len(position))
    return order


def _array(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values, mask=~valid)
