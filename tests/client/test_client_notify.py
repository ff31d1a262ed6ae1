"""NOTIFY on insert: River's channel and payload, sent in the inserting transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from client_harness import ClientUnderTest, Rollback, SortArgs, TxKind

import river_core as river

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROTOCOL = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "river" / "protocol_values.json").read_text()
)
INSERT = next(n for n in PROTOCOL["notifications"] if n["name"] == "insert")


def insert_payload(queue: str) -> str:
    """River's insert payload for `queue`, as Go's json.Marshal writes it."""
    return json.dumps({**INSERT["payload"], "queue": queue}, separators=(",", ":"))


def in_queue(queue: str, **opts: Any) -> river.InsertManyParams:
    return river.InsertManyParams(SortArgs([queue]), river.InsertOpts(queue=queue, **opts))


async def test_insert_notifies_the_queue(rc: ClientUnderTest) -> None:
    assert INSERT["topic"] == "river_insert"
    with rc.listening(INSERT["topic"]) as notifications:
        await rc.api.insert(SortArgs(["a"]), river.InsertOpts(queue="priority"))
        assert notifications.collect() == [insert_payload("priority")]
        assert insert_payload("priority") == json.dumps(INSERT["payload"], separators=(",", ":"))
        for method in ("insert_many", "insert_many_fast"):
            await getattr(rc.api, method)([in_queue("q1"), in_queue("q2"), in_queue("q1")])
            assert sorted(notifications.collect()) == [insert_payload("q1"), insert_payload("q2")]


@pytest.mark.parametrize("kind", ["session", "connection"])
async def test_notification_arrives_only_after_commit(rc: ClientUnderTest, kind: TxKind) -> None:
    with rc.listening("river_insert") as notifications:
        async with rc.tx(kind) as tx:
            await rc.api.insert_tx(tx, SortArgs(["a"]), river.InsertOpts(queue="q1"))
            assert notifications.collect() == []  # not before the commit
        assert notifications.collect() == [insert_payload("q1")]


@pytest.mark.parametrize("kind", ["session", "connection"])
async def test_rolled_back_insert_notifies_nothing(rc: ClientUnderTest, kind: TxKind) -> None:
    with rc.listening("river_insert") as notifications:
        with pytest.raises(Rollback):
            async with rc.tx(kind) as tx:
                await rc.api.insert_tx(tx, SortArgs(["a"]), river.InsertOpts(queue="q1"))
                await rc.api.insert_many_tx(tx, [in_queue("q2")])
                await rc.api.insert_many_fast_tx(tx, [in_queue("q3")])
                raise Rollback
        assert notifications.collect() == []
    assert rc.count_jobs() == 0


async def test_one_notification_per_queue_per_transaction(rc: ClientUnderTest) -> None:
    with rc.listening("river_insert") as notifications:
        async with rc.tx("session") as tx:
            for _ in range(3):
                await rc.api.insert_tx(tx, SortArgs(["a"]), river.InsertOpts(queue="q1"))
            await rc.api.insert_many_tx(tx, [in_queue("q1"), in_queue("q2"), in_queue("q2")])
            await rc.api.insert_many_fast_tx(tx, [in_queue("q2"), in_queue("q3")] * 5)
        assert sorted(notifications.collect()) == [
            insert_payload("q1"),
            insert_payload("q2"),
            insert_payload("q3"),
        ]


async def test_jobs_not_available_notify_nothing(rc: ClientUnderTest) -> None:
    """Scheduled, pending and duplicate jobs wake no producer."""
    later = datetime.now(UTC) + timedelta(hours=1)
    unique = river.InsertOpts(queue="uq", unique_opts=river.UniqueOpts(by_args=True))
    await rc.api.insert(SortArgs(["a"]), unique)
    with rc.listening("river_insert") as notifications:
        await rc.api.insert(SortArgs(["a"]), river.InsertOpts(queue="q1", scheduled_at=later))
        await rc.api.insert(SortArgs(["a"]), river.InsertOpts(queue="q1", pending=True))
        await rc.api.insert_many_fast([in_queue("q2", scheduled_at=later)])
        assert (await rc.api.insert(SortArgs(["a"]), unique)).unique_skipped_as_duplicated
        assert notifications.collect() == []


async def test_notifications_stay_in_their_schema(rc: ClientUnderTest) -> None:
    """The channel is schema-qualified: a listener of another schema hears nothing."""
    other = ClientUnderTest(
        variant=rc.variant,
        schema="some_other_schema",
        database_url=rc.database_url,
        engine=rc.engine,
        driver=rc.driver,
        db=rc.db,
    )
    with other.listening("river_insert") as elsewhere, rc.listening("river_insert") as here:
        await rc.api.insert(SortArgs(["a"]))
        assert here.collect() == [insert_payload("default")]
        assert elsewhere.collect() == []


async def test_an_insert_is_one_statement(rc: ClientUnderTest) -> None:
    """Insert and NOTIFY go in one statement: autocommit for `insert`, one more for `_tx`."""
    with rc.recording() as recorder:
        await rc.api.insert(SortArgs(["a"]))
        await rc.api.insert_many([SortArgs(["b"]), in_queue("q2")])
    assert len(recorder.statements) == 2
    assert recorder.checkouts == 2
    async with rc.tx("connection") as tx:
        with rc.recording() as recorder:
            await rc.api.insert_tx(tx, SortArgs(["c"]))
        assert len(recorder.statements) == 1
