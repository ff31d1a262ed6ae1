"""River's validation rules, and a bound on their running time on adversarial input."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from river_core.errors import ValidationError
from river_core.validation import (
    InvalidInsertOptsError,
    InvalidJSONError,
    InvalidKindError,
    InvalidMaxAttemptsError,
    InvalidPriorityError,
    InvalidQueueNameError,
    InvalidScheduledAtError,
    InvalidTagError,
    validate_kind,
    validate_max_attempts,
    validate_metadata,
    validate_priority,
    validate_queue,
    validate_scheduled_at,
    validate_tags,
)

VALID_QUEUES = ["default", "a", "0", "a1", "a_b", "a-b", "a|b", "a_b-c|d", "q" * 64]
INVALID_QUEUES: list[object] = [
    "", "A", "Default", "a__b", "a_-b", "a||b", "_a", "a_", "-a", "a-", "a b", "a.b", "a/b",
    "é", "a\n", "q" * 65, None, 1, b"default",
]  # fmt: skip


@pytest.mark.parametrize("queue", VALID_QUEUES)
def test_valid_queue_names(queue: str) -> None:
    assert validate_queue(queue) == queue


@pytest.mark.parametrize("queue", INVALID_QUEUES)
def test_invalid_queue_names(queue: object) -> None:
    with pytest.raises(InvalidQueueNameError) as info:
        validate_queue(queue)
    assert info.value.field == "queue"


VALID_KINDS = [
    "ab", "sort", "Sort_Args", "_x", "9x", "my.kind", "ns/kind", "kind[int]", "a<b>", "a\u00b7b",
    "a:b", "a+b", "a-b", "k" * 127,
]  # fmt: skip
INVALID_KINDS: list[object] = [
    "", "a", "-ab", ".ab", "·ab", "a b", "a,b", "a\tb", "aé", "é1", "a\u00b7\u00b8", "k" * 128,
    None, 7,
]  # fmt: skip


@pytest.mark.parametrize("kind", VALID_KINDS)
def test_valid_kinds(kind: str) -> None:
    assert validate_kind(kind) == kind


@pytest.mark.parametrize("kind", INVALID_KINDS)
def test_invalid_kinds(kind: object) -> None:
    with pytest.raises(InvalidKindError) as info:
        validate_kind(kind)
    assert info.value.field == "kind"


VALID_TAGS = ["abc", "a-b", "a_b", "a1c", "A-9", "___", "t" * 255]
INVALID_TAGS: list[object] = ["", "ab", "-ab", "ab-", "a b", "a,b", "a.b", "é12", "t" * 256, 1]


def test_valid_tags() -> None:
    assert validate_tags(VALID_TAGS) == VALID_TAGS
    assert validate_tags(()) == []


@pytest.mark.parametrize("tag", INVALID_TAGS)
def test_invalid_tags(tag: object) -> None:
    with pytest.raises(InvalidTagError) as info:
        validate_tags(["fine", tag])
    assert info.value.field == "tags"


@pytest.mark.parametrize("tags", ["abc", b"abc", {"abc"}, None])
def test_tags_must_be_a_list(tags: object) -> None:
    with pytest.raises(InvalidTagError):
        validate_tags(tags)


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
def test_valid_priorities(priority: int) -> None:
    assert validate_priority(priority) == priority


@pytest.mark.parametrize("priority", [0, 5, -1, True, 1.0, "1", None])
def test_invalid_priorities(priority: object) -> None:
    with pytest.raises(InvalidPriorityError) as info:
        validate_priority(priority)
    assert info.value.field == "priority"


@pytest.mark.parametrize("max_attempts", [1, 25, 32767])
def test_valid_max_attempts(max_attempts: int) -> None:
    assert validate_max_attempts(max_attempts) == max_attempts


@pytest.mark.parametrize("max_attempts", [0, -1, 32768, False, 2.0, "3", None])
def test_invalid_max_attempts(max_attempts: object) -> None:
    with pytest.raises(InvalidMaxAttemptsError) as info:
        validate_max_attempts(max_attempts)
    assert info.value.field == "max_attempts"


def test_scheduled_at() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert validate_scheduled_at(datetime(2026, 1, 1, 19, tzinfo=eastern)) == datetime(
        2026, 1, 2, 0, tzinfo=UTC
    )
    with pytest.raises(InvalidScheduledAtError, match="timezone-aware"):
        validate_scheduled_at(datetime(2026, 1, 1))
    with pytest.raises(InvalidScheduledAtError):
        validate_scheduled_at("2026-01-01T00:00:00Z")


def test_metadata() -> None:
    assert validate_metadata({"b": 1, "a": "<"}) == b'{"b":1,"a":"\\u003c"}'
    assert validate_metadata('{"x": 1.0}') == b'{"x":1}'
    assert validate_metadata(b"{}") == b"{}"
    for bad in ([1], "[1]", "null", '{"a": "\\u0000"}', {"a": float("nan")}):
        with pytest.raises(InvalidJSONError) as info:
            validate_metadata(bad)  # type: ignore[arg-type]
        assert info.value.field == "metadata"


def test_error_hierarchy() -> None:
    for cls in (InvalidQueueNameError, InvalidPriorityError, InvalidTagError):
        assert issubclass(cls, InvalidInsertOptsError)
    for base in (InvalidKindError, InvalidInsertOptsError, InvalidJSONError):
        assert issubclass(base, ValidationError)
        assert issubclass(base, ValueError)


# Inputs that make a naive port of River's patterns backtrack, about 1 KB each, plus the same
# shapes cut to the longest length each validator lets through to its patterns.
ADVERSARIAL = [
    "a" * 1000 + "!",
    "_-" * 500,
    "a_" * 500 + "!",
    "a-" * 500 + "-",
    "a" + "-" * 1000 + "!",
    "0" * 1000 + "\u00e9",
    "a|" * 500 + "A",
    "a." * 500 + " ",
    "-" * 1024,
]
VALIDATORS: dict[str, tuple[Callable[[str], object], int]] = {
    "queue": (validate_queue, 64),
    "kind": (validate_kind, 127),
    "tag": (lambda tag: validate_tags([tag]), 255),
}


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_validators_are_linear_on_adversarial_input(name: str) -> None:
    validator, max_length = VALIDATORS[name]
    inputs = ADVERSARIAL + [text[: max_length - 1] + "!" for text in ADVERSARIAL]
    worst = 0.0
    for text in inputs:
        start = time.perf_counter()
        for _ in range(10):
            try:
                validator(text)
            except ValidationError:
                pass
        worst = max(worst, (time.perf_counter() - start) / 10)
    print(f"{name}: worst {worst * 1e6:.1f} us per call over {len(inputs)} adversarial inputs")
    assert worst < 0.005
