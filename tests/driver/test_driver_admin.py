"""Conformance: listing, cancelling, retrying, deleting, rescuing and scheduling jobs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conformance import PAST, DriverHandle, Listening

from river_core.driver import (
    TOPIC_CONTROL,
    JobCancelParams,
    JobDeleteBeforeParams,
    JobGetStuckParams,
    JobKindListParams,
    JobListOrderBy,
    JobListParams,
    JobRescueParams,
    JobScheduleParams,
    JobUpdateParams,
)
from river_core.errors import JobRunningError
from river_core.job import UNIQUE_STATE_BITS, JobRow, JobState

NOW = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def _finalized(handle: DriverHandle, state: JobState, at: datetime, **fields: object) -> JobRow:
    job = handle.insert(**fields)
    return handle.set_columns(job.id, state=state.value, finalized_at=at)


def _running(handle: DriverHandle, **fields: object) -> JobRow:
    job = handle.insert(**fields)
    return handle.set_columns(job.id, state="running", attempt=1, attempted_at=PAST)


# -- job_list ------------------------------------------------------------------------------


def test_list_filters(handle: DriverHandle) -> None:
    a = handle.insert(kind="a", queue="q1", priority=1, tags=("x", "y"), metadata=b'{"m":{"n":1}}')
    b = handle.insert(kind="b", queue="q2", priority=2, tags=("y",))
    c = handle.insert(kind="a", queue="q2", priority=3, state=JobState.PENDING)

    def ids(**filters: object) -> list[int]:
        params = JobListParams(**filters)  # type: ignore[arg-type]
        return [job.id for job in handle.run(lambda ex: ex.job_list(params))]

    assert ids() == [a.id, b.id, c.id]
    assert ids(max=2) == [a.id, b.id]
    assert ids(ids=[c.id, a.id]) == [a.id, c.id]
    assert ids(kinds=["a"]) == [a.id, c.id]
    assert ids(queues=["q2"]) == [b.id, c.id]
    assert ids(states=[JobState.PENDING]) == [c.id]
    assert ids(states=[JobState.AVAILABLE, JobState.PENDING]) == [a.id, b.id, c.id]
    assert ids(priorities=[2, 3]) == [b.id, c.id]
    assert ids(tags=["x", "nope"]) == [a.id]
    assert ids(tags=["y"]) == [a.id, b.id]
    assert ids(metadata={"m": {"n": 1}}) == [a.id]
    assert ids(metadata={"m": {"n": 2}}) == []
    assert ids(kinds=["a"], queues=["q2"], priorities=[3]) == [c.id]
    assert ids(ids=[]) == []
    assert ids(descending=True) == [c.id, b.id, a.id]


def test_list_orders_by_a_column_then_id_with_a_keyset_cursor(handle: DriverHandle) -> None:
    times = [PAST + timedelta(minutes=m) for m in (2, 1, 1, 3)]
    jobs = [handle.insert(scheduled_at=t) for t in times]
    expected = sorted(jobs, key=lambda j: (j.scheduled_at, j.id))

    order = JobListOrderBy.SCHEDULED_AT
    page1 = handle.run(lambda ex: ex.job_list(JobListParams(max=2, order_by=order)))
    assert [j.id for j in page1] == [j.id for j in expected[:2]]
    after = (page1[-1].scheduled_at, page1[-1].id)
    page2 = handle.run(lambda ex: ex.job_list(JobListParams(max=2, order_by=order, after=after)))
    assert [j.id for j in page2] == [j.id for j in expected[2:]]

    desc = JobListParams(order_by=order, descending=True)
    listed = handle.run(lambda ex: ex.job_list(desc))
    assert [j.id for j in listed] == [j.id for j in reversed(expected)]
    last = listed[1]
    after_desc = JobListParams(order_by=order, descending=True, after=(last.scheduled_at, last.id))
    rest = handle.run(lambda ex: ex.job_list(after_desc))
    assert [j.id for j in rest] == [j.id for j in reversed(expected)][2:]

    by_id = JobListParams(after=(jobs[1].id, jobs[1].id))
    assert [j.id for j in handle.run(lambda ex: ex.job_list(by_id))] == [jobs[2].id, jobs[3].id]


def test_list_orders_by_finalized_at(handle: DriverHandle) -> None:
    late = _finalized(handle, JobState.COMPLETED, PAST + timedelta(hours=1))
    early = _finalized(handle, JobState.DISCARDED, PAST)
    params = JobListParams(
        order_by=JobListOrderBy.FINALIZED_AT,
        states=[JobState.COMPLETED, JobState.DISCARDED],
    )
    assert [j.id for j in handle.run(lambda ex: ex.job_list(params))] == [early.id, late.id]


# -- job_cancel ----------------------------------------------------------------------------


def test_cancel_running_job_marks_it_and_notifies_its_client(
    handle: DriverHandle, listening: Listening, notification_payloads: dict[str, Any]
) -> None:
    job = _running(handle, queue="priority")
    listening.listen(handle.schema, TOPIC_CONTROL)
    params = JobCancelParams(id=job.id, cancel_attempted_at=NOW)
    cancelled = handle.run(lambda ex: ex.job_cancel(params))

    assert cancelled is not None
    assert cancelled.state is JobState.RUNNING and cancelled.finalized_at is None
    assert cancelled.metadata == {"cancel_attempted_at": "2025-03-04T05:06:07.89Z"}
    ((channel, payload),) = listening.received(1)
    assert channel == f"{handle.schema}.{TOPIC_CONTROL}"
    expected = {**notification_payloads["cancel"], "job_id": job.id}
    assert json.loads(payload) == expected


def test_cancel_job_that_is_not_running_cancels_it_at_once(
    handle: DriverHandle, listening: Listening
) -> None:
    available = handle.insert(metadata=b'{"a":1}')
    scheduled = handle.insert(state=JobState.SCHEDULED, scheduled_at=NOW + timedelta(days=1))
    listening.listen(handle.schema, TOPIC_CONTROL)
    for job in (available, scheduled):
        params = JobCancelParams(id=job.id, cancel_attempted_at=NOW, now=NOW)
        cancelled = handle.run(lambda ex, p=params: ex.job_cancel(p))
        assert cancelled is not None
        assert cancelled.state is JobState.CANCELLED
        assert cancelled.finalized_at == NOW
        assert cancelled.metadata["cancel_attempted_at"] == "2025-03-04T05:06:07.89Z"
    assert cancelled.metadata == {"cancel_attempted_at": "2025-03-04T05:06:07.89Z"}
    assert handle.run(lambda ex: ex.job_get_by_id(available.id)).metadata["a"] == 1  # type: ignore[union-attr]
    assert len(listening.received(2)) == 2  # River notifies for every job it cancels


def test_cancel_finalized_or_missing_job_changes_nothing(
    handle: DriverHandle, listening: Listening
) -> None:
    done = _finalized(handle, JobState.COMPLETED, PAST)
    listening.listen(handle.schema, TOPIC_CONTROL)
    unchanged = handle.run(
        lambda ex: ex.job_cancel(JobCancelParams(id=done.id, cancel_attempted_at=NOW))
    )
    assert unchanged == done
    missing = JobCancelParams(id=10**12, cancel_attempted_at=NOW)
    assert handle.run(lambda ex: ex.job_cancel(missing)) is None
    assert listening.received(0) == []


# -- job_retry -----------------------------------------------------------------------------


def test_retry_makes_a_finalized_job_available_now(handle: DriverHandle) -> None:
    job = _finalized(handle, JobState.DISCARDED, PAST, max_attempts=3)
    job = handle.set_columns(job.id, attempt=3)
    retried = handle.run(lambda ex: ex.job_retry(job.id, now=NOW))
    assert retried is not None
    assert retried.state is JobState.AVAILABLE
    assert retried.scheduled_at == NOW
    assert retried.finalized_at is None
    assert retried.max_attempts == 4  # one more attempt when all were used
    assert retried.attempt == 3

    other = _finalized(handle, JobState.CANCELLED, PAST, max_attempts=3)
    assert handle.run(lambda ex: ex.job_retry(other.id, now=NOW)).max_attempts == 3  # type: ignore[union-attr]


def test_retry_leaves_running_and_due_available_jobs_alone(handle: DriverHandle) -> None:
    running = _running(handle)
    assert handle.run(lambda ex: ex.job_retry(running.id, now=NOW)) == running
    due = handle.insert(scheduled_at=PAST)
    assert handle.run(lambda ex: ex.job_retry(due.id, now=NOW)) == due
    future = handle.insert(state=JobState.SCHEDULED, scheduled_at=NOW + timedelta(days=1))
    retried = handle.run(lambda ex: ex.job_retry(future.id, now=NOW))
    assert retried is not None
    assert (retried.state, retried.scheduled_at) == (JobState.AVAILABLE, NOW)
    assert handle.run(lambda ex: ex.job_retry(10**12)) is None


# -- job_delete, job_delete_many, job_delete_before ----------------------------------------


def test_delete_refuses_running_jobs(handle: DriverHandle) -> None:
    job = handle.insert()
    assert handle.run(lambda ex: ex.job_delete(job.id)) == job
    assert handle.run(lambda ex: ex.job_get_by_id(job.id)) is None
    assert handle.run(lambda ex: ex.job_delete(job.id)) is None

    running = _running(handle)
    with pytest.raises(JobRunningError) as raised:
        handle.run(lambda ex: ex.job_delete(running.id))
    assert raised.value.job_id == running.id
    assert handle.run(lambda ex: ex.job_get_by_id(running.id)) == running


def test_delete_many_skips_running_jobs(handle: DriverHandle) -> None:
    a = handle.insert(kind="a")
    _running(handle, kind="a")
    b = handle.insert(kind="b")
    c = handle.insert(kind="a", state=JobState.SCHEDULED, scheduled_at=NOW + timedelta(days=1))
    deleted = handle.run(lambda ex: ex.job_delete_many(JobListParams(kinds=["a"], descending=True)))
    assert [j.id for j in deleted] == [c.id, a.id]
    assert deleted[1] == a
    remaining = handle.run(lambda ex: ex.job_list(JobListParams()))
    assert [j.kind for j in remaining] == ["a", "b"] and remaining[1].id == b.id
    assert remaining[0].state is JobState.RUNNING
    one = handle.run(lambda ex: ex.job_delete_many(JobListParams(max=1)))
    assert [j.id for j in one] == [b.id]


def test_delete_before_uses_a_horizon_per_state(handle: DriverHandle) -> None:
    horizon = PAST + timedelta(hours=1)
    old = {s: _finalized(handle, s, PAST) for s in (JobState.CANCELLED, JobState.COMPLETED)}
    old_discarded = _finalized(handle, JobState.DISCARDED, PAST)
    recent = _finalized(handle, JobState.COMPLETED, horizon + timedelta(minutes=1))
    handle.insert()  # not finalized

    assert handle.run(lambda ex: ex.job_delete_before(JobDeleteBeforeParams(max=100))) == 0
    params = JobDeleteBeforeParams(
        max=100,
        cancelled_finalized_at_horizon=horizon,
        completed_finalized_at_horizon=horizon,
        discarded_finalized_at_horizon=None,  # kept forever
    )
    assert handle.run(lambda ex: ex.job_delete_before(params)) == 2
    left = {j.id for j in handle.run(lambda ex: ex.job_list(JobListParams()))}
    assert not {j.id for j in old.values()} & left
    assert {old_discarded.id, recent.id} <= left


def test_delete_before_limits_and_filters_queues(handle: DriverHandle) -> None:
    jobs = [_finalized(handle, JobState.COMPLETED, PAST, queue=q) for q in ("a", "a", "b", "c")]
    horizon = PAST + timedelta(seconds=1)

    def delete(**kw: object) -> int:
        params = JobDeleteBeforeParams(completed_finalized_at_horizon=horizon, **kw)  # type: ignore[arg-type]
        return handle.run(lambda ex: ex.job_delete_before(params))

    assert delete(max=1, queues_included=["a"]) == 1
    assert handle.run(lambda ex: ex.job_get_by_id(jobs[0].id)) is None  # lowest id first
    assert delete(max=10, queues_excluded=["a", "b"]) == 1
    assert delete(max=10, queues_included=["a", "b"], queues_excluded=["b"]) == 1
    remaining = handle.run(lambda ex: ex.job_list(JobListParams()))
    assert [j.id for j in remaining] == [jobs[2].id]


# -- job_get_stuck, job_rescue_many --------------------------------------------------------


def test_get_stuck_pages_running_jobs_attempted_before_the_horizon(handle: DriverHandle) -> None:
    stuck = [_running(handle) for _ in range(3)]
    fresh = _running(handle)
    handle.set_columns(fresh.id, attempted_at=NOW)
    handle.insert()

    def get(**kw: object) -> list[int]:
        params = JobGetStuckParams(stuck_horizon=PAST + timedelta(seconds=1), **kw)  # type: ignore[arg-type]
        return [j.id for j in handle.run(lambda ex: ex.job_get_stuck(params))]

    assert get(max=10) == [j.id for j in stuck]
    assert get(max=1) == [stuck[0].id]
    assert get(max=10, after_id=stuck[0].id) == [stuck[1].id, stuck[2].id]


def test_rescue_many_retries_or_discards_and_counts_rescues(handle: DriverHandle) -> None:
    retried = _running(handle)
    discarded = _running(handle, metadata=b'{"river:rescue_count":2,"x":1}')
    odd = _running(handle, metadata=b'{"river:rescue_count":"two"}')
    error = json.dumps({"at": "2025-01-01T00:00:00Z", "attempt": 1, "error": "stuck"}).encode()
    params = [
        JobRescueParams(id=retried.id, error=error, state=JobState.RETRYABLE, scheduled_at=NOW),
        JobRescueParams(
            id=discarded.id,
            error=error,
            state=JobState.DISCARDED,
            scheduled_at=PAST,
            finalized_at=NOW,
        ),
        JobRescueParams(id=odd.id, error=error, state=JobState.AVAILABLE, scheduled_at=NOW),
    ]
    horizon = PAST + timedelta(seconds=1)
    assert handle.run(lambda ex: ex.job_rescue_many([], horizon)) == 0
    assert handle.run(lambda ex: ex.job_rescue_many(params, horizon)) == 3
    rows = {j.id: j for j in handle.run(lambda ex: ex.job_list(JobListParams()))}

    assert rows[retried.id].state is JobState.RETRYABLE
    assert rows[retried.id].scheduled_at == NOW and rows[retried.id].finalized_at is None
    assert rows[retried.id].metadata == {"river:rescue_count": 1}
    assert [e.error for e in rows[retried.id].errors] == ["stuck"]
    assert rows[discarded.id].state is JobState.DISCARDED
    assert rows[discarded.id].finalized_at == NOW
    assert rows[discarded.id].metadata == {"river:rescue_count": 3, "x": 1}
    assert rows[odd.id].metadata == {"river:rescue_count": 1}


# -- job_schedule --------------------------------------------------------------------------


def test_schedule_makes_due_jobs_available_in_order(handle: DriverHandle) -> None:
    before, after = NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)
    j1 = handle.insert(state=JobState.RETRYABLE, scheduled_at=before)
    j2 = handle.insert(state=JobState.SCHEDULED, scheduled_at=before)
    j3 = handle.insert(state=JobState.SCHEDULED, scheduled_at=before)
    handle.insert(state=JobState.AVAILABLE, scheduled_at=before)
    handle.insert(state=JobState.RETRYABLE, scheduled_at=after)
    handle.insert(state=JobState.SCHEDULED, scheduled_at=after)

    first = handle.run(lambda ex: ex.job_schedule(JobScheduleParams(max=2, now=NOW)))
    assert [(r.job.id, r.conflict_discarded) for r in first] == [(j1.id, False), (j2.id, False)]
    assert all(r.job.state is JobState.AVAILABLE for r in first)
    second = handle.run(lambda ex: ex.job_schedule(JobScheduleParams(max=2, now=NOW)))
    assert [r.job.id for r in second] == [j3.id]
    assert handle.run(lambda ex: ex.job_schedule(JobScheduleParams(max=2, now=NOW))) == []


def _bits(*states: JobState) -> int:
    return sum(UNIQUE_STATE_BITS[s] for s in states)


NON_RETRYABLE_UNIQUE = _bits(
    JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.SCHEDULED
)


def test_schedule_discards_unique_conflicts(handle: DriverHandle) -> None:
    before = NOW - timedelta(minutes=1)

    def retryable(key: bytes, states: int = NON_RETRYABLE_UNIQUE) -> JobRow:
        return handle.insert(
            state=JobState.RETRYABLE, scheduled_at=before, unique_key=key, unique_states=states
        )

    conflicted = retryable(b"k1")
    free = retryable(b"k2")
    alone = retryable(b"k3", _bits(JobState.AVAILABLE, JobState.RETRYABLE, JobState.SCHEDULED))
    twin_first, twin_second = retryable(b"k4"), retryable(b"k4")
    holder = handle.insert(unique_key=b"k1", unique_states=NON_RETRYABLE_UNIQUE)
    handle.set_columns(holder.id, state="running")
    finished = handle.insert(unique_key=b"k2", unique_states=NON_RETRYABLE_UNIQUE)
    handle.set_columns(finished.id, state="completed", finalized_at=PAST)

    results = handle.run(lambda ex: ex.job_schedule(JobScheduleParams(max=100, now=NOW)))
    by_id = {r.job.id: r for r in results}
    assert set(by_id) == {conflicted.id, free.id, alone.id, twin_first.id, twin_second.id}
    for job in (conflicted, twin_second):
        result = by_id[job.id]
        assert result.conflict_discarded
        assert result.job.state is JobState.DISCARDED
        assert result.job.finalized_at == NOW
        assert result.job.metadata == {"unique_key_conflict": "scheduler_discarded"}
    for job in (free, alone, twin_first):
        result = by_id[job.id]
        assert not result.conflict_discarded
        assert result.job.state is JobState.AVAILABLE
        assert result.job.metadata == {} and result.job.finalized_at is None


# -- job_update, counts, kinds -------------------------------------------------------------


def test_update_merges_metadata(handle: DriverHandle) -> None:
    job = handle.insert(metadata=b'{"a":1,"b":{"c":2}}')
    merged = handle.run(
        lambda ex: ex.job_update(JobUpdateParams(id=job.id, metadata=b'{"b":3,"d":4}'))
    )
    assert merged is not None and merged.metadata == {"a": 1, "b": 3, "d": 4}
    same = handle.run(
        lambda ex: ex.job_update(
            JobUpdateParams(id=job.id, metadata=b'{"z":0}', metadata_do_merge=False)
        )
    )
    assert same == merged
    assert handle.run(lambda ex: ex.job_update(JobUpdateParams(id=10**12))) is None


def test_counts_by_state(handle: DriverHandle) -> None:
    handle.insert()
    handle.insert()
    handle.insert(state=JobState.PENDING)
    _finalized(handle, JobState.COMPLETED, PAST)
    assert handle.run(lambda ex: ex.job_count_by_state(JobState.AVAILABLE)) == 2
    assert handle.run(lambda ex: ex.job_count_by_state(JobState.RUNNING)) == 0
    counts = handle.run(lambda ex: ex.job_count_by_all_states())
    assert counts == {
        **dict.fromkeys(JobState, 0),
        JobState.AVAILABLE: 2,
        JobState.PENDING: 1,
        JobState.COMPLETED: 1,
    }


def test_kind_list(handle: DriverHandle) -> None:
    for kind in ("send_email", "Send_SMS", "resize", "send_email", "zip"):
        handle.insert(kind=kind)

    def kinds(**kw: object) -> list[str]:
        params = JobKindListParams(**kw)  # type: ignore[arg-type]
        return handle.run(lambda ex: ex.job_kind_list(params))

    assert kinds() == ["Send_SMS", "resize", "send_email", "zip"]
    assert kinds(max=2) == ["Send_SMS", "resize"]
    assert kinds(match="send") == ["Send_SMS", "send_email"]
    assert kinds(after="resize") == ["send_email", "zip"]
    assert kinds(exclude=["zip", "resize"]) == ["Send_SMS", "send_email"]
    assert kinds(match="e", after="Send_SMS", exclude=["send_email"]) == ["resize"]
