"""The in-process API: ``arrow_events.simulate(census, config, years, seed)``, one Arrow stream pair per year.

    import polars as pl
    import arrow_events
    for year in arrow_events.simulate("census.csv", "plan.toml", years="2025-2027", seed=7):
        events = pl.from_arrow(year.events)      # or duckdb / DataFusion, batch by batch
        year.snapshot.to_arrow()                 # or the whole table

Each year's ``events``, ``snapshot`` and ``contributions`` are streams (``__arrow_c_stream__``) over
the year's shards, computed as the stream is read: a consumer reading batch by batch never holds the whole year's
events. The rows are the ones ``arrow-events run`` writes for the same inputs. The next year starts
from this year's actives, so moving on to the next year first finishes this one: the shards not yet
read are computed and kept for the streams that were not read (reading either stream pulls shards,
and the other stream's part of each shard waits in memory until it is read or the year is dropped).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from arrow_events.census.intake import Census, read_census
from arrow_events.config import Config, config_from_toml, for_run, load_config
from arrow_events.engine.state import CohortState, from_census, from_snapshot
from arrow_events.engine.year import Session, YearTables
from arrow_events.errors import UserError
from arrow_events.execute.shards import executor_session, year_shards
from arrow_events.options import OptionError, RunOptions, with_values
from arrow_events.simulation import builtin_census, contract_tables

BATCH_ROWS = 65536  # rows per batch handed to a consumer (slices of a shard: no copy)


def resolve_config(config: Config | str | Path | None) -> Config:
    """A Config from a Config, a TOML file path, or TOML text (text when it has a newline, '=' or '[')."""
    if isinstance(config, Config):
        return config
    if config is None or isinstance(config, Path):
        return load_config(config)
    if isinstance(config, str):
        is_text = any(c in config for c in "\n=[") or not config.strip()
        return config_from_toml(config) if is_text else load_config(config)
    raise UserError(f"config: expected a Config, a TOML file path or TOML text, got {type(config).__name__}")


def simulate(
    census: Any = None,
    config: Config | str | Path | None = None,
    years: str | int | Iterable[int] | None = None,
    seed: int | None = None,
    *,
    options: RunOptions | None = None,
    **option_values: Any,
) -> Simulation:
    """Simulate ``years`` in memory; iterate the result for one ``YearStreams`` per year.

    ``census``: a path (.csv/.tsv/.parquet), a pyarrow Table or RecordBatchReader, anything with
    ``__arrow_c_stream__`` (Polars, pandas, DuckDB), a ``Census``, or None for the built-in
    synthetic census. ``config``: a Config, a TOML file path, TOML text, or None for the defaults.
    ``years``: '2025-2027', a year, a list, or None for the scenario's. ``seed`` overrides the
    scenario's. ``options`` (a RunOptions) and ``option_values`` (its fields by name: ``threads=1``,
    ``memory_limit="1GB"``, ``executor="ray"``...) say how it runs; defaults are those of
    ``arrow-events run``, and so are the rows. The census, config and options are checked here, at
    the call (UserError); the years are computed as they are iterated. ``executor="ray"`` runs each
    year's shards as Ray tasks (on the cluster at ``ray_address``, else a Ray started here, shut down
    when the last year is read or the simulation is closed).
    """
    options = with_values(options, years=years, seed=seed, **option_values)
    cfg, year_list, options = for_run(resolve_config(config), options, census=census is not None)
    start = cfg.scenario.start_year
    if census is None:
        if year_list[0] != start:
            where = "before" if year_list[0] < start else "after"
            raise OptionError("years", f"{year_list[0]} is {where} the scenario's start_year {start}; the built-in "
                              f"census starts there (pass years from {start}, or a census)")
        census = builtin_census(cfg)
    else:  # a Census is taken as it is, when read for this start year
        census = read_census(census, start, on_bad_rows=options.on_bad_rows, date_format=options.date_format)
    session = ExitStack()  # up from the call (a missing Ray is refused here) until the years are done
    session.enter_context(executor_session(options))
    return Simulation(cfg, year_list, census, from_census(census.table, cfg), options, session)


class Simulation(Iterator["YearStreams"]):
    """The years of a simulation, one ``YearStreams`` at a time; ``census`` holds its notes, warnings, rejects."""

    def __init__(self, cfg: Config, years: list[int], census: Census, state: CohortState,
                 options: RunOptions, session: ExitStack | None = None) -> None:
        self.config, self.years, self.census, self.options = cfg, years, census, options
        self._state: CohortState | None = state
        self._pending = deque(years)
        self._current: _YearPump | None = None
        self._session = session or ExitStack()
        self._planned = Session.of(options)  # the years' statements, planned once

    def __iter__(self) -> Simulation:
        return self

    def __next__(self) -> YearStreams:
        if self._current is not None:  # the next year starts from this one's actives: finish it first
            self._state = from_snapshot(self._current.finish())
            self._current = None
        if not self._pending:
            self.close()
            raise StopIteration
        year = self._pending.popleft()
        assert self._state is not None
        self._current = _YearPump(self.config, year, self._state, self.options, self._planned)
        return YearStreams(self._current)

    def close(self) -> None:
        """Stop early: no more years, and the executor's session (a Ray started for it) ends."""
        self._state, self._current = None, None
        self._pending.clear()
        self._session.close()


class _YearPump:
    """One year's shards, computed on demand; each shard's tables queued for their streams."""

    def __init__(self, cfg: Config, year: int, state: CohortState, options: RunOptions,
                 session: Session | None = None) -> None:
        self.year = year
        self._shards: Iterator[YearTables] | None = year_shards(cfg, year, state, options, session=session)
        self.schemas = contract_tables(options, cfg)
        self._queues: dict[str, deque[pa.Table]] = {name: deque() for name in self.schemas}
        self._wanted = set(self._queues)  # streams still to be read; a finished one needs no queue
        self._actives: list[pa.Table] = []
        self._lock = threading.Lock()  # a consumer may read from its own thread (DuckDB does)
        self._error: BaseException | None = None
        self.counts: dict[str, int] = {}
        self.shards = 0

    def has(self, name: str) -> bool:
        """Whether the year has table ``name``."""
        return name in self._queues

    def next_piece(self, name: str) -> pa.Table | None:
        """The next shard's part of table ``name``, or None at the end of the year."""
        with self._lock:
            while not self._queues[name] and self._shards is not None:
                self._pull()
            if self._queues[name]:
                return self._queues[name].popleft()
            if self._error is not None:  # a year that failed never ends as if it were complete
                raise self._error
            self._wanted.discard(name)
            return None

    def finish(self) -> pa.Table:
        """Compute the shards not yet read; return the year-end actives (the next year's cohort)."""
        with self._lock:
            while self._shards is not None:
                self._pull()
            if self._error is not None:
                raise self._error
            return pa.concat_tables(self._actives) if self._actives else self.schemas["snapshot"].empty_table()

    def _pull(self) -> None:
        assert self._shards is not None
        try:
            shard = next(self._shards)
        except StopIteration:
            self._shards = None
            return
        except BaseException as e:
            self._error, self._shards = e, None
            raise
        snapshot = shard.snapshot  # shards come out in contract form
        self._actives.append(snapshot.filter(pc.equal(snapshot["status"], "active")))
        self.counts, self.shards = shard.counts, shard.shards
        for name, table in shard.tables().items():
            if name in self._wanted:
                self._queues[name].append(table)


class YearStreams:
    """One simulated year: ``events``, ``snapshot`` and ``contributions`` (None when turned off) as
    Arrow streams in the output contract."""

    def __init__(self, pump: _YearPump) -> None:
        self.year = pump.year
        self._pump = pump
        self.events = TableStream(pump, "events")
        self.snapshot = TableStream(pump, "snapshot")
        self.contributions = TableStream(pump, "contributions") if pump.has("contributions") else None

    @property
    def counts(self) -> dict[str, int]:
        """The year's workforce counts (computing its first shard if none was read yet)."""
        if not self._pump.counts:
            self.snapshot._peek()
        return self._pump.counts

    def __repr__(self) -> str:
        return f"YearStreams(year={self.year})"


class TableStream:
    """One table of one year as an Arrow stream: ``__arrow_c_stream__``, batch iteration, or ``to_arrow()``.

    Like a RecordBatchReader it is read once; ``to_arrow()`` (before any batch is read) keeps the table,
    which can then be read any number of times.
    """

    def __init__(self, pump: _YearPump, name: str) -> None:
        self.name, self.year = name, pump.year
        self.schema: pa.Schema = pump.schemas[name]
        self._pump = pump
        self._head: deque[pa.Table] = deque()  # pieces taken from the pump but not yet read
        self._batches_out = 0
        self._table: pa.Table | None = None

    def _peek(self) -> None:
        piece = self._pump.next_piece(self.name)
        if piece is not None:
            self._head.append(piece)

    def _pieces(self) -> Iterator[pa.Table]:
        while True:
            piece = self._head.popleft() if self._head else self._pump.next_piece(self.name)
            if piece is None:
                return
            yield piece

    def _fresh(self) -> None:
        if self._batches_out:
            raise UserError(f"the {self.name} of {self.year} were already read as a stream (a year's streams are "
                            "read once); call .to_arrow() first to keep the table")

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        """The year's batches in order (at most BATCH_ROWS rows each)."""
        if self._table is not None:
            yield from self._table.to_batches(max_chunksize=BATCH_ROWS)
            return
        self._fresh()
        for piece in self._pieces():
            for batch in piece.to_batches(max_chunksize=BATCH_ROWS):
                self._batches_out += 1
                yield batch

    def to_reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, iter(self))

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.to_reader().__arrow_c_stream__(requested_schema)

    def to_arrow(self) -> pa.Table:
        """The whole table (kept: later reads serve it again)."""
        if self._table is None:
            self._fresh()
            pieces = list(self._pieces())
            self._table = pa.concat_tables(pieces) if pieces else self.schema.empty_table()
        return self._table

    def __repr__(self) -> str:
        return f"TableStream({self.name}, year={self.year})"
