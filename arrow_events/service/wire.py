"""The Flight SQL protocol messages, in Protocol Buffers' wire format, written from the published
specification (Arrow's format/FlightSql.proto) rather than generated: the few messages the server reads
and writes are plain fields, and a hand-written codec keeps protobuf out of the dependencies.

Flight SQL wraps every command, ticket and action body in a ``google.protobuf.Any``: field 1 the type
URL ``type.googleapis.com/arrow.flight.protocol.sql.<Message>``, field 2 the message's bytes.
A message here is a dict of field number -> list of values (varints as ints, length-delimited fields as
bytes); ``Message`` below gives them names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arrow_events.errors import UserError

TYPE_PREFIX = "type.googleapis.com/arrow.flight.protocol.sql."
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class WireError(UserError):
    """Bytes that are not the protobuf message they claim to be."""


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/int64 are sent as their 64-bit two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    for _ in range(10):
        if pos >= len(data):
            raise WireError("protobuf: truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise WireError("protobuf: varint longer than 10 bytes")


def decode(data: bytes) -> dict[int, list[Any]]:
    """Field number -> values, in order. Unknown wire types are refused; fixed-width fields kept as bytes."""
    fields: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("protobuf: field number 0")
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise WireError("protobuf: truncated field")
            value, pos = bytes(data[pos:pos + size]), pos + size
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            value, pos = bytes(data[pos:pos + width]), pos + width
        else:
            raise WireError(f"protobuf: unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def encode(fields: list[tuple[int, Any]]) -> bytes:
    """(field number, value) pairs: ints and bools as varints, str and bytes length-delimited. None is skipped
    (an unset optional field)."""
    out = bytearray()
    for number, value in fields:
        if value is None:
            continue
        if isinstance(value, bool | int):
            out += _varint(number << 3 | _VARINT) + _varint(int(value))
        else:
            raw = value.encode() if isinstance(value, str) else bytes(value)
            out += _varint(number << 3 | _LEN) + _varint(len(raw)) + raw
    return bytes(out)


@dataclass
class Message:
    """A decoded Flight SQL message: its name (from the Any's type URL) and fields."""

    name: str
    fields: dict[int, list[Any]] = field(default_factory=dict)

    def text(self, number: int) -> str | None:
        """An optional string field (None when unset)."""
        values = self.fields.get(number)
        if not values:
            return None
        try:
            return values[-1].decode()
        except (AttributeError, UnicodeDecodeError):
            raise WireError(f"{self.name}: field {number} is not UTF-8 text") from None

    def raw(self, number: int) -> bytes:
        values = self.fields.get(number)
        if values and not isinstance(values[-1], bytes):
            raise WireError(f"{self.name}: field {number} is not bytes")
        return values[-1] if values else b""

    def flag(self, number: int) -> bool:
        values = self.fields.get(number)
        return bool(values and values[-1])

    def texts(self, number: int) -> list[str]:
        try:
            return [v.decode() for v in self.fields.get(number, [])]
        except (AttributeError, UnicodeDecodeError):
            raise WireError(f"{self.name}: field {number} is not UTF-8 text") from None

    def uints(self, number: int) -> list[int]:
        """A repeated integer field, packed (proto3's default) or not."""
        out: list[int] = []
        for value in self.fields.get(number, []):
            if isinstance(value, int):
                out.append(value)
                continue
            pos = 0
            while pos < len(value):
                item, pos = _read_varint(value, pos)
                out.append(item)
        return out


def unpack_any(data: bytes) -> Message | None:
    """The Flight SQL message inside an Any, or None if ``data`` is not a Flight SQL Any (our JSON, say)."""
    if not data or data[0] != 0x0A:  # field 1, length-delimited: the type URL comes first
        return None
    try:
        outer = decode(data)
        url = outer.get(1, [b""])[0].decode()
    except (WireError, UnicodeDecodeError, AttributeError):
        return None
    if not url.startswith(TYPE_PREFIX):
        return None
    return Message(url[len(TYPE_PREFIX):], decode(outer.get(2, [b""])[0]))


def pack_any(name: str, fields: list[tuple[int, Any]]) -> bytes:
    return encode([(1, TYPE_PREFIX + name), (2, encode(fields))])
