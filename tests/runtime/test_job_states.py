"""River's job state machine, worked end to end through the AsyncClient on every async driver."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from runtime_helpers import (
    WAIT,
    SyncTaskArgs,
    SyncTaskWorker,
    TaskArgs,
    TaskWorker,
    Tracker,
    make_client,
    running,
    wait_for_job,
)

import river_core as river
from river_core.driver import Driver
from river_core.job import JobState

SLACK = timedelta(milliseconds=300)  # outcome computed a little after the worker's clock read


@dataclass
class OrphanArgs:
    """A kind no worker is registered for."""

    kind: ClassVar[str] = "orphan"


@dataclass
class MisfitTaskArgs:
    """Args of kind `task` that `TaskArgs` cannot decode."""

    unexpected: int = 1
    kind: ClassVar[str] = "task"


async def test_available_running_completed(driver: Driver) -> None:
    """available -> running -> completed, with attempt, attempted_by and finalized_at."""
    tracker = Tracker()
    seen: list[JobState] = []

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        seen.append(job.state)

    client = make_client(driver, TaskWorker(tracker, behaviour))
    inserted = await client.insert(TaskArgs("x"))
    assert inserted.job.state is JobState.AVAILABLE
    assert inserted.job.attempt == 0
    async with running(client):
        await tracker.wait_ended(inserted.job.id)
        row = await wait_for_job(client, inserted.job.id, {JobState.COMPLETED})
    assert seen == [JobState.RUNNING]
    assert row.attempt == 1
    assert row.attempted_by == [client.config.id]
    assert row.attempted_at is not None and row.finalized_at is not None
    assert row.finalized_at >= row.attempted_at
    assert row.errors == []


async def test_error_then_available_then_retryable(driver: Driver) -> None:
    """A first error retries after 1 s +-10% (within the scheduler interval: `available`); a
    second after 16 s +-10% (`retryable`). Each appends an AttemptError."""
    tracker = Tracker()
    fail_times: list[datetime] = []

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        fail_times.append(datetime.now(UTC))
        raise RuntimeError(f"boom {job.attempt}")

    client = make_client(
        driver, TaskWorker(tracker, behaviour), fetch_poll_interval=0.1, scheduler_interval=5.0
    )
    job_id = (await client.insert(TaskArgs())).job.id
    async with running(client):
        first = await tracker.wait_started(job_id)
        await tracker.wait_ended(job_id)
        row = await wait_for_job(client, job_id, {JobState.AVAILABLE, JobState.RETRYABLE}, errors=1)
        assert row.state is JobState.AVAILABLE, "a retry within the scheduler interval"
        assert row.attempt == 1
        assert fail_times[0] + timedelta(seconds=0.9) <= row.scheduled_at
        assert row.scheduled_at <= fail_times[0] + timedelta(seconds=1.1) + SLACK
        (error,) = row.errors
        assert error.attempt == 1
        assert "boom 1" in error.error
        assert "RuntimeError" in error.trace and "boom 1" in error.trace
        assert first.job.attempted_at is not None
        assert first.job.attempted_at - timedelta(seconds=1) <= error.at <= first.at

        second = await tracker.wait_started(job_id, 2, timeout=3)
        assert second.at >= row.scheduled_at - timedelta(milliseconds=50)
        assert second.job.attempt == 2
        assert [e.attempt for e in second.job.errors] == [1]
        await tracker.wait_ended(job_id, 2)
        row = await wait_for_job(client, job_id, {JobState.AVAILABLE, JobState.RETRYABLE}, errors=2)
    assert row.state is JobState.RETRYABLE
    assert row.attempt == 2
    assert fail_times[1] + timedelta(seconds=14.4) <= row.scheduled_at
    assert row.scheduled_at <= fail_times[1] + timedelta(seconds=17.6) + SLACK
    assert [e.attempt for e in row.errors] == [1, 2]
    assert "boom 2" in row.errors[1].error
    assert row.finalized_at is None


async def test_last_attempt_error_discards(driver: Driver) -> None:
    """An error on the last attempt: `discarded`, finalized, error appended."""
    tracker = Tracker()

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        raise ValueError("last straw")

    client = make_client(driver, TaskWorker(tracker, behaviour))
    job_id = (await client.insert(TaskArgs(), river.InsertOpts(max_attempts=1))).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.DISCARDED})
    assert row.attempt == 1
    assert row.finalized_at is not None
    (error,) = row.errors
    assert error.attempt == 1 and "last straw" in error.error
    assert len(tracker.starts_of(job_id)) == 1


async def test_job_cancel_cancels(driver: Driver) -> None:
    """`JobCancel` from `work`: `cancelled`, finalized, the error recorded, no retry."""
    tracker = Tracker()

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        raise river.JobCancel(RuntimeError("not worth it"))

    client = make_client(driver, TaskWorker(tracker, behaviour))
    job_id = (await client.insert(TaskArgs())).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.CANCELLED})
    assert row.finalized_at is not None
    assert row.attempt == 1
    (error,) = row.errors
    assert "not worth it" in error.error
    assert error.attempt == 1


async def test_snooze_short_is_available_without_spending_an_attempt(driver: Driver) -> None:
    """`JobSnooze(0)` twice then success: the job runs three times, every run at attempt 1,
    `snoozes` counts 2, no error is recorded."""
    tracker = Tracker()

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        if len(tracker.starts_of(job.id)) <= 2:
            raise river.JobSnooze(0)

    # A snoozed-available job waits for the next poll, as in River.
    client = make_client(driver, TaskWorker(tracker, behaviour), fetch_poll_interval=0.1)
    job_id = (await client.insert(TaskArgs())).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.COMPLETED})
    runs = tracker.starts_of(job_id)
    assert [r.job.attempt for r in runs] == [1, 1, 1]
    assert [r.job.metadata.get("snoozes") for r in runs] == [None, 1, 2]
    assert row.attempt == 1
    assert row.metadata["snoozes"] == 2
    assert row.errors == []


async def test_snooze_long_is_scheduled(driver: Driver) -> None:
    """A snooze longer than the scheduler interval: `scheduled` at now + duration, attempt
    given back, `snoozes` = 1."""
    tracker = Tracker()
    before: list[datetime] = []

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        before.append(datetime.now(UTC))
        raise river.JobSnooze(timedelta(minutes=10))

    client = make_client(driver, TaskWorker(tracker, behaviour))
    job_id = (await client.insert(TaskArgs())).job.id
    async with running(client):
        await tracker.wait_ended(job_id)
        row = await wait_for_job(client, job_id, {JobState.SCHEDULED})
    assert row.attempt == 0
    assert row.metadata["snoozes"] == 1
    assert row.errors == []
    assert row.finalized_at is None
    delay = row.scheduled_at - before[0]
    assert timedelta(minutes=10) <= delay <= timedelta(minutes=10) + SLACK


async def test_unknown_kind_is_retried_with_an_error(driver: Driver) -> None:
    """A job whose kind no worker handles: error appended naming the kind, `retryable`."""
    client = make_client(
        driver, TaskWorker(Tracker()), scheduler_interval=0.5, fetch_poll_interval=0.5
    )
    # A client with workers refuses to insert unknown kinds; one without workers does not.
    job_id = (await river.AsyncClient(driver).insert(OrphanArgs())).job.id
    async with running(client):
        row = await wait_for_job(
            client, job_id, {JobState.RETRYABLE, JobState.AVAILABLE}, interval=0.005, errors=1
        )
    assert row.state is JobState.RETRYABLE, "a 1 s retry is beyond a 0.5 s scheduler interval"
    assert row.attempt == 1
    (error,) = row.errors
    assert "orphan" in error.error
    assert "UnknownJobKindError" in error.error or "not registered" in error.error


async def test_undecodable_args_error(driver: Driver) -> None:
    """Args the worker's type cannot decode: an error, and `work` is never called."""
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker))
    job_id = (await client.insert(MisfitTaskArgs())).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.AVAILABLE, JobState.RETRYABLE}, errors=1)
    assert row.attempt == 1
    (error,) = row.errors
    assert "unexpected" in error.error
    assert error.trace, "an unexpected exception keeps its traceback"
    assert tracker.starts == []


async def test_worker_next_retry_then_scheduler_makes_it_available(driver: Driver) -> None:
    """A worker's `next_retry` overrides the policy; beyond the scheduler interval the job is
    `retryable`, and the scheduler later makes it `available` and it runs again."""
    tracker = Tracker()
    retry_at: list[datetime] = []

    def choose(job: river.Job[object]) -> datetime:
        retry_at.append(datetime.now(UTC) + timedelta(seconds=0.8))
        return retry_at[-1]

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        if job.attempt == 1:
            raise RuntimeError("once")

    client = make_client(
        driver,
        TaskWorker(tracker, behaviour, retry_at=choose),
        scheduler_interval=0.3,
        fetch_poll_interval=0.1,
    )
    job_id = (await client.insert(TaskArgs())).job.id
    async with running(client):
        row = await wait_for_job(
            client, job_id, {JobState.RETRYABLE, JobState.AVAILABLE}, interval=0.005, errors=1
        )
        assert row.state is JobState.RETRYABLE
        assert row.scheduled_at == retry_at[0]
        second = await tracker.wait_started(job_id, 2, timeout=3)
        assert second.at >= retry_at[0] - timedelta(milliseconds=50)
        row = await wait_for_job(client, job_id, {JobState.COMPLETED})
    assert row.attempt == 2
    assert len(row.errors) == 1


async def test_scheduled_job_becomes_available_and_runs(driver: Driver) -> None:
    """A job inserted for later is `scheduled`; the scheduler makes it `available` in time and
    it runs, not before its `scheduled_at`."""
    tracker = Tracker()
    client = make_client(
        driver, TaskWorker(tracker), scheduler_interval=0.2, fetch_poll_interval=0.1
    )
    at = datetime.now(UTC) + timedelta(seconds=0.6)
    inserted = await client.insert(TaskArgs(), river.InsertOpts(scheduled_at=at))
    assert inserted.job.state is JobState.SCHEDULED
    async with running(client):
        start = await tracker.wait_started(inserted.job.id, timeout=3)
        row = await wait_for_job(client, inserted.job.id, {JobState.COMPLETED})
    assert start.at >= at - timedelta(milliseconds=50)
    assert start.at <= at + timedelta(seconds=1)
    assert row.attempt == 1


async def test_lone_job_starts_at_once(driver: Driver) -> None:
    """On an idle, listening client a new job starts long before the poll interval."""
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker), fetch_poll_interval=30)
    async with running(client):
        warmup = (await client.insert(TaskArgs())).job.id
        await tracker.wait_started(warmup)
        t0 = time.monotonic()
        job_id = (await client.insert(TaskArgs())).job.id
        start = await tracker.wait_started(job_id, timeout=2)
    assert start.monotonic - t0 < 1.0


async def test_sync_worker_runs_in_a_thread_without_blocking_the_loop(driver: Driver) -> None:
    """A plain `def work` runs off the event loop: while it blocks, async jobs still run;
    when it returns, its job completes."""
    tracker = Tracker()
    release = threading.Event()
    threads: list[int] = []

    def blocking(job: river.Job[SyncTaskArgs]) -> None:
        threads.append(threading.get_ident())
        if not release.wait(WAIT):
            raise RuntimeError("never released")

    client = make_client(driver, TaskWorker(tracker), SyncTaskWorker(tracker, blocking))
    try:
        async with running(client):
            sync_id = (await client.insert(SyncTaskArgs())).job.id
            await tracker.wait_started(sync_id)
            async_id = (await client.insert(TaskArgs())).job.id
            await wait_for_job(client, async_id, {JobState.COMPLETED})
            assert tracker.ends_of(sync_id) == []
            release.set()
            row = await wait_for_job(client, sync_id, {JobState.COMPLETED})
    finally:
        release.set()
    assert threads and threads[0] != threading.get_ident()
    assert row.attempt == 1 and row.errors == []
