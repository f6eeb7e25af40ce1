"""The exceptions the command line reports without a traceback."""

from __future__ import annotations

import difflib
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
            parts += [f"{years_text(remaining)} not written", f"re-run them with years={years_text(remaining)}"]
        super().__init__("; ".join(parts))


def first_line(e: BaseException | str) -> str:
    """The first non-empty line of an exception's message (or of a text): what a one-line error shows.
    An exception with no message gives its type's name."""
    lines = str(e).strip().splitlines()
    return lines[0].strip() if lines else (type(e).__name__ if isinstance(e, BaseException) else "")


def error_line(e: BaseException) -> str:
    """One line for any failure, as a run's or a request's error: a user's error as it reads, an OS error as
    its file and reason, anything else with its type's name."""
    if isinstance(e, UserError | ResourceLimitError):
        return first_line(e)
    if isinstance(e, OSError):
        return f"{e.filename}: {os_reason(e)}" if e.filename else os_reason(e)
    return f"{type(e).__name__}: {first_line(e)}"


def unknown_key(key: str, allowed: list[str], where: str) -> UserError:
    """A key nobody reads (a config's, a request's, an option's), with the closest allowed key as a hint."""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
    return UserError(f"{where}: unknown key '{key if len(key) <= 60 else key[:57] + '...'}'{hint}")
