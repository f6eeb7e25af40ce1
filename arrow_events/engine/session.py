"""A SessionContext that outlives a year: each statement planned once, the tables under it refilled.

DataFusion binds a plan to the tables it reads when the plan is made, and on a small cohort
planning a year's statements costs more than running them (docs/performance.md). So a run keeps
its contexts from year to year (arrow_events.engine.year.Session): a statement is planned the
first time it is needed (a *frame*), and later years and shards refill the tables it reads in
place (DELETE, then INSERT from a staging table: the Arrow buffers are shared, not copied) and run
the same frame again. Nothing the queries compute depends on this: a table whose columns change
is registered anew and every frame is planned again.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from datafusion import DataFrame, SessionContext

from arrow_events.engine.context import register_tables

STAGING = "arrow_events_staging"  # where a refill's rows wait to be inserted
SMALL = 65_536  # rows: a table this small is compared with what it holds, and refilled only when different


class PlannedContext:
    """A context whose statements (frames) are planned once and run again on refilled tables."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx
        self.frames: dict[str, DataFrame] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._held: dict[str, pa.Table | None] = {}  # what each small table holds (None: not known)
        self._large: set[str] = set()  # tables registered anew at every refill
        self.once: set[str] = set()  # tables filled once a run (the caller's to say)

    def frame(self, name: str, plan: Callable[[], DataFrame]) -> DataFrame:
        """The statement ``name``, planned by ``plan`` the first time."""
        if name not in self.frames:
            self.frames[name] = plan()
        return self.frames[name]

    def refill(self, tables: dict[str, pa.Table]) -> None:
        """Give each named table these rows, in place when its columns are the same as before."""
        for name, table in tables.items():
            if table.num_rows <= SMALL and table.column(0).num_chunks > 1:
                table = table.combine_chunks()  # one batch: each costs a conversion and a check per statement
            # a large table is registered anew and the statements planned again: an INSERT would copy its
            # rows into DataFusion's allocator, which keeps the pages (measured: +0.3 GB at 5M members),
            # and planning is a small part of a large table's year
            if (self._schemas.get(name) != table.schema or not self.ctx.table_exist(name)
                    or table.num_rows > SMALL or name in self._large):
                if self.ctx.table_exist(name):
                    self.frames.clear()  # planned against the table this one replaces
                register_tables(self.ctx, {name: table})
                self._schemas[name] = table.schema
                self._large.discard(name)
                if table.num_rows > SMALL:
                    self._large.add(name)
            elif not self._holds(name, table):  # unchanged: nothing to do
                self.empty([name])
                register_tables(self.ctx, {STAGING: table})
                # table names are the engine's own identifiers, never values
                self.ctx.sql(f"INSERT INTO {name} SELECT * FROM {STAGING}").collect()
                self.ctx.deregister_table(STAGING)
            self._held[name] = table if table.num_rows <= SMALL else None

    def fill(self, name: str, query: DataFrame | None = None) -> None:
        """Give table ``name`` the rows of ``query`` (given the first time, then run again), without a trip
        through Python: the table's readers are planned against it, the query's own are kept apart."""
        delete, insert = f"delete {name}", f"insert {name}"
        if query is not None:
            self.refill({name: query.to_arrow_table()})
            view = f"fill_{name}"
            if self.ctx.table_exist(view):
                self.ctx.deregister_table(view)
            self.ctx.register_view(view, query)
            self.frames[delete] = self.ctx.sql(f"DELETE FROM {name}")
            self.frames[insert] = self.ctx.sql(f"INSERT INTO {name} SELECT * FROM {view}")
            # the frame holds the view's plan; the view by name would also hold every table it reads past
            # its use, even one emptied and dropped (the global step's whole cohort with its path keys and
            # member_ix, 0.15 GB at 5M members, was held through every shard)
            self.ctx.deregister_table(view)
            return
        self.frames[delete].collect()
        self.frames[insert].collect()
        self._held[name] = None  # not known here

    def empty(self, names: list[str]) -> None:
        """Drop the rows of these tables: nothing is held between uses. A small table keeps its place in the
        plans; a large one is dropped with them (its next refill registers it anew)."""
        for name in names:
            if name not in self._schemas:
                continue
            held = self._held.get(name)
            if name in self._large:
                self.ctx.deregister_table(name)
                del self._schemas[name]
                self._large.discard(name)
                self.frames.clear()
            elif held is None or held.num_rows:
                self.ctx.sql(f"DELETE FROM {name}").collect()
                self._held[name] = self._schemas[name].empty_table()

    def _holds(self, name: str, table: pa.Table) -> bool:
        """Whether table ``name`` is known to hold ``table``'s rows already."""
        held = self._held.get(name)
        return held is not None and table.num_rows <= SMALL and table.equals(held)
