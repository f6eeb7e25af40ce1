"""The run options: how one simulation runs, spelled once.

The command line (as click parameter types), the library (``run``, ``simulate``), Flight
requests and sweeps all build a ``RunOptions`` through the same coercions, which take text
("2025-2029", "1GB", "true") or the value itself. A bad value is an ``OptionError`` naming
the option by its name here (``years``, ``memory_limit``); the command line shows the flag.

None of the options changes an output byte, except ``seed``, ``years`` and ``contributions``
(whether the contributions table exists; events and snapshot are the same bytes either way).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from arrow_events.errors import UserError, unknown_key

ENGINES = ("fused", "legacy")
# Where a year's shards run: one after another in this process, or as Ray tasks (arrow_events.execute).
EXECUTORS = ("local", "ray")
ON_BAD_ROWS = ("fail", "skip")
# The report's breakdowns of the workforce (workforce_metrics' ``by``, report --by): job level, and the
# age and tenure bands of docs/model.md §1. Here, not in arrow_events.warehouse.report, so that the
# command line has its choices without loading the report.
BREAKDOWNS = ("level", "age_band", "tenure_band")
# Members (cohort and hires) per shard when nothing else says: large enough that per-query
# overhead is noise, small enough that a shard's relations stay a few hundred MB.
SHARD_ROWS = 250_000
# What a hire counts for in a shard of the default size: a hire's year has about twice the events of a
# cohort member's (3.2 against 1.4 at 5M employees) and a shard's memory follows them (a shard of 250,000
# hires peaked 0.25 GB above one of the cohort). A shard size asked for is taken as a member count.
HIRE_WEIGHT = 2
# Under a memory limit, a shard gets one member per this many bytes of the limit (so 1GB gives the
# default 250,000): an estimate on the safe side; the 5M-employee year under 1GB completes with it.
BYTES_PER_MEMBER = 4_000
MAX_THREADS = 256
MAX_YEARS = 100  # years in one run: "2025-9999" is a typo, not a plan
YEAR_RANGE = (1900, 2200)
SEED_RANGE = (-(2**63), 2**63 - 1)  # the scenario's seed is a signed 64-bit integer


class OptionError(UserError):
    """A bad option value: ``option`` is its name in RunOptions (or a sweep's/server's own option)."""

    def __init__(self, option: str, reason: str) -> None:
        self.option, self.reason = option, reason
        super().__init__(f"{option}: {reason}")


# -- coercions: text or value -> the option's value -------------------------------------------------


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def parse_whole(value: Any, option: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number from an int or its text, within [low, high]."""
    text = _text(value)
    if text is not None and re.fullmatch(r"[+-]?\d{1,40}", text):
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(option, f"expected a whole number, got {_shown(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        raise OptionError(option, f"must be {bound}, got {value}")
    return value


def parse_years(value: Any, option: str = "years") -> tuple[int, ...]:
    """'2027', '2025-2029', 2027 or consecutive years in order -> the years."""
    text = _text(value)
    if text is not None:
        m = re.fullmatch(r"(\d{4})(?:\s*-\s*(\d{4}))?", text)
        if not m or int(m.group(1)) > int(m.group(2) or m.group(1)):
            raise OptionError(option, f"expected YEAR or FIRST-LAST with FIRST <= LAST (e.g. 2025-2029), "
                                      f"got {_shown(value)}")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        years = tuple(range(first, last + 1)) if last - first < MAX_YEARS else (first, last)
    elif isinstance(value, int) and not isinstance(value, bool):
        years = (value,)
    else:
        try:
            years = tuple(parse_whole(y, option) for y in value)
        except (TypeError, OptionError):
            raise OptionError(option, f"expected YEAR, FIRST-LAST or a list of years, got {_shown(value)}") from None
        if not years or years != tuple(range(years[0], years[0] + len(years))):
            raise OptionError(option, f"expected consecutive years in order, got {_shown(list(years))}")
    low, high = YEAR_RANGE
    if not (low <= years[0] and years[-1] <= high):
        raise OptionError(option, f"years must be between {low} and {high}, got {_shown(value)}")
    if years[-1] - years[0] >= MAX_YEARS:
        raise OptionError(option, f"at most {MAX_YEARS} years in one run, got {years[-1] - years[0] + 1}")
    return years


def parse_size(value: Any, option: str = "memory_limit") -> int:
    """'1GB', '512MB', '2GiB', '1500000000' or a number of bytes -> bytes (at least 1 MiB)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        text = _text(value) or ""
        m = re.fullmatch(r"(\d{1,15}(?:\.\d{1,9})?)\s*([KMGT]i?B?|B)?", text, flags=re.IGNORECASE)
        if not m:
            raise OptionError(option, f"expected a size like 1GB, 512MB or 2GiB, got {_shown(value)}")
        unit = (m.group(2) or "B").upper().rstrip("B")
        scale = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                 "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}[unit]
        size = int(float(m.group(1)) * scale)
    if size < 1 << 20:
        raise OptionError(option, f"{_shown(value)} is below the 1 MiB minimum")
    return size


def parse_bool(value: Any, option: str) -> bool:
    text = (_text(value) or "").lower()
    if isinstance(value, bool):
        return value
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise OptionError(option, f"expected true or false, got {_shown(value)}")


def parse_choice(value: Any, option: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise OptionError(option, f"expected one of {', '.join(choices)}, got {_shown(value)}")
    return value


def parse_optional_text(value: Any, option: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise OptionError(option, f"expected text, got {_shown(value)}")
    return value


def _shown(value: Any, limit: int = 60) -> str:
    """``value`` as a message shows it: repr, cut to a short prefix (input may be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


# One coercion per option: the command line's parameter types, Flight's request keys and the
# library's keyword arguments all go through these.
COERCE: dict[str, Callable[[Any], Any]] = {
    "years": parse_years,
    "seed": lambda v: parse_whole(v, "seed", *SEED_RANGE),
    "threads": lambda v: parse_whole(v, "threads", 1, MAX_THREADS),
    "engine": lambda v: parse_choice(v, "engine", ENGINES),
    "memory_limit": parse_size,
    "shard_rows": lambda v: parse_whole(v, "shard_rows", 1),
    "contributions": lambda v: parse_bool(v, "contributions"),
    "executor": lambda v: parse_choice(v, "executor", EXECUTORS),
    "ray_address": lambda v: parse_optional_text(v, "ray_address"),
    "on_bad_rows": lambda v: parse_choice(v, "on_bad_rows", ON_BAD_ROWS),
    "date_format": lambda v: parse_optional_text(v, "date_format"),
    "tune_memory": lambda v: parse_bool(v, "tune_memory"),
}


@dataclass(frozen=True)
class RunOptions:
    """How a simulation runs. Build it with keyword arguments (values or their text) or ``from_values``."""

    years: tuple[int, ...] | None = None  # None: the scenario's years
    seed: int | None = None  # None: the scenario's seed
    threads: int = 2  # DataFusion target partitions
    engine: str = "fused"  # or "legacy", the per-event baseline
    memory_limit: int | None = None  # bytes for DataFusion's memory pool (relations then spill); None: the config's
    shard_rows: int | None = None  # members per shard; default from the memory limit, else SHARD_ROWS
    contributions: bool = True  # whether a year has a contributions table
    executor: str = "local"  # or "ray": each shard a Ray task with a context of its own
    ray_address: str | None = None  # None: a Ray started in this process; "auto", "ray://host:10001": a cluster
    on_bad_rows: str = "fail"  # a census's bad rows: refuse the census, or set them aside ("skip")
    date_format: str | None = None  # strptime format of the census dates when not YYYY-MM-DD
    # Arrow on the system allocator and glibc's mmap threshold fixed, for the whole process
    # (engine.memory): the command line asks for it; a host process keeps its own settings unless it does
    tune_memory: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in COERCE and value is not None:
                object.__setattr__(self, f.name, COERCE[f.name](value))
        if self.ray_address is not None and self.executor != "ray":
            raise OptionError("ray_address", "goes with executor=ray")

    @classmethod
    def from_values(cls, values: Mapping[str, Any], allowed: Iterable[str] | None = None,
                    where: str | None = None) -> RunOptions:
        """Options from a mapping of names to values or text (a Flight request, a [run] table); unknown
        names are refused, errors prefixed with ``where`` ("simulate.years: ...")."""
        names = list(allowed) if allowed is not None else list(COERCE)
        for key in values:
            if key not in names:
                raise unknown_key(str(key)[:60], names, where or "options")
        try:
            return cls(**{k: v for k, v in values.items() if v is not None})
        except OptionError as e:
            if where is None:
                raise
            raise OptionError(f"{where}.{e.option}", e.reason) from None

    def replace(self, **changes: Any) -> RunOptions:
        return dataclasses.replace(self, **changes)

    @property
    def rows_per_shard(self) -> int:
        """Members per shard: as asked, else as the memory limit allows, else the default."""
        if self.shard_rows is not None:
            return self.shard_rows
        if self.memory_limit is not None:
            return max(10_000, min(SHARD_ROWS, self.memory_limit // BYTES_PER_MEMBER))
        return SHARD_ROWS

    @property
    def hire_weight(self) -> int:
        """How many members a hire counts for in ``rows_per_shard``: one when shard_rows says, else HIRE_WEIGHT."""
        return 1 if self.shard_rows is not None else HIRE_WEIGHT


DEFAULT_OPTIONS = RunOptions()


def with_values(options: RunOptions | None, **values: Any) -> RunOptions:
    """``options`` (default: the defaults) with ``values`` set, those given as None left as they are."""
    options = options or DEFAULT_OPTIONS
    unknown = [k for k in values if k not in COERCE]
    if unknown:
        raise TypeError(f"unknown run option {unknown[0]!r}; the options are {', '.join(COERCE)}")
    changes = {k: v for k, v in values.items() if v is not None}
    return options.replace(**changes) if changes else options
