"""Conformance: NOTIFY, advisory locks, schema version, truncation and schema isolation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conformance import DriverHandle, Listening

from river_core import migrate
from river_core.driver import (
    TOPIC_INSERT,
    Executor,
    JobGetAvailableParams,
    JobInsertParams,
    JobListParams,
    LeaderElectParams,
    QueueCreateOrSetUpdatedAtParams,
)
from river_core.errors import ValidationError
from river_core.job import JobState


def test_notify_many_sends_each_payload_on_the_schema_channel(
    handle: DriverHandle, other: DriverHandle, listening: Listening
) -> None:
    listening.listen(handle.schema, TOPIC_INSERT)
    listening.listen(other.schema, TOPIC_INSERT)
    handle.run(lambda ex: ex.notify_many(TOPIC_INSERT, []))
    payloads = ['{"queue":"a"}', '{"queue":"b"}']
    handle.run(lambda ex: ex.notify_many(TOPIC_INSERT, payloads))
    channel = f"{handle.schema}.{TOPIC_INSERT}"
    assert listening.received(2) == [(channel, p) for p in payloads]
    assert listening.received(0) == []


def test_notify_many_is_transactional(handle: DriverHandle, listening: Listening) -> None:
    listening.listen(handle.schema, TOPIC_INSERT)

    def notify_then_fail(ex: Executor) -> None:
        ex.notify_many(TOPIC_INSERT, ["{}"])
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        handle.run(notify_then_fail)
    assert listening.received(0) == []


def test_advisory_xact_lock_is_held_until_the_transaction_ends(
    handle: DriverHandle, sync_engine: sa.Engine
) -> None:
    key = 0x7E57_0000_0001

    def try_lock_elsewhere() -> bool:
        with sync_engine.begin() as conn:
            return bool(conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key))).scalar())

    def locked(ex: Executor) -> bool:
        ex.pg_advisory_xact_lock(key)
        return try_lock_elsewhere()

    assert handle.run(locked) is False
    assert try_lock_elsewhere() is True


def test_schema_version(
    handle: DriverHandle,
    handle_on: Callable[[str], DriverHandle],
    fresh_schema: str,
    sync_engine: sa.Engine,
) -> None:
    assert handle.run(lambda ex: ex.schema_version()) == migrate.LATEST_VERSION
    empty = handle_on(fresh_schema)
    assert empty.run(lambda ex: ex.schema_version()) == 0
    with sync_engine.connect() as conn:  # River 001-004: river_migration has no `line` yet
        migrate.upgrade(conn, schema=fresh_schema, target_version=4)
    assert empty.run(lambda ex: ex.schema_version()) == 4


def test_table_truncate(handle: DriverHandle) -> None:
    handle.insert()
    handle.run(lambda ex: ex.leader_attempt_elect(LeaderElectParams("c", timedelta(minutes=1))))
    handle.run(lambda ex: ex.queue_create_or_set_updated_at(QueueCreateOrSetUpdatedAtParams("q")))

    with pytest.raises(ValidationError, match="river_nope"):
        handle.run(lambda ex: ex.table_truncate(["river_job", "river_nope"]))
    assert handle.run(lambda ex: ex.job_count_by_state(JobState.AVAILABLE)) == 1

    handle.run(lambda ex: ex.table_truncate([]))
    handle.run(lambda ex: ex.table_truncate(["river_job", "river_queue"]))
    assert handle.run(lambda ex: ex.job_list(JobListParams())) == []
    assert handle.run(lambda ex: ex.queue_list()) == []
    assert handle.run(lambda ex: ex.leader_get_elected_leader()) is not None
    assert handle.run(lambda ex: ex.schema_version()) == migrate.LATEST_VERSION


def test_schemas_never_see_each_other(handle: DriverHandle, other: DriverHandle) -> None:
    unique = {"unique_key": b"same", "unique_states": 0xFF}
    mine = handle.run(
        lambda ex: ex.job_insert_fast_many([JobInsertParams("k", b"{}", **unique)])  # type: ignore[arg-type]
    )[0]
    theirs = other.run(
        lambda ex: ex.job_insert_fast_many([JobInsertParams("k", b"{}", **unique)])  # type: ignore[arg-type]
    )[0]
    assert not mine.unique_skipped_as_duplicated and not theirs.unique_skipped_as_duplicated

    handle.insert(kind="only_mine")
    assert other.run(lambda ex: ex.job_get_by_kind_many(["only_mine"])) == []
    assert [j.kind for j in other.run(lambda ex: ex.job_list(JobListParams()))] == ["k"]
    assert other.run(lambda ex: ex.job_count_by_state(JobState.AVAILABLE)) == 1
    fetch = JobGetAvailableParams("c", "default", 10)
    assert [j.id for j in other.run(lambda ex: ex.job_get_available(fetch))] == [theirs.job.id]
    assert len(handle.run(lambda ex: ex.job_get_available(fetch))) == 2

    ttl = timedelta(minutes=1)
    assert handle.run(lambda ex: ex.leader_attempt_elect(LeaderElectParams("a", ttl))) is not None
    assert other.run(lambda ex: ex.leader_attempt_elect(LeaderElectParams("b", ttl))) is not None
    leader = other.run(lambda ex: ex.leader_get_elected_leader())
    assert leader is not None and leader.leader_id == "b"

    handle.run(lambda ex: ex.queue_create_or_set_updated_at(QueueCreateOrSetUpdatedAtParams("q")))
    assert other.run(lambda ex: ex.queue_get("q")) is None
    assert other.run(lambda ex: ex.queue_pause("q")) is False
    other.run(lambda ex: ex.table_truncate(["river_job"]))
    assert handle.run(lambda ex: ex.job_count_by_state(JobState.RUNNING)) == 2
