"""The streaming single writer: a year's shards, in order, into one Parquet file per table.

Shards arrive as contract tables in employee_id order. Each table's rows are cut into
row groups of exactly ``ROW_GROUP_ROWS`` (the last one shorter), whatever the shard
sizes, so the bytes depend only on the year's rows, never on how it was sharded. Each
table encodes on a thread of its own (Parquet encoding releases the GIL), so encoding
shard i overlaps computing shard i+1. The files go to the year's staging directory and
are committed by the crash-safe protocol of ``arrow_events.warehouse.writer``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 262_144
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
# Dictionary encoding pays on repeated values only; unique ids and measures skip it (and their
# min/max statistics, which no reader prunes on). Sort keys and dates keep statistics.
_AMOUNTS = {"plan_compensation", "employee_deferrals", "employer_match", "employer_core"}
_NO_DICTIONARY = {"event_id", "employee_id", "compensation", "previous_compensation", "deferral_rate",
                  "previous_deferral_rate", "event_probability", "event_seq", "hire_date", "birth_date", *_AMOUNTS}
_NO_STATISTICS = {"event_id", "compensation", "previous_compensation", "deferral_rate", "previous_deferral_rate",
                  "event_probability", *_AMOUNTS}


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """The writer settings of every data file: deterministic bytes, chosen for encoding speed."""
    names = schema.names
    return {
        "compression": COMPRESSION,
        "compression_level": COMPRESSION_LEVEL,
        "use_dictionary": [n for n in names if n not in _NO_DICTIONARY],
        "write_statistics": [n for n in names if n not in _NO_STATISTICS],
    }


class ParquetFile:
    """One table's file: rows buffered to whole row groups, encoded in order on its own thread."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"encode-{path.parent.name}")
        self._pending: list[Future] = []
        with self._naming_the_file():
            self._writer = pq.ParquetWriter(path, schema, **parquet_options(schema))

    def write(self, table: pa.Table) -> None:
        """Append rows (in the file's order); full row groups go to the encoder."""
        self._check()
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        while self._buffered >= ROW_GROUP_ROWS:
            self._emit(ROW_GROUP_ROWS)

    def _emit(self, rows: int) -> None:
        whole = pa.concat_tables(self._buffer)
        group, rest = whole.slice(0, rows), whole.slice(rows)
        self._buffer, self._buffered = [rest], rest.num_rows
        # one contiguous chunk per column: pages then split the same way for any shard boundaries
        group = group.combine_chunks()
        self._pending.append(self._pool.submit(self._writer.write_table, group, row_group_size=rows))

    def _check(self) -> None:
        """Surface an encoding error from the thread as soon as it is known."""
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        with self._naming_the_file():
            for f in done:
                f.result()

    @contextmanager
    def _naming_the_file(self) -> Iterator[None]:
        try:
            yield
        except OSError as e:  # pyarrow's errors name no file
            e.filename = e.filename or str(self.path)
            raise

    def close(self) -> None:
        """Write what is left and wait for the encoder."""
        with self._naming_the_file():
            try:
                if self._buffered:
                    self._emit(self._buffered)
                for f in self._pending:
                    f.result()
            finally:
                self._pool.shutdown(wait=True)
                self._writer.close()

    def abort(self) -> None:
        """Stop without writing what is buffered (the staging directory is discarded)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._writer.close()


class YearStage:
    """A year's tables streaming into its staging directory, ``<staging>/<table>/part-0.parquet``."""

    def __init__(self, staging: Path, schemas: dict[str, pa.Schema], data_file: str) -> None:
        self.staging = staging
        self.streams: dict[str, ParquetFile] = {}
        for name, schema in schemas.items():
            (staging / name).mkdir(parents=True)
            self.streams[name] = ParquetFile(staging / name / data_file, schema)

    def write(self, name: str, table: pa.Table) -> None:
        self.streams[name].write(table)

    def close(self) -> None:
        """Finish every file (all are closed, even when one fails)."""
        errors = []
        for stream in self.streams.values():
            try:
                stream.close()
            except BaseException as e:  # noqa: BLE001 - re-raised below, after the others are closed
                errors.append(e)
        if errors:
            raise errors[0]

    def abort(self) -> None:
        for stream in self.streams.values():
            stream.abort()
