"""Go `encoding/json` byte-exact encoding: escapes, floats, literals, times, limits."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from river_core.gojson import (
    MAX_DEPTH,
    InvalidJSONError,
    encode_args,
    encode_value,
    format_float,
    format_time,
    parse_json_text,
    reencode_json_text,
)

# Go 1.22+: \b \f \n \r \t short, other controls \u00XX (lowercase hex), DEL raw.
GO_CONTROL_ESCAPES = {
    **{chr(c): f"\\u{c:04x}" for c in range(0x20)},
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def enc(value: Any, *, strict: bool = False) -> str:
    return encode_value(value, strict=strict).decode()


@pytest.mark.parametrize(("char", "expected"), sorted(GO_CONTROL_ESCAPES.items()))
def test_control_characters(char: str, expected: str) -> None:
    assert enc(char) == f'"{expected}"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', '"\\""'),
        ("\\", '"\\\\"'),
        ("<", '"\\u003c"'),
        (">", '"\\u003e"'),
        ("&", '"\\u0026"'),
        ("\u2028", '"\\u2028"'),
        ("\u2029", '"\\u2029"'),
        ("\x7f", '"\x7f"'),
        ("/", '"/"'),
        ("é😀\ue000\ufffd", '"é😀\ue000\ufffd"'),
        ("plain text", '"plain text"'),
    ],
)
def test_string_escapes(text: str, expected: str) -> None:
    assert enc(text) == expected


def test_output_is_utf8_bytes() -> None:
    assert encode_value({"é": "😀"}) == '{"é":"😀"}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (0.1, "0.1"),
        (1.25, "1.25"),
        (123.456, "123.456"),
        (1e-6, "0.000001"),
        (0.000001234, "0.000001234"),
        (9.999999999999997e-7, "9.999999999999997e-7"),  # the float just below 1e-6
        (1e-7, "1e-7"),
        (-1.5e-9, "-1.5e-9"),
        (1e-10, "1e-10"),
        (5e-324, "5e-324"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"),
        (1e20, "100000000000000000000"),
        (999999999999999900000.0, "999999999999999900000"),
        (12345678901234567890.0, "12345678901234567000"),
        (1e21, "1e+21"),
        (1.5e22, "1.5e+22"),
        (1e100, "1e+100"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_float_format(value: float, expected: str) -> None:
    assert format_float(value) == expected
    assert enc(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_format_round_trips_and_picks_gos_notation(value: float) -> None:
    text = format_float(value)
    assert float(text) == value
    assert math.copysign(1, float(text)) == math.copysign(1, value)
    exponent_form = value != 0 and not 1e-6 <= abs(value) < 1e21
    assert ("e" in text) == exponent_form
    if exponent_form:
        assert "e-0" not in text and "e+0" not in text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_rejected(value: float) -> None:
    with pytest.raises(InvalidJSONError) as info:
        encode_args({"x": [value]})
    assert info.value.field == "args"
    assert "x[0]" in str(info.value)


def test_ints_and_bools() -> None:
    assert enc([True, False, None, 0, -5, 2**64, -(2**70)]) == (
        "[true,false,null,0,-5,18446744073709551616,-1180591620717411303424]"
    )


def test_integer_literals_kept_as_written() -> None:
    text = '{"z": -0, "big": 184467440737095516151234, "min": -9223372036854775808}'
    assert reencode_json_text(text) == (
        b'{"z":-0,"big":184467440737095516151234,"min":-9223372036854775808}'
    )


def test_float_literals_rewritten_in_go_format() -> None:
    text = '{"a": 1e-07, "b": 1.0, "c": 1E21, "d": 1e+20, "e": -0.0, "f": 0.10}'
    assert reencode_json_text(text) == (
        b'{"a":1e-7,"b":1,"c":1e+21,"d":100000000000000000000,"e":-0,"f":0.1}'
    )


def test_reencode_keeps_order_duplicates_and_compacts() -> None:
    text = '{ "b" : [ 1 , {"y": "\\u003c", "x": "\\/"} ], "a": 1, "a": 2 }'
    assert reencode_json_text(text) == b'{"b":[1,{"y":"\\u003c","x":"/"}],"a":1,"a":2}'


def test_reencode_accepts_bytes() -> None:
    assert reencode_json_text('{"é": 1}'.encode()) == '{"é":1}'.encode()


@pytest.mark.parametrize(
    "text",
    [
        "[1]",
        '"s"',
        "1",
        "null",
        "",
        "{",
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": 1e400}',
        "{'a': 1}",
    ],
)
def test_reencode_rejects_non_objects_and_bad_json(text: str) -> None:
    with pytest.raises(InvalidJSONError) as info:
        reencode_json_text(text)
    assert info.value.field == "args"


def test_reencode_rejects_invalid_utf8_and_raw_controls() -> None:
    with pytest.raises(InvalidJSONError):
        reencode_json_text(b'{"a": "\xff"}')
    with pytest.raises(InvalidJSONError):
        reencode_json_text('{"a": "\x01"}')
    with pytest.raises(InvalidJSONError):
        reencode_json_text(42)  # type: ignore[arg-type]


def test_nul_rejected_only_when_strict() -> None:
    with pytest.raises(InvalidJSONError, match="NUL"):
        reencode_json_text('{"a": "x\\u0000"}')
    with pytest.raises(InvalidJSONError, match="NUL"):
        encode_args({"\x00": 1})
    assert reencode_json_text('{"a": "x\\u0000"}', strict=False) == b'{"a":"x\\u0000"}'


def test_lone_surrogates_rejected_when_strict_else_replaced() -> None:
    with pytest.raises(InvalidJSONError, match="surrogate"):
        reencode_json_text('{"a": "\\ud800"}')
    with pytest.raises(InvalidJSONError, match="surrogate"):
        encode_args({"a": ["\udfff"]})
    assert reencode_json_text('{"a": "\\ud800x"}', strict=False) == '{"a":"\ufffdx"}'.encode()
    # A proper pair is one character once decoded.
    assert reencode_json_text('{"a": "\\ud83d\\ude00"}') == '{"a":"😀"}'.encode()


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_depth_limit() -> None:
    encode_args(_nested(MAX_DEPTH))
    with pytest.raises(InvalidJSONError, match="deeper"):
        encode_args(_nested(MAX_DEPTH + 1))
    reencode_json_text(json.dumps(_nested(MAX_DEPTH)))
    with pytest.raises(InvalidJSONError, match="deeper"):
        reencode_json_text(json.dumps(_nested(MAX_DEPTH + 1)))
    with pytest.raises(InvalidJSONError, match="deeper"):
        reencode_json_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}")


def test_cycles_are_rejected_not_recursed() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidJSONError, match="deeper"):
        encode_args({"loop": loop})


def test_keys_must_be_strings() -> None:
    with pytest.raises(InvalidJSONError, match="keys must be strings"):
        encode_args({1: "a", "1": "b"})  # type: ignore[dict-item]
    with pytest.raises(InvalidJSONError, match="keys must be strings"):
        encode_args({"ok": {None: 1}})


class _IdentityKey(str):
    """A str key equal only to itself: a dict holds it next to the plain str it spells."""

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other


class _Color(enum.StrEnum):
    RED = "red"


def test_keys_colliding_once_written_are_rejected() -> None:
    with pytest.raises(InvalidJSONError, match="both written as 'a'"):
        encode_args({_IdentityKey("a"): 1, "a": 2})
    with pytest.raises(InvalidJSONError, match="both written as 'b'"):
        encode_args({"x": [{"b": 1, _IdentityKey("b"): 2}]})
    # Distinct subclass and enum keys are fine; duplicates parsed from text are kept.
    assert encode_args({_IdentityKey("a"): 1, _Color.RED: 2, "c": 3}) == b'{"a":1,"red":2,"c":3}'
    assert reencode_json_text('{"a":1,"a":2}') == b'{"a":1,"a":2}'


@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")))
def test_string_escapes_match_a_reference(text: str) -> None:
    """Go's escaping = Python's json.dumps (raw UTF-8) plus its HTML and U+2028/9 escapes."""
    reference = json.dumps(text, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        reference = reference.replace(char, escaped)
    reference = reference.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    assert encode_value(text) == reference.encode()


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(InvalidJSONError, match="JSON object"):
        encode_args([1, 2])  # type: ignore[arg-type]


def test_field_name_in_errors() -> None:
    with pytest.raises(InvalidJSONError) as info:
        encode_args({"a": math.nan}, field="metadata")
    assert info.value.field == "metadata"


@pytest.mark.parametrize("value", [{1, 2}, b"raw", Decimal("1.5"), object(), timedelta(1)])
def test_unsupported_types_rejected(value: object) -> None:
    with pytest.raises(InvalidJSONError, match="cannot be encoded"):
        encode_args({"v": value})


def test_datetimes_as_go_rfc3339nano_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.5Z"
    )
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=plus_two)) == (
        "2026-01-02T01:04:05.123456Z"
    )
    assert format_time(datetime(9, 1, 1, tzinfo=UTC)) == "0009-01-01T00:00:00Z"
    assert enc({"t": datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)}) == (
        '{"t":"2026-01-02T03:04:05.12Z"}'
    )


def test_naive_datetimes_rejected() -> None:
    with pytest.raises(InvalidJSONError, match="naive"):
        encode_args({"t": datetime(2026, 1, 2)})


class Color(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


class Mode(enum.StrEnum):
    FAST = "fast"


@dataclasses.dataclass
class Inner:
    z: int
    a: str


def test_other_python_types() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    value = {
        "date": date(2026, 1, 2),
        "uuid": u,
        "enum": Color.RED,
        "int_enum": Size.BIG,
        Mode.FAST: Mode.FAST,
        "tuple": (1, 2),
        "inner": Inner(z=1, a="<"),
    }
    assert enc(value) == (
        '{"date":"2026-01-02","uuid":"12345678-1234-5678-1234-567812345678","enum":"red",'
        '"int_enum":3,"fast":"fast","tuple":[1,2],"inner":{"z":1,"a":"\\u003c"}}'
    )


def test_pydantic_models_nested() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Model(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        model_config = pydantic.ConfigDict(populate_by_name=True)
        when: datetime
        count: int = pydantic.Field(alias="Count")

    model = Model(when=datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), Count=2)
    assert enc({"m": model}) == '{"m":{"when":"2026-01-02T03:04:05.5Z","Count":2}}'


def test_parse_keeps_structure() -> None:
    tree = parse_json_text('{"a": 1, "a": [2.5, "x"]}')
    assert [key for key, _ in tree.pairs] == ["a", "a"]
    assert encode_value(tree) == b'{"a":1,"a":[2.5,"x"]}'


# Strings PostgreSQL accepts: no NUL, no lone surrogates.
_texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_texts, children, max_size=4),
    max_leaves=20,
)


def _same(decoded: Any, original: Any) -> bool:
    """Equal, where Go may write an integral float as an integer literal of the same float."""
    if isinstance(original, float):
        return isinstance(decoded, int | float) and float(decoded) == original
    if isinstance(original, dict):
        return decoded.keys() == original.keys() and all(
            _same(decoded[k], v) for k, v in original.items()
        )
    if isinstance(original, list):
        return len(decoded) == len(original) and all(map(_same, decoded, original))
    return bool(decoded == original and type(decoded) is type(original))


@given(st.dictionaries(_texts, _json, max_size=6))
def test_round_trip_with_python_json(value: dict[str, Any]) -> None:
    encoded = encode_args(value)
    assert _same(json.loads(encoded), value)
    # A riverqueue-style to_json() (json.dumps, either ASCII mode) re-encodes to the same bytes.
    assert reencode_json_text(json.dumps(value)) == encoded
    assert reencode_json_text(json.dumps(value, ensure_ascii=False)) == encoded
    # Re-encoding Go output changes nothing.
    assert reencode_json_text(encoded) == encoded
