"""Job args protocol and insert option resolution (precedence, defaults, state, uniqueness)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

from river_core.errors import ValidationError
from river_core.insert_opts import (
    MAX_ATTEMPTS_DEFAULT,
    PRIORITY_DEFAULT,
    QUEUE_DEFAULT,
    InsertOpts,
    UniqueOpts,
    resolve_insert,
)
from river_core.job import JobState
from river_core.job_args import (
    JobArgsWithInsertOpts,
    args_insert_opts,
    args_kind,
    args_kind_aliases,
    args_to_json_bytes,
    resolve_args_insert,
)
from river_core.validation import (
    InvalidInsertOptsError,
    InvalidJSONError,
    InvalidKindError,
    InvalidMaxAttemptsError,
    InvalidPriorityError,
    InvalidQueueNameError,
    InvalidScheduledAtError,
    InvalidTagError,
    InvalidUniqueOptsError,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)


@dataclass
class SortArgs:
    """The official riverqueue package's documented shape: kind field plus to_json()."""

    strings: list[str]
    kind: str = "sort"

    def to_json(self) -> str:
        return json.dumps({"strings": self.strings})


@dataclass
class EmailArgs:
    kind: ClassVar[str] = "email"
    kind_aliases: ClassVar[tuple[str, ...]] = ("email_v1",)
    to: str
    sent_at: datetime | None = None
    cc: list[str] = field(default_factory=list)


@dataclass
class FieldKindArgs:
    id: int
    kind: str = "field_kind"


class OptsArgs:
    kind = "with_opts"

    def to_json(self) -> bytes:
        return b'{"n": 1}'

    def insert_opts(self) -> InsertOpts:
        return InsertOpts(
            queue="args_queue",
            priority=3,
            max_attempts=5,
            tags=["from-args"],
            metadata={"from": "args"},
            unique_opts=UniqueOpts(by_queue=True),
        )


# --- job args ---------------------------------------------------------------------------------


def test_riverqueue_style_args() -> None:
    args = SortArgs(strings=["whale", "<tiger>"])
    assert args_kind(args) == "sort"
    assert args_to_json_bytes(args) == b'{"strings":["whale","\\u003ctiger\\u003e"]}'
    assert args_insert_opts(args) is None


def test_dataclass_args_encoded_without_kind() -> None:
    args = EmailArgs(to="a@example.com", sent_at=datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC))
    assert args_kind(args) == "email"
    assert args_to_json_bytes(args) == (
        b'{"to":"a@example.com","sent_at":"2026-01-02T03:04:05.5Z","cc":[]}'
    )
    assert args_to_json_bytes(FieldKindArgs(id=7)) == b'{"id":7}'
    assert args_kind(FieldKindArgs(id=7)) == "field_kind"


def test_kind_aliases() -> None:
    assert args_kind_aliases(EmailArgs(to="x")) == ("email_v1",)
    assert args_kind_aliases(SortArgs(strings=[])) == ()

    class Bad:
        kind = "bad"
        kind_aliases = "single"

    with pytest.raises(InvalidKindError):
        args_kind_aliases(Bad())


def test_pydantic_args() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Report(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        kind: ClassVar[str] = "report"
        account_id: int = pydantic.Field(alias="accountId")
        ratio: float

    class FieldKind(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        kind: str = "field_kind"
        n: int

    report = Report(accountId=3, ratio=1e-7)
    assert args_kind(report) == "report"
    assert args_to_json_bytes(report) == b'{"accountId":3,"ratio":1e-7}'
    assert args_to_json_bytes(FieldKind(n=1)) == b'{"n":1}'
    assert args_kind(FieldKind(n=1)) == "field_kind"


def test_args_errors() -> None:
    class NoKind:
        def to_json(self) -> str:
            return "{}"

    class BadKind:
        kind = "bad kind"

    class NotJSON:
        kind = "not_json"

        def to_json(self) -> Any:
            return {"a": 1}

    class Plain:
        kind = "plain"

    class ArrayJSON:
        kind = "array"

        def to_json(self) -> str:
            return "[1, 2]"

    with pytest.raises(InvalidKindError):
        args_kind(NoKind())
    with pytest.raises(InvalidKindError):
        args_kind(BadKind())
    for args in (NotJSON(), Plain(), ArrayJSON(), SortArgs):
        with pytest.raises(InvalidJSONError) as info:
            args_to_json_bytes(args)
        assert info.value.field == "args"


def test_args_insert_opts_protocol() -> None:
    args = OptsArgs()
    assert isinstance(args, JobArgsWithInsertOpts)
    opts = args_insert_opts(args)
    assert opts is not None and opts.queue == "args_queue"

    class Wrong:
        kind = "wrong"

        def insert_opts(self) -> object:
            return {"queue": "x"}

    with pytest.raises(InvalidInsertOptsError):
        args_insert_opts(Wrong())


# --- resolution -------------------------------------------------------------------------------


def test_river_defaults() -> None:
    resolved = resolve_args_insert(SortArgs(strings=["a"]), now=NOW)
    assert resolved.kind == "sort"
    assert resolved.encoded_args == b'{"strings":["a"]}'
    assert resolved.queue == QUEUE_DEFAULT == "default"
    assert resolved.priority == PRIORITY_DEFAULT == 1
    assert resolved.max_attempts == MAX_ATTEMPTS_DEFAULT == 25
    assert resolved.tags == []
    assert resolved.metadata == {}
    assert resolved.encoded_metadata == b"{}"
    assert resolved.scheduled_at is None
    assert resolved.state is JobState.AVAILABLE
    assert resolved.unique_key is None and resolved.unique_states is None


def test_args_opts_apply_when_insert_opts_unset() -> None:
    resolved = resolve_args_insert(OptsArgs(), now=NOW)
    assert (resolved.queue, resolved.priority, resolved.max_attempts) == ("args_queue", 3, 5)
    assert resolved.tags == ["from-args"]
    assert resolved.metadata == {"from": "args"}
    expected = hashlib.sha256(b"&kind=with_opts&queue=args_queue").digest()
    assert resolved.unique_key == expected
    assert resolved.unique_states == 245


def test_insert_opts_override_args_opts_field_by_field() -> None:
    opts = InsertOpts(priority=4, tags=[], metadata='{"from": "insert"}')
    resolved = resolve_args_insert(OptsArgs(), opts, now=NOW)
    assert resolved.priority == 4
    assert resolved.tags == []  # an explicit empty list is set: not merged, not inherited
    assert resolved.metadata == {"from": "insert"}
    assert resolved.queue == "args_queue"
    assert resolved.max_attempts == 5


def test_client_defaults_come_after_args_opts() -> None:
    defaults = InsertOpts(max_attempts=10, queue="client_queue", priority=2)
    resolved = resolve_args_insert(SortArgs(strings=[]), defaults=defaults, now=NOW)
    assert (resolved.queue, resolved.priority, resolved.max_attempts) == ("client_queue", 2, 10)
    resolved = resolve_args_insert(OptsArgs(), defaults=defaults, now=NOW)
    assert (resolved.queue, resolved.priority, resolved.max_attempts) == ("args_queue", 3, 5)


def test_unique_opts_taken_from_first_non_empty_layer() -> None:
    args = OptsArgs()
    empty = InsertOpts(unique_opts=UniqueOpts(exclude_kind=True))  # empty: falls through
    resolved = resolve_args_insert(args, empty, now=NOW)
    assert resolved.unique_key == hashlib.sha256(b"&kind=with_opts&queue=args_queue").digest()
    by_args = InsertOpts(unique_opts=UniqueOpts(by_args=True, by_state=list(JobState)))
    resolved = resolve_args_insert(args, by_args, now=NOW)
    assert resolved.unique_key == hashlib.sha256(b'&kind=with_opts&args={"n":1}').digest()
    assert resolved.unique_states == 0xFF


def test_unique_period_uses_now_not_scheduled_at() -> None:
    """River's client computes the key before it sets scheduled_at."""
    opts = InsertOpts(
        scheduled_at=NOW + timedelta(days=1), unique_opts=UniqueOpts(by_period=timedelta(hours=1))
    )
    resolved = resolve_args_insert(SortArgs(strings=[]), opts, now=NOW)
    expected = hashlib.sha256(b"&kind=sort&period=2026-01-02T03:00:00Z").digest()
    assert resolved.unique_key == expected


def test_states() -> None:
    later = InsertOpts(scheduled_at=NOW + timedelta(seconds=1))
    resolved = resolve_args_insert(SortArgs(strings=[]), later, now=NOW)
    assert resolved.state is JobState.SCHEDULED
    assert resolved.scheduled_at == NOW + timedelta(seconds=1)
    past = InsertOpts(scheduled_at=NOW - timedelta(seconds=1))
    resolved = resolve_args_insert(SortArgs(strings=[]), past, now=NOW)
    assert resolved.state is JobState.AVAILABLE
    assert resolved.scheduled_at == NOW - timedelta(seconds=1)
    pending = InsertOpts(scheduled_at=NOW + timedelta(hours=1), pending=True)
    assert resolve_args_insert(SortArgs(strings=[]), pending, now=NOW).state is JobState.PENDING


def test_scheduled_at_converted_to_utc() -> None:
    local = datetime(2026, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=5)))
    resolved = resolve_args_insert(SortArgs(strings=[]), InsertOpts(scheduled_at=local), now=NOW)
    assert resolved.scheduled_at == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert resolved.scheduled_at is not None and resolved.scheduled_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("opts", "error", "field_name"),
    [
        (InsertOpts(priority=0), InvalidPriorityError, "priority"),
        (InsertOpts(priority=5), InvalidPriorityError, "priority"),
        (InsertOpts(max_attempts=0), InvalidMaxAttemptsError, "max_attempts"),
        (InsertOpts(queue=""), InvalidQueueNameError, "queue"),
        (InsertOpts(queue="Bad Queue"), InvalidQueueNameError, "queue"),
        (InsertOpts(tags=["x"]), InvalidTagError, "tags"),
        (InsertOpts(scheduled_at=datetime(2026, 1, 1)), InvalidScheduledAtError, "scheduled_at"),
        (InsertOpts(metadata="[]"), InvalidJSONError, "metadata"),
        (InsertOpts(pending=1), InvalidInsertOptsError, "pending"),  # type: ignore[arg-type]
        (InsertOpts(unique_opts=UniqueOpts(by_period=0.1)), InvalidUniqueOptsError, None),
        (InsertOpts(unique_opts={"by_args": True}), InvalidInsertOptsError, "unique_opts"),  # type: ignore[arg-type]
    ],
)
def test_invalid_options(
    opts: InsertOpts, error: type[ValidationError], field_name: str | None
) -> None:
    with pytest.raises(error) as info:
        resolve_args_insert(SortArgs(strings=[]), opts, now=NOW)
    if field_name is not None:
        assert info.value.field == field_name


def test_resolve_checks_its_inputs() -> None:
    with pytest.raises(InvalidKindError):
        resolve_insert("", b"{}", now=NOW)
    with pytest.raises(InvalidInsertOptsError) as info:
        resolve_insert("kind", b"{}", now=datetime(2026, 1, 1))
    assert info.value.field == "now"
    with pytest.raises(InvalidInsertOptsError) as info:
        resolve_insert("kind", b"{}", defaults={"queue": "x"}, now=NOW)  # type: ignore[arg-type]
    assert info.value.field == "defaults"


def test_insert_opts_positional_order_matches_riverqueue() -> None:
    unique = UniqueOpts(True, 60, True, None)
    opts = InsertOpts(3, 2, "q", None, ["tag"], unique)
    assert (opts.max_attempts, opts.priority, opts.queue, opts.tags) == (3, 2, "q", ["tag"])
    assert opts.unique_opts is unique
    assert (unique.by_args, unique.by_period, unique.by_queue) == (True, 60, True)
    with pytest.raises(TypeError):
        InsertOpts(3, 2, "q", None, ["tag"], unique, {})  # type: ignore[call-arg]
