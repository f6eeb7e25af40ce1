"""The event model as SQL: one file per relation, composed by name in arrow_events.engine.year."""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from functools import cache
from importlib.resources import files


@cache
def sql(name: str) -> str:
    """The text of ``queries/<name>.sql``."""
    return files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def composed(names: list[str]) -> str:
    """One statement for the last of ``names``: each file a CTE under its own name, in order
    (what dbt does with ephemeral models), so the chain is parsed and planned once."""
    ctes = ",\n".join(f"{name} AS (\n{sql(name)}\n)" for name in names)
    return f"WITH {ctes}\nSELECT * FROM {names[-1]}"


@cache  # the stage order asks for each relation's reads many times over (arrow_events.engine.year)
def reads(name: str) -> frozenset[str]:
    """The relations and tables ``queries/<name>.sql`` reads (after FROM or JOIN), less its own CTEs."""
    text = re.sub(r"--[^\n]*|\bDISTINCT\s+FROM\b", "", sql(name), flags=re.IGNORECASE)  # IS [NOT] DISTINCT FROM
    read = set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)", text, flags=re.IGNORECASE))
    ctes = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s+AS\s*\(", text, flags=re.IGNORECASE))
    return frozenset(read - ctes)


def parameters(name: str) -> set[str]:
    """The ``$parameters`` ``queries/<name>.sql`` binds."""
    return set(re.findall(r"\$(\w+)", sql(name)))


def in_dependency_order(names: set[str], needs: Callable[[str], Set[str]] = reads) -> list[str]:
    """``names`` ordered so that each comes after every one of them it needs (ties by name)."""
    ordered: list[str] = []
    waiting = set(names)
    while waiting:
        ready = sorted(n for n in waiting if not (needs(n) & waiting))
        if not ready:
            raise ValueError(f"queries read each other in a cycle: {sorted(waiting)}")
        ordered += ready
        waiting -= set(ready)
    return ordered
