"""Conformance: inserting, fetching and completing jobs (the hot path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from conformance import PAST, DriverHandle

from river_core.driver import (
    JobCancelParams,
    JobGetAvailableParams,
    JobInsertParams,
    JobSetStateIfRunningParams,
    JobSetStateReason,
)
from river_core.driver.sql_executor import SqlExecutor
from river_core.job import UNIQUE_STATE_BITS, AttemptError, JobState

DEFAULT_UNIQUE_STATES = sum(
    UNIQUE_STATE_BITS[s]
    for s in (
        JobState.AVAILABLE,
        JobState.PENDING,
        JobState.RETRYABLE,
        JobState.RUNNING,
        JobState.SCHEDULED,
    )
)


def _error(attempt: int, message: str = "boom") -> bytes:
    return json.dumps(
        {"at": "2026-01-02T03:04:05.6789Z", "attempt": attempt, "error": message, "trace": "t"}
    ).encode()


def _available(
    queue: str = "default", max_to_lock: int = 10, now: datetime | None = None
) -> JobGetAvailableParams:
    return JobGetAvailableParams("client-1", queue, max_to_lock, now=now)


# -- job_insert_fast_many ------------------------------------------------------------------


def test_insert_fast_many_maps_every_column_in_input_order(handle: DriverHandle) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    params = [
        JobInsertParams(
            kind="email",
            encoded_args=b'{"to":"a@example.com","n":1}',
            queue="mail",
            priority=2,
            max_attempts=5,
            metadata=b'{"m":true}',
            tags=("a", "b-c"),
            created_at=PAST,
            scheduled_at=PAST,
        ),
        JobInsertParams(
            kind="later", encoded_args=b"{}", state=JobState.SCHEDULED, scheduled_at=future
        ),
        JobInsertParams(kind="plain", encoded_args=b'{"x":[1,2]}'),
    ]
    before = handle.run(lambda ex: ex.job_insert_fast_many([]))
    assert before == []
    results = handle.run(lambda ex: ex.job_insert_fast_many(params))

    assert [r.job.kind for r in results] == ["email", "later", "plain"]
    assert not any(r.unique_skipped_as_duplicated for r in results)
    first, second, third = (r.job for r in results)
    assert first.id < second.id < third.id
    assert first.args == {"to": "a@example.com", "n": 1}
    assert json.loads(first.encoded_args) == first.args
    assert first.queue == "mail"
    assert (first.priority, first.max_attempts, first.attempt) == (2, 5, 0)
    assert first.metadata == {"m": True}
    assert first.tags == ["a", "b-c"]
    assert first.created_at == PAST and first.scheduled_at == PAST
    assert first.state is JobState.AVAILABLE
    assert (first.attempted_at, first.finalized_at, first.attempted_by, first.errors) == (
        None,
        None,
        [],
        [],
    )
    assert (first.unique_key, first.unique_states) == (None, None)
    assert second.state is JobState.SCHEDULED and second.scheduled_at == future
    # created_at and scheduled_at default to the database's now(), the same for the statement.
    assert third.created_at == third.scheduled_at
    assert abs(third.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert third.tags == [] and third.metadata == {}
    assert handle.run(lambda ex: ex.job_get_by_id(first.id)) == first


def test_insert_unique_conflict_returns_existing_row_as_skipped(handle: DriverHandle) -> None:
    unique = {"unique_key": b"\x00key\xff", "unique_states": DEFAULT_UNIQUE_STATES}
    (first,) = handle.run(
        lambda ex: ex.job_insert_fast_many([JobInsertParams("u", b'{"v":1}', **unique)])  # type: ignore[arg-type]
    )
    assert not first.unique_skipped_as_duplicated
    assert first.job.unique_key == b"\x00key\xff"
    assert first.job.unique_states == DEFAULT_UNIQUE_STATES

    dup, fresh = handle.run(
        lambda ex: ex.job_insert_fast_many(
            [
                JobInsertParams("u", b'{"v":2}', **unique),  # type: ignore[arg-type]
                JobInsertParams("u", b'{"v":3}', unique_key=b"other", unique_states=1),
            ]
        )
    )
    assert dup.unique_skipped_as_duplicated
    assert dup.job.id == first.job.id and dup.job.args == {"v": 1}
    assert not fresh.unique_skipped_as_duplicated

    # Once the holder leaves the unique states (completed is not in them), the key is free.
    handle.set_columns(first.job.id, state="completed", finalized_at=PAST)
    (again,) = handle.run(
        lambda ex: ex.job_insert_fast_many([JobInsertParams("u", b"{}", **unique)])  # type: ignore[arg-type]
    )
    assert not again.unique_skipped_as_duplicated and again.job.id != first.job.id


def test_insert_unique_states_of_zero_means_not_unique(handle: DriverHandle) -> None:
    job = handle.insert(unique_key=b"k", unique_states=0)
    assert job.unique_states is None
    assert handle.insert(unique_key=b"k", unique_states=0).id != job.id


def test_insert_fast_many_no_returning_counts_rows(handle: DriverHandle) -> None:
    jobs = [JobInsertParams(f"k{i}", b'{"i":%d}' % i, tags=("t",)) for i in range(3)]
    assert handle.run(lambda ex: ex.job_insert_fast_many_no_returning([])) == 0
    assert handle.run(lambda ex: ex.job_insert_fast_many_no_returning(jobs)) == 3
    rows = handle.run(lambda ex: ex.job_get_by_kind_many(["k0", "k1", "k2"]))
    assert [(r.kind, r.args, r.tags, r.state) for r in rows] == [
        (f"k{i}", {"i": i}, ["t"], JobState.AVAILABLE) for i in range(3)
    ]


def test_sql_executor_no_returning_skips_unique_conflicts(
    sync_engine: sa.Engine, migrated_schema: str
) -> None:
    """The base (non-COPY) version skips duplicates, like River's JobInsertFastManyNoReturning."""
    job = JobInsertParams("u", b"{}", unique_key=b"k", unique_states=DEFAULT_UNIQUE_STATES)
    with sync_engine.begin() as conn:
        executor = SqlExecutor(conn, migrated_schema)
        assert executor.job_insert_fast_many_no_returning([job]) == 1
        assert executor.job_insert_fast_many_no_returning([job, JobInsertParams("v", b"{}")]) == 1


# -- job_get_available ---------------------------------------------------------------------


def test_get_available_locks_in_priority_order_and_marks_running(handle: DriverHandle) -> None:
    now = datetime.now(UTC)
    t = [now - timedelta(minutes=m) for m in (3, 2, 1)]
    low_old = handle.insert(priority=2, scheduled_at=t[0])
    high_new = handle.insert(priority=1, scheduled_at=t[2])
    high_old = handle.insert(priority=1, scheduled_at=t[1])
    low_newer = handle.insert(priority=2, scheduled_at=t[2])
    handle.insert(queue="other", scheduled_at=t[0])
    handle.insert(scheduled_at=now + timedelta(minutes=5))  # not due yet
    handle.insert(state=JobState.SCHEDULED, scheduled_at=t[0])  # not available

    got = handle.run(lambda ex: ex.job_get_available(_available(max_to_lock=3, now=now)))
    assert [j.id for j in got] == [high_old.id, high_new.id, low_old.id]
    for job in got:
        assert job.state is JobState.RUNNING
        assert job.attempt == 1
        assert job.attempted_at == now
        assert job.attempted_by == ["client-1"]

    rest = handle.run(lambda ex: ex.job_get_available(_available(now=now)))
    assert [j.id for j in rest] == [low_newer.id]
    assert handle.run(lambda ex: ex.job_get_available(_available(now=now))) == []
    other = handle.run(lambda ex: ex.job_get_available(_available(queue="other")))
    assert len(other) == 1 and other[0].attempted_at is not None


def test_get_available_keeps_the_last_max_attempted_by_clients(handle: DriverHandle) -> None:
    job = handle.insert(scheduled_at=PAST)
    handle.set_columns(job.id, attempted_by=["c1", "c2", "c3", "c4"])
    params = JobGetAvailableParams(
        client_id="c5", queue="default", max_to_lock=1, max_attempted_by=3
    )
    (got,) = handle.run(lambda ex: ex.job_get_available(params))
    assert got.attempted_by == ["c3", "c4", "c5"]


def test_get_available_skips_rows_locked_by_another_transaction(
    handle: DriverHandle, sync_engine: sa.Engine
) -> None:
    jobs = [handle.insert(scheduled_at=PAST) for _ in range(4)]
    with sync_engine.begin() as conn:
        locked = SqlExecutor(conn, handle.schema).job_get_available(_available(max_to_lock=2))
        assert [j.id for j in locked] == [jobs[0].id, jobs[1].id]
        others = handle.run(lambda ex: ex.job_get_available(_available()))
        assert [j.id for j in others] == [jobs[2].id, jobs[3].id]


# -- job_set_state_if_running_many ---------------------------------------------------------


def _running(handle: DriverHandle, count: int) -> list[int]:
    for _ in range(count):
        handle.insert(scheduled_at=PAST)
    got = handle.run(lambda ex: ex.job_get_available(_available(max_to_lock=count)))
    return [job.id for job in got]


def test_set_state_writes_a_batch_of_outcomes(handle: DriverHandle) -> None:
    completed, errored, snoozed, discarded = _running(handle, 4)
    later = datetime.now(UTC) + timedelta(minutes=10)
    outcomes = [
        JobSetStateIfRunningParams(
            id=snoozed,
            state=JobState.SCHEDULED,
            reason=JobSetStateReason.SNOOZED,
            attempt=0,
            scheduled_at=later,
            metadata_updates=b'{"snoozes":1}',
        ),
        JobSetStateIfRunningParams(
            id=completed,
            state=JobState.COMPLETED,
            reason=JobSetStateReason.COMPLETED,
            finalized_at=PAST,
            metadata_updates=b'{"output":{"ok":true}}',
        ),
        JobSetStateIfRunningParams(
            id=errored,
            state=JobState.RETRYABLE,
            reason=JobSetStateReason.FAILED,
            error=_error(1),
            scheduled_at=later,
        ),
        JobSetStateIfRunningParams(
            id=discarded,
            state=JobState.DISCARDED,
            reason=JobSetStateReason.FAILED,
            error=_error(1, "last"),
            finalized_at=PAST,
        ),
        JobSetStateIfRunningParams(  # no such job: ignored
            id=10**12, state=JobState.COMPLETED, reason=JobSetStateReason.COMPLETED
        ),
    ]
    rows = handle.run(lambda ex: ex.job_set_state_if_running_many(outcomes))
    assert [r.id for r in rows] == sorted([completed, errored, snoozed, discarded])
    by_id = {r.id: r for r in rows}

    assert by_id[completed].state is JobState.COMPLETED
    assert by_id[completed].finalized_at == PAST
    assert by_id[completed].metadata == {"output": {"ok": True}}
    assert by_id[completed].attempt == 1

    assert by_id[errored].state is JobState.RETRYABLE
    assert by_id[errored].scheduled_at == later
    assert by_id[errored].finalized_at is None
    assert by_id[errored].errors == [
        AttemptError(
            at=datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC), attempt=1, error="boom", trace="t"
        )
    ]

    assert by_id[snoozed].state is JobState.SCHEDULED
    assert by_id[snoozed].attempt == 0
    assert by_id[snoozed].scheduled_at == later
    assert by_id[snoozed].metadata == {"snoozes": 1}

    assert by_id[discarded].state is JobState.DISCARDED
    assert [e.error for e in by_id[discarded].errors] == ["last"]
    assert handle.run(lambda ex: ex.job_set_state_if_running_many([])) == []


def test_set_state_appends_errors(handle: DriverHandle) -> None:
    (job_id,) = _running(handle, 1)
    for attempt in (1, 2):
        outcome = JobSetStateIfRunningParams(
            id=job_id,
            state=JobState.AVAILABLE if attempt == 1 else JobState.RETRYABLE,
            reason=JobSetStateReason.FAILED,
            error=_error(attempt, f"e{attempt}"),
            scheduled_at=PAST,
        )
        (row,) = handle.run(lambda ex, o=outcome: ex.job_set_state_if_running_many([o]))
        if attempt == 1:
            handle.run(lambda ex: ex.job_get_available(_available()))
    assert [(e.attempt, e.error) for e in row.errors] == [(1, "e1"), (2, "e2")]


def test_set_state_leaves_jobs_no_longer_running_but_merges_metadata(handle: DriverHandle) -> None:
    job = handle.insert(metadata=b'{"keep":1}')
    untouched, merged = handle.run(
        lambda ex: (
            ex.job_set_state_if_running_many(
                [
                    JobSetStateIfRunningParams(
                        id=job.id,
                        state=JobState.COMPLETED,
                        reason=JobSetStateReason.COMPLETED,
                        finalized_at=PAST,
                    ),
                ]
            )
            + ex.job_set_state_if_running_many(
                [
                    JobSetStateIfRunningParams(
                        id=job.id,
                        state=JobState.COMPLETED,
                        reason=JobSetStateReason.COMPLETED,
                        finalized_at=PAST,
                        error=_error(1),
                        attempt=7,
                        scheduled_at=PAST,
                        metadata_updates=b'{"output":2}',
                    ),
                ]
            )
        )
    )
    assert untouched == job
    assert merged.state is JobState.AVAILABLE and merged.finalized_at is None
    assert merged.errors == [] and merged.attempt == 0 and merged.scheduled_at == job.scheduled_at
    assert merged.metadata == {"keep": 1, "output": 2}


def test_set_state_retry_of_a_cancel_requested_job_becomes_cancelled(
    handle: DriverHandle,
) -> None:
    retried, scheduled, completed = _running(handle, 3)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for job_id in (retried, scheduled, completed):
        handle.run(
            lambda ex, i=job_id: ex.job_cancel(JobCancelParams(id=i, cancel_attempted_at=now))
        )
    later = datetime.now(UTC) + timedelta(hours=1)
    rows = handle.run(
        lambda ex: ex.job_set_state_if_running_many(
            [
                JobSetStateIfRunningParams(
                    id=retried,
                    state=JobState.RETRYABLE,
                    reason=JobSetStateReason.FAILED,
                    error=_error(1),
                    scheduled_at=later,
                    attempt=5,
                ),
                JobSetStateIfRunningParams(
                    id=scheduled,
                    state=JobState.SCHEDULED,
                    reason=JobSetStateReason.SNOOZED,
                    scheduled_at=later,
                    attempt=0,
                ),
                JobSetStateIfRunningParams(
                    id=completed,
                    state=JobState.COMPLETED,
                    reason=JobSetStateReason.COMPLETED,
                    finalized_at=PAST,
                ),
            ],
            now=now,
        )
    )
    by_id = {r.id: r for r in rows}
    for job_id in (retried, scheduled):
        row = by_id[job_id]
        assert row.state is JobState.CANCELLED
        assert row.finalized_at == now
        assert row.attempt == 1  # not overwritten
        assert row.scheduled_at != later
    assert len(by_id[retried].errors) == 1  # the attempt's error is still recorded
    assert by_id[completed].state is JobState.COMPLETED and by_id[completed].finalized_at == PAST


# -- reads ---------------------------------------------------------------------------------


def test_get_by_id_and_kind(handle: DriverHandle) -> None:
    a = handle.insert(kind="a")
    b = handle.insert(kind="b")
    c = handle.insert(kind="a")
    assert handle.run(lambda ex: ex.job_get_by_id(b.id)) == b
    assert handle.run(lambda ex: ex.job_get_by_id(10**12)) is None
    many = handle.run(lambda ex: ex.job_get_by_id_many([c.id, a.id, 10**12]))
    assert [j.id for j in many] == [a.id, c.id]
    assert handle.run(lambda ex: ex.job_get_by_id_many([])) == []
    assert [j.id for j in handle.run(lambda ex: ex.job_get_by_kind_many(["a"]))] == [a.id, c.id]
    assert handle.run(lambda ex: ex.job_get_by_kind_many(["zzz"])) == []
