"""JSON written exactly as Go's `encoding/json` Marshal writes it (Go 1.22+), no I/O.

River stores and hashes job args as Go encodes them, so Python must produce the same bytes:
compact, HTML characters (`<`, `>`, `&`) and U+2028/U+2029 escaped, other non-ASCII raw,
`\\b \\f \\n \\r \\t` as short escapes and other control characters as `\\u00XX`, DEL raw, floats
in Go's shortest format, and times as RFC 3339 with the fraction trimmed.

Two entry points:
- `encode_args(obj)` encodes Python values (mappings, sequences, dataclasses, pydantic models,
  datetimes, ...), keeping mapping keys in insertion order (River encodes structs in field order).
- `reencode_json_text(text)` re-encodes a user's `to_json()` text: integer literals are kept as
  written (`-0`, integers beyond 64 bits), other numbers are rewritten in Go's float format,
  and duplicate keys are kept in place (PostgreSQL keeps the last, River's unique key the first).

With `strict=True` (the insert path) values that PostgreSQL's `jsonb` refuses are rejected:
NUL characters and lone surrogates. With `strict=False` (hashing) NUL is encoded as `\\u0000` and
a lone surrogate becomes U+FFFD, as Go's decoder does. NaN and infinities, non-string keys, keys
of one Python mapping that collide once written (str subclasses) and nesting deeper than
`MAX_DEPTH` are rejected in both modes.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from river_core.errors import ValidationError

__all__ = [
    "MAX_DEPTH",
    "InvalidJSONError",
    "JSONNumber",
    "JSONObject",
    "dataclass_items",
    "encode_args",
    "encode_value",
    "format_float",
    "format_time",
    "is_pydantic_model",
    "parse_json_text",
    "reencode_json_text",
]

MAX_DEPTH = 100
"""Deepest nesting of objects and arrays accepted (the top-level object is depth 1)."""


class InvalidJSONError(ValidationError):
    """Args or metadata that cannot be stored as River stores them; `field` names which."""


class JSONObject:
    """A JSON object parsed from text: its members in order, duplicates kept."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"JSONObject({self.pairs!r})"


class JSONNumber:
    """An integer literal parsed from text, kept exactly as written (e.g. `-0`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JSONNumber({self.text!r})"


# Characters that Go's encoder does not write as themselves, plus surrogates (invalid UTF-8).
_SPECIAL = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
# Every character of _SPECIAL but surrogates, as Go writes it (NUL too: non-strict mode).
_ESCAPES = str.maketrans(
    {
        **{chr(code): f"\\u{code:04x}" for code in range(0x20)},
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        **_SHORT_ESCAPES,
    }
)
_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UTC = UTC


def format_float(value: float) -> str:
    """Format a finite float64 as Go's `encoding/json` does ('f', or 'e' outside [1e-6, 1e21))."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    # repr() gives the shortest round-tripping digits, the same digits Go's strconv picks.
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digit_tuple) - len(digits)
    point = len(digits) + exponent  # digits before the decimal point in fixed notation
    prefix = "-" if sign else ""
    if 1e-6 <= abs(value) < 1e21:
        if point <= 0:
            return f"{prefix}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return prefix + digits + "0" * (point - len(digits))
        return f"{prefix}{digits[:point]}.{digits[point:]}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    # Go writes at least two exponent digits, then trims `e-0X` to `e-X` (never `e+0X`).
    exp_text = f"-{-exp}" if exp < 0 else f"+{exp:02d}"
    return f"{prefix}{mantissa}e{exp_text}"


def format_time(value: datetime, *, field: str = "time") -> str:
    """RFC 3339 in UTC with the fraction's trailing zeros trimmed (Go's RFC3339Nano)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidJSONError(field, f"naive datetime {value.isoformat()} has no time zone")
    utc = value.astimezone(_UTC)
    text = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


class _Encoder:
    """One encoding pass; `parts` collects the output text."""

    __slots__ = ("field", "parts", "strict")

    def __init__(self, field: str, strict: bool) -> None:
        self.field = field
        self.strict = strict
        self.parts: list[str] = []

    def fail(self, path: str, message: str) -> NoReturn:
        raise InvalidJSONError(self.field, f"{path}: {message}" if path else message)

    def string(self, value: str, path: str) -> None:
        if _SPECIAL.search(value) is None:
            self.parts.append('"' + value + '"')
            return
        bad = _NUL_OR_SURROGATE.search(value)
        if bad is not None:
            char = bad.group()
            if self.strict and char == "\x00":
                self.fail(path, "NUL (\\u0000) is not accepted by PostgreSQL jsonb")
            if self.strict:
                self.fail(path, f"lone surrogate U+{ord(char):04X} is not valid UTF-8")
            value = _SURROGATE.sub("\ufffd", value)
        self.parts.append('"' + value.translate(_ESCAPES) + '"')

    def value(self, value: Any, path: str, depth: int) -> None:
        parts = self.parts
        if value is None:
            parts.append("null")
        elif value is True:
            parts.append("true")
        elif value is False:
            parts.append("false")
        elif isinstance(value, str):
            self.string(value.value if isinstance(value, enum.Enum) else value, path)
        elif isinstance(value, int):
            parts.append(str(int(value)))
        elif isinstance(value, float):
            if not math.isfinite(value):
                self.fail(path, f"{value} is not valid JSON")
            parts.append(format_float(float(value)))
        elif isinstance(value, JSONNumber):
            parts.append(value.text)
        elif isinstance(value, JSONObject):
            self.members(value.pairs, path, depth)
        elif isinstance(value, Mapping):
            self.members(value.items(), path, depth)
            if type(value) is not dict or any(type(key) is not str for key in value):
                self.distinct_keys(value, path)
        elif isinstance(value, list | tuple):
            self.array(value, path, depth)
        elif isinstance(value, datetime):
            parts.append('"' + format_time(value, field=self.field) + '"')
        elif isinstance(value, date):
            parts.append('"' + value.isoformat() + '"')
        elif isinstance(value, uuid.UUID):
            parts.append('"' + str(value) + '"')
        elif isinstance(value, enum.Enum):
            self.value(value.value, path, depth)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            self.members(dataclass_items(value), path, depth)
        elif is_pydantic_model(value):
            self.value(value.model_dump(mode="python", by_alias=True), path, depth)
        else:
            self.fail(path, f"values of type {type(value).__name__} cannot be encoded as JSON")

    def members(self, items: Any, path: str, depth: int) -> None:
        if depth >= MAX_DEPTH:
            self.fail(path, f"nesting is deeper than {MAX_DEPTH} levels")
        parts = self.parts
        parts.append("{")
        first = True
        for key, item in items:
            if not isinstance(key, str):
                self.fail(path, f"object keys must be strings, not {type(key).__name__}")
            if not first:
                parts.append(",")
            first = False
            member_path = f"{path}.{key}" if path else key
            self.string(key.value if isinstance(key, enum.Enum) else key, member_path)
            parts.append(":")
            self.value(item, member_path, depth + 1)
        parts.append("}")

    def distinct_keys(self, mapping: Mapping[str, Any], path: str) -> None:
        """Refuse a mapping whose keys (str subclasses, enums) collide once written as text."""
        seen: set[str] = set()
        for key in mapping:
            text = key.value if isinstance(key, enum.Enum) else str.__str__(key)
            if text in seen:
                self.fail(path, f"two keys are both written as {text!r}")
            seen.add(text)

    def array(self, items: Sequence[Any], path: str, depth: int) -> None:
        if depth >= MAX_DEPTH:
            self.fail(path, f"nesting is deeper than {MAX_DEPTH} levels")
        parts = self.parts
        parts.append("[")
        for index, item in enumerate(items):
            if index:
                parts.append(",")
            self.value(item, f"{path}[{index}]", depth + 1)
        parts.append("]")


def dataclass_items(value: Any, *, exclude: str | None = None) -> list[tuple[str, Any]]:
    """A dataclass instance's fields in declaration order, without field `exclude`."""
    return [
        (f.name, getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != exclude
    ]


def is_pydantic_model(value: object) -> bool:
    """Whether `value` is a pydantic (v2) model instance, without importing pydantic."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def encode_value(value: Any, *, field: str = "value", strict: bool = True) -> bytes:
    """Encode any JSON-able Python value (or parsed tree) as Go would; errors name `field`."""
    encoder = _Encoder(field, strict)
    encoder.value(value, "", 0)
    return "".join(encoder.parts).encode()


def encode_args(obj: Mapping[str, Any], *, field: str = "args", strict: bool = True) -> bytes:
    """Encode a mapping of args (or metadata) as a Go-encoded JSON object."""
    if not isinstance(obj, Mapping):
        raise InvalidJSONError(field, f"must be a JSON object, not {type(obj).__name__}")
    return encode_value(obj, field=field, strict=strict)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of the float64 range")
    return value


def parse_json_text(text: str | bytes, *, field: str = "args") -> JSONObject:
    """Parse JSON text whose top level must be an object, keeping order, duplicates and ints."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode()
        except UnicodeDecodeError as exc:
            raise InvalidJSONError(field, f"is not valid UTF-8: {exc}") from None
    if not isinstance(text, str):
        raise InvalidJSONError(field, f"JSON text must be str or bytes, not {type(text).__name__}")
    try:
        tree = json.loads(
            text,
            object_pairs_hook=JSONObject,
            parse_int=JSONNumber,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    except RecursionError:
        raise InvalidJSONError(field, f"nesting is deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidJSONError(field, f"is not valid JSON: {exc}") from None
    if not isinstance(tree, JSONObject):
        raise InvalidJSONError(field, "must be a JSON object")
    return tree


def reencode_json_text(text: str | bytes, *, field: str = "args", strict: bool = True) -> bytes:
    """Re-encode a JSON object text as Go writes it (see the module docstring)."""
    return encode_value(parse_json_text(text, field=field), field=field, strict=strict)
