"""The bad-input matrix: every invalid field through every insert entry point of every variant.

Each rejection must be a typed error naming the field, raised before anything reaches the
database: no statement sent (SQLAlchemy `before_cursor_execute`), no connection checked out when
the client would open its own transaction, no row in the caller's transaction (which is what
would show a COPY, sent past SQLAlchemy), and no row committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from client_harness import AnyArgs, Api, ClientUnderTest, RawArgs, SortArgs, SortWorker

import river_core as river

pytestmark = pytest.mark.asyncio(loop_scope="session")


class IdentityKey(str):
    """A str key equal only to itself: a dict holds it next to the plain str it spells."""

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other


def nested(levels: int) -> dict[str, Any]:
    """A JSON object nested `levels` deep (`{}` is 1)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def nested_text(levels: int) -> str:
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


@dataclass(frozen=True)
class Case:
    """One invalid input: args and options, and the error and field expected."""

    args: Any
    opts: river.InsertOpts | None
    error: type[Exception]
    field: str | None  # None: an UnknownJobKindError (it names the kind instead)


def opts_case(field: str, **opts: Any) -> Case:
    return Case(SortArgs(["x"]), river.InsertOpts(**opts), river.ValidationError, field)


def args_case(args: Any) -> Case:
    return Case(args, None, river.ValidationError, "args")


def kind_case(kind: str) -> Case:
    return Case(AnyArgs(kind=kind), None, river.ValidationError, "kind")


CASES: dict[str, Case] = {
    "priority_0": opts_case("priority", priority=0),
    "priority_5": opts_case("priority", priority=5),
    "priority_not_int": opts_case("priority", priority="1"),
    "max_attempts_0": opts_case("max_attempts", max_attempts=0),
    "queue_empty": opts_case("queue", queue=""),
    "queue_uppercase": opts_case("queue", queue="Default"),
    "queue_spaces": opts_case("queue", queue="my queue"),
    "queue_too_long": opts_case("queue", queue="q" * 65),
    "queue_injection": opts_case("queue", queue="a'; drop table x;--"),
    "kind_empty": kind_case(""),
    "kind_spaces": kind_case("my kind"),
    "kind_too_long": kind_case("k" * 128),
    "kind_injection": kind_case("a'; drop table river_job;--"),
    "tag_spaces": opts_case("tags", tags=["has space"]),
    "tag_too_short": opts_case("tags", tags=["ab"]),
    "tag_too_long": opts_case("tags", tags=["t" * 256]),
    "tag_not_str": opts_case("tags", tags=[1]),
    "tags_a_string": opts_case("tags", tags="abc"),
    "args_array": args_case(RawArgs("[1, 2]")),
    "args_not_json": args_case(RawArgs('{"a": ')),
    "args_nan": args_case(AnyArgs(value=float("nan"))),
    "args_infinity": args_case(AnyArgs(value=float("-inf"))),
    "args_nan_text": args_case(RawArgs('{"a": NaN}')),
    "args_infinity_text": args_case(RawArgs('{"a": 1e999}')),
    "args_nul": args_case(AnyArgs(value="a\x00b")),
    "args_nul_text": args_case(RawArgs('{"a": "\\u0000"}')),
    "args_lone_surrogate": args_case(AnyArgs(value="\ud800")),
    "args_lone_surrogate_text": args_case(RawArgs('{"a": "\\udc00"}')),
    "args_non_string_key": args_case(AnyArgs(value={1: "a"})),
    "args_colliding_keys": args_case(AnyArgs(value={IdentityKey("a"): 1, "a": 2})),
    "args_depth_101": args_case(AnyArgs(value=nested(100))),
    "args_depth_101_text": args_case(RawArgs(nested_text(101))),
    "args_unencodable": args_case(AnyArgs(value=object())),
    "args_no_kind": Case(object(), None, river.ValidationError, "kind"),
    "metadata_array": opts_case("metadata", metadata=[1]),
    "metadata_array_text": opts_case("metadata", metadata="[1]"),
    "metadata_nan": opts_case("metadata", metadata={"x": float("nan")}),
    "scheduled_at_naive": opts_case("scheduled_at", scheduled_at=datetime(2030, 1, 1)),
    "unique_by_state_missing_required": opts_case(
        "unique_opts.by_state",
        unique_opts=river.UniqueOpts(by_state=[river.JobState.AVAILABLE]),
    ),
    "unique_by_period_under_1s": opts_case(
        "unique_opts.by_period", unique_opts=river.UniqueOpts(by_period=0.5)
    ),
    "unknown_kind_with_workers": Case(
        AnyArgs(kind="nobody_works_this"), None, river.UnknownJobKindError, None
    ),
}


def many(case: Case) -> list[Any]:
    """A valid job, then the bad one: nothing of the batch may be written."""
    return [SortArgs(["valid"]), river.InsertManyParams(case.args, case.opts)]


Call = Callable[[Api, Any, Case], Awaitable[Any]]
ENTRY_POINTS: dict[str, tuple[bool, Call]] = {  # name: (takes a transaction, call)
    "insert": (False, lambda api, tx, case: api.insert(case.args, case.opts)),
    "insert_tx": (True, lambda api, tx, case: api.insert_tx(tx, case.args, case.opts)),
    "insert_many": (False, lambda api, tx, case: api.insert_many(many(case))),
    "insert_many_tx": (True, lambda api, tx, case: api.insert_many_tx(tx, many(case))),
    "insert_many_fast": (False, lambda api, tx, case: api.insert_many_fast(many(case))),
    "insert_many_fast_tx": (True, lambda api, tx, case: api.insert_many_fast_tx(tx, many(case))),
}


def check_error(exc: BaseException, case: Case) -> None:
    assert isinstance(exc, case.error), repr(exc)
    if isinstance(exc, river.ValidationError):
        assert exc.field == case.field, (exc.field, str(exc))
        assert str(exc).startswith(f"{case.field}: ")
    else:
        assert isinstance(exc, river.UnknownJobKindError)
        assert exc.kind == case.args.kind


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
@pytest.mark.parametrize("case_name", CASES)
async def test_rejected_before_any_statement(
    rc: ClientUnderTest, case_name: str, entry_point: str
) -> None:
    case = CASES[case_name]
    takes_tx, call = ENTRY_POINTS[entry_point]
    workers = river.Workers()
    workers.add(SortWorker())
    api = Api(rc.make_client(river.Config(workers=workers))) if case.field is None else rc.api
    if takes_tx:
        async with rc.tx("connection") as tx:
            with rc.recording() as recorder, pytest.raises(case.error) as raised:
                await call(api, tx, case)
            assert recorder.statements == []
            assert await rc.scalar_in(tx, "SELECT count(*) FROM {schema}.river_job") == 0
    else:
        with rc.recording() as recorder, pytest.raises(case.error) as raised:
            await call(api, None, case)
        assert recorder.statements == []
        assert recorder.checkouts == 0
    check_error(raised.value, case)
    assert rc.count_jobs() == 0


async def test_the_limits_themselves_are_accepted(rc: ClientUnderTest) -> None:
    """Each bound of the matrix, just inside it, is inserted."""
    ok = [
        river.InsertManyParams(AnyArgs(value=nested(99))),
        river.InsertManyParams(RawArgs(nested_text(100))),
        river.InsertManyParams(AnyArgs(kind="k" * 127, value="\u2028<&>\x7f")),
        river.InsertManyParams(
            SortArgs(["x"]),
            river.InsertOpts(
                queue="q" * 64,
                priority=4,
                max_attempts=1,
                tags=["abc", "t" * 255],
                scheduled_at=datetime(2030, 1, 1, tzinfo=UTC),
                metadata={"k": [1.5, None, True]},
            ),
        ),
    ]
    results = await rc.api.insert_many(ok)
    assert len(results) == 4
    assert await rc.api.insert_many_fast(ok) == 4
