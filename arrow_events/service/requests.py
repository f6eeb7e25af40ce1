"""Bounds on what a client may send: the size of tickets, commands and action bodies, the nesting of
their JSON, and how much of a bad input an error message may echo.

Every request is refused before it is parsed when it is too large, so that neither the JSON parser
(a RecursionError on deep nesting) nor an error message (which gRPC must fit in its trailers) can be
made to grow with the input.
"""

from __future__ import annotations

import json
from typing import Any

from arrow_events.errors import UserError

MAX_REQUEST_BYTES = 64 * 1024  # a ticket, a command, an action body, a criteria
MAX_SQL_BYTES = 48 * 1024  # SQL text, so that a ticket holding it (and its parameters) stays under the above
MAX_JSON_DEPTH = 16  # our requests nest 2 levels; 16 leaves room for anything sensible
SHOWN = 60  # characters of a bad input an error message echoes


class ServerBusy(Exception):
    """A limit on concurrent work (--max-runs, --query-workers) is reached, or the server is stopping: try
    again later (FlightUnavailableError)."""


class ClientGone(Exception):
    """The client cancelled its call or went away while the server worked for it: nobody is left to answer."""


def shown(value: Any, limit: int = SHOWN) -> str:
    """A short prefix of ``value``'s repr for a message: the input may be megabytes."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check_size(raw: bytes | str, what: str, limit: int = MAX_REQUEST_BYTES) -> None:
    if len(raw) > limit:
        raise UserError(f"{what}: {len(raw):,} bytes, over the {limit // 1024} KB limit of a request")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(raw: bytes | str, what: str, example: str) -> dict[str, Any]:
    """A JSON object from a request, bounded in size and depth; UserError naming ``what`` otherwise."""
    check_size(raw, what)
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode()
    except UnicodeDecodeError:
        raise UserError(f"{what}: expected JSON (UTF-8), e.g. {example}, got {shown(bytes(raw))}") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise UserError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except ValueError:
        raise UserError(f"{what}: expected JSON, e.g. {example}, got {shown(text)}") from None
    if not isinstance(value, dict):
        raise UserError(f"{what}: expected a JSON object, e.g. {example}, got {shown(value)}")
    return value


def sql_text(sql: Any, what: str = "query") -> str:
    """SQL text from a request: a non-empty string within MAX_SQL_BYTES."""
    if not isinstance(sql, str) or not sql.strip():
        raise UserError(f"{what}: expected SQL text, e.g. SELECT event_type, count(*) FROM events GROUP BY 1")
    size = len(sql.encode())
    if size > MAX_SQL_BYTES:
        raise UserError(f"{what}: SQL text of {size:,} bytes, over the {MAX_SQL_BYTES // 1024} KB limit")
    return sql
