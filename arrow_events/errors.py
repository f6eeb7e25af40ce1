"""The exceptions the command line reports without a traceback."""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """Bad census, config or arguments: reported as one line, exit code 2, no traceback."""


class WarehouseError(UserError):
    """An OS error on the warehouse (full disk, read-only, a path that cannot be used): one line naming the
    path and the OS reason, exit code 2."""


class ResourceLimitError(Exception):
    """The memory limit was hit: reported as one line, exit code 3."""


def os_reason(e: OSError) -> str:
    """The operating system's words for ``e`` ("No space left on device"), also for pyarrow's OSErrors."""
    if e.errno:
        return os.strerror(e.errno)
    return e.strerror or str(e)


def years_text(years: list[int]) -> str:
    """[2025, 2026, 2027] -> '2025-2027' (a run's years are consecutive)."""
    return f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])


def kept_text(kept: list[int]) -> str:
    """Which years of the run are complete in the warehouse, for a message."""
    if not kept:
        return "no year was written"
    return f"year {kept[0]} was kept" if len(kept) == 1 else f"years {years_text(kept)} were kept"


class Interrupted(KeyboardInterrupt):  # so a caller's `except Exception` never swallows Ctrl-C
    """Ctrl-C during a run: says which years are complete and which to run again; exit code 130."""

    def __init__(self, out: Path, kept: list[int], remaining: list[int]):
        self.out, self.kept, self.remaining = out, kept, remaining
        parts = [f"kept {years_text(kept)} in {out}/ (complete and valid)" if kept
                 else f"no year was written to {out}/"]
        if remaining:
            parts += [f"{years_text(remaining)} not written", f"re-run them with --years {years_text(remaining)}"]
        super().__init__("; ".join(parts))
