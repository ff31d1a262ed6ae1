"""Unique keys and unique-state bitmasks, byte-identical to River's goldens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from river_core.gojson import InvalidJSONError
from river_core.job import UNIQUE_STATE_BITS, JobState
from river_core.unique import (
    DEFAULT_UNIQUE_STATES,
    UniqueOpts,
    bitmask_from_bits,
    bitmask_to_bits,
    bitmask_to_states,
    states_to_bitmask,
    unique_key,
    unique_key_string,
    validate_unique_opts,
)
from river_core.validation import InvalidUniqueOptsError

RIVER_FIXTURES = Path(__file__).parent / "fixtures" / "river"
RAW = (RIVER_FIXTURES / "unique_keys.json").read_text()
DOC = json.loads(RAW)
CASES: list[dict[str, Any]] = DOC["cases"] + DOC["typed_only_cases"]
NOW = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)


def _raw_args_texts(text: str) -> list[str]:
    """Each case's `args` exactly as written in the fixture (keeps -0 and duplicate keys)."""
    texts = []
    start = text.find('"args": ')
    while start != -1:
        i = text.index("{", start)
        depth, in_string, escaped = 0, False, False
        for j in range(i, len(text)):
            ch = text[j]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    texts.append(text[i : j + 1])
                    break
        start = text.find('"args": ', j)
    return texts


RAW_ARGS = _raw_args_texts(RAW)


def _opts(case: dict[str, Any]) -> UniqueOpts:
    o = case["options"]
    by_args: bool | list[str] | None = None
    if o["by_args"]:
        by_args = case["selected_unique_paths"] or True
    return UniqueOpts(
        by_args=by_args,
        by_period=timedelta(microseconds=o["by_period_nanos"] // 1000) or None,
        by_queue=o["by_queue"] or None,
        by_state=o.get("by_state"),
        exclude_kind=o["exclude_kind"] or None,
    )


def _key(case: dict[str, Any], args_json: str | bytes) -> tuple[bytes, int]:
    scheduled = case["scheduled_at"]
    return unique_key(
        case["kind"],
        args_json,
        case["queue"],
        _opts(case),
        now=datetime.fromisoformat(case["now"]),
        scheduled_at=datetime.fromisoformat(scheduled) if scheduled else None,
    )


def test_fixture_has_all_cases() -> None:
    assert len(DOC["cases"]) == 21
    assert len(DOC["typed_only_cases"]) == 2
    assert len(RAW_ARGS) == len(CASES)
    for raw, case in zip(RAW_ARGS, CASES, strict=True):
        assert json.loads(raw) == case["args"]


@pytest.mark.parametrize(
    ("case", "raw_args"), list(zip(CASES, RAW_ARGS, strict=True)), ids=[c["name"] for c in CASES]
)
def test_golden_unique_key_from_fixture_text(case: dict[str, Any], raw_args: str) -> None:
    key, mask = _key(case, raw_args)
    assert key.hex() == case["expected_sha256"]
    assert mask == case["expected_state_mask"]


# Python's json.loads loses `-0` and duplicate keys, so those cases cannot come from json.dumps.
PYTHON_CASES = [
    c
    for c in CASES
    if c["name"] not in {"map_order_and_negative_zero", "typed_duplicate_top_level_keys"}
    and "negative_zero" not in c["args"]
]


@pytest.mark.parametrize("case", PYTHON_CASES, ids=[c["name"] for c in PYTHON_CASES])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_golden_unique_key_from_json_dumps(case: dict[str, Any], ensure_ascii: bool) -> None:
    """What a riverqueue-style `to_json()` (json.dumps) returns hashes the same."""
    key, mask = _key(case, json.dumps(case["args"], ensure_ascii=ensure_ascii))
    assert key.hex() == case["expected_sha256"]
    assert mask == case["expected_state_mask"]


def test_key_string_layout() -> None:
    opts = UniqueOpts(by_args=True, by_period=3600, by_queue=True)
    text = unique_key_string("email", '{"b": 1, "a": "<x>"}', "mail", opts, now=NOW)
    assert text == (
        '&kind=email&args={"a":"\\u003cx\\u003e","b":1}&period=2026-01-02T03:00:00Z&queue=mail'
    )
    assert unique_key_string("email", "{}", "mail", UniqueOpts(by_queue=True), now=NOW) == (
        "&kind=email&queue=mail"
    )


def test_selected_paths_nest_and_sort() -> None:
    opts = UniqueOpts(by_args=["b.y", "a", "b.x", "missing.deep"])
    args = '{"b": {"y": 2, "z": 0, "x": 1}, "a": [1], "c": 3}'
    text = unique_key_string("k", args, "q", opts, now=NOW)
    assert text == '&kind=k&args={"a":[1],"b":{"x":1,"y":2}}'


def test_selected_path_through_non_object_is_missing() -> None:
    opts = UniqueOpts(by_args=["a.b"])
    assert unique_key_string("k", '{"a": [1]}', "q", opts, now=NOW) == "&kind=k&args="


def test_selected_parent_and_child_paths() -> None:
    opts = UniqueOpts(by_args=["a", "a.b"])
    text = unique_key_string("k", '{"a": {"c": 1, "b": 2}}', "q", opts, now=NOW)
    assert text == '&kind=k&args={"a":{"c":1,"b":2}}'


def test_period_truncates_from_go_zero_time() -> None:
    # 7 days does not divide the 719162 days from year 1 to 1970 evenly: Go's Truncate counts
    # from year 1, so the bound is a Monday (2025-12-29), not a Thursday as from the Unix epoch.
    text = unique_key_string("k", "{}", "q", UniqueOpts(by_period=timedelta(days=7)), now=NOW)
    assert text == "&kind=k&period=2025-12-29T00:00:00Z"


def test_period_uses_scheduled_at_and_converts_to_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    scheduled = datetime(2026, 3, 1, 23, 30, tzinfo=eastern)
    text = unique_key_string(
        "k", "{}", "q", UniqueOpts(by_period=60.0), now=NOW, scheduled_at=scheduled
    )
    assert text == "&kind=k&period=2026-03-02T04:30:00Z"


def test_period_needs_aware_time() -> None:
    with pytest.raises(InvalidUniqueOptsError) as info:
        unique_key("k", "{}", "q", UniqueOpts(by_period=60), now=datetime(2026, 1, 1))
    assert info.value.field == "now"
    with pytest.raises(InvalidUniqueOptsError) as info:
        unique_key(
            "k", "{}", "q", UniqueOpts(by_period=60), now=NOW, scheduled_at=datetime(2026, 1, 1)
        )
    assert info.value.field == "scheduled_at"


def test_unique_key_accepts_nul_and_lone_surrogates() -> None:
    """Hashing follows Go (NUL escaped, lone surrogate -> U+FFFD); only inserts reject them."""
    opts = UniqueOpts(by_args=True)
    assert unique_key_string("k", '{"a": "\\u0000"}', "q", opts, now=NOW) == (
        '&kind=k&args={"a":"\\u0000"}'
    )
    assert unique_key_string("k", '{"a": "\\ud800"}', "q", opts, now=NOW) == (
        '&kind=k&args={"a":"\ufffd"}'
    )


def test_unique_key_rejects_non_object_args() -> None:
    with pytest.raises(InvalidJSONError):
        unique_key("k", "[1]", "q", UniqueOpts(by_args=True), now=NOW)


def test_default_states_mask() -> None:
    assert states_to_bitmask(DEFAULT_UNIQUE_STATES) == 245
    assert bitmask_to_bits(245) == "11110101"
    assert bitmask_from_bits("11110101") == 245
    assert bitmask_to_states(245) == sorted(DEFAULT_UNIQUE_STATES, key=lambda s: s.value)
    _, mask = unique_key("k", "{}", "q", UniqueOpts(by_queue=True), now=NOW)
    assert mask == 245


def test_protocol_state_bits() -> None:
    protocol = json.loads((RIVER_FIXTURES / "protocol_values.json").read_text())
    for entry in protocol["job_states"]:
        state = JobState(entry["state"])
        assert states_to_bitmask([state]) == entry["unique_bit"] == UNIQUE_STATE_BITS[state]
        assert bitmask_to_bits(entry["unique_bit"]).count("1") == 1


@pytest.mark.parametrize("bits", ["1111010", "111101011", "1111010x", ""])
def test_bits_parsing_rejects_malformed(bits: str) -> None:
    with pytest.raises(ValueError):
        bitmask_from_bits(bits)


def test_bitmask_to_bits_range() -> None:
    assert bitmask_to_bits(0) == "00000000"
    with pytest.raises(ValueError):
        bitmask_to_bits(256)


@pytest.mark.parametrize(
    ("opts", "field"),
    [
        (UniqueOpts(by_period=0.5), "unique_opts.by_period"),
        (UniqueOpts(by_period=-60), "unique_opts.by_period"),
        (UniqueOpts(by_period=float("nan")), "unique_opts.by_period"),
        (UniqueOpts(by_period=True), "unique_opts.by_period"),
        (UniqueOpts(by_state=["available", "running", "scheduled"]), "unique_opts.by_state"),
        (UniqueOpts(by_state=["nope"]), "unique_opts.by_state"),
        (UniqueOpts(by_state="available"), "unique_opts.by_state"),
        (UniqueOpts(by_args=[]), "unique_opts.by_args"),
        (UniqueOpts(by_args=["a..b"]), "unique_opts.by_args"),
        (UniqueOpts(by_args="a"), "unique_opts.by_args"),
        (UniqueOpts(by_queue=1), "unique_opts.by_queue"),  # type: ignore[arg-type]
        (UniqueOpts(exclude_kind="yes"), "unique_opts.exclude_kind"),  # type: ignore[arg-type]
    ],
)
def test_invalid_unique_opts(opts: UniqueOpts, field: str) -> None:
    with pytest.raises(InvalidUniqueOptsError) as info:
        validate_unique_opts(opts)
    assert info.value.field == field


def test_missing_required_states_are_named() -> None:
    with pytest.raises(InvalidUniqueOptsError, match="missing: pending, scheduled"):
        validate_unique_opts(UniqueOpts(by_state=["available", "running", "completed"]))


def test_custom_states_may_add_and_drop_retryable() -> None:
    states = [*DEFAULT_UNIQUE_STATES, JobState.CANCELLED, JobState.DISCARDED]
    _, mask = unique_key("k", "{}", "q", UniqueOpts(by_state=states), now=NOW)
    assert mask == 0xFF
    required = ["available", "pending", "running", "scheduled"]
    _, mask = unique_key("k", "{}", "q", UniqueOpts(by_state=required), now=NOW)
    assert mask == 1 | 16 | 64 | 128


def test_is_empty_follows_river() -> None:
    assert UniqueOpts().is_empty()
    assert UniqueOpts(exclude_kind=True).is_empty()
    assert UniqueOpts(by_args=False, by_queue=False, by_period=0).is_empty()
    assert not UniqueOpts(by_state=[]).is_empty()
    assert not UniqueOpts(by_args=[]).is_empty()  # so that validation refuses it
    assert not UniqueOpts(by_period=60).is_empty()
