"""Job timeouts (async and sync) and remote cancellation of running jobs."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from runtime_helpers import (
    WAIT,
    DriverFactory,
    SyncTaskArgs,
    SyncTaskWorker,
    TaskArgs,
    TaskWorker,
    Tracker,
    make_client,
    running,
    wait_flag,
    wait_for_job,
)

import river_core as river
from river_core.driver import Driver
from river_core.job import JobState

RETRY_STATES = {JobState.AVAILABLE, JobState.RETRYABLE}


async def _forever(job: river.Job[TaskArgs]) -> None:
    """A job that runs until it is cancelled."""
    await asyncio.sleep(60)


async def test_async_job_cancelled_at_client_timeout(driver: Driver) -> None:
    """An async job still running at `job_timeout` is cancelled: JobTimeoutError, retried."""
    tracker = Tracker()
    client = make_client(
        driver, TaskWorker(tracker, _forever), job_timeout=0.2, scheduler_interval=0.5
    )
    job_id = (await client.insert(TaskArgs())).job.id
    async with running(client):
        start = await tracker.wait_started(job_id)
        assert await tracker.wait_ended(job_id) == "cancelled"
        ended = time.monotonic()
        row = await wait_for_job(client, job_id, RETRY_STATES, interval=0.005, errors=1)
    assert 0.2 <= ended - start.monotonic < 2.0
    assert row.state is JobState.RETRYABLE, "a 1 s retry is beyond a 0.5 s scheduler interval"
    assert row.attempt == 1
    (error,) = row.errors
    assert "JobTimeoutError" in error.error and "0.2" in error.error
    assert error.attempt == 1


async def test_worker_timeout_overrides_the_client(driver: Driver) -> None:
    """A worker's own `timeout` wins: 0.1 s under a 60 s client timeout cancels; 0 (none)
    under a 0.1 s client timeout lets a 0.3 s job complete."""
    tracker = Tracker()

    async def slow(job: river.Job[TaskArgs]) -> None:
        await asyncio.sleep(0.3)

    short = make_client(driver, TaskWorker(tracker, _forever, timeout=0.1), job_timeout=60)
    job_id = (await short.insert(TaskArgs())).job.id
    async with running(short):
        row = await wait_for_job(short, job_id, RETRY_STATES, errors=1)
    assert "JobTimeoutError" in row.errors[0].error and "0.1" in row.errors[0].error

    unlimited = make_client(driver, TaskWorker(tracker, slow, timeout=0), job_timeout=0.1)
    job_id = (await unlimited.insert(TaskArgs())).job.id
    async with running(unlimited):
        assert await tracker.wait_ended(job_id) == "returned"
        row = await wait_for_job(unlimited, job_id, {JobState.COMPLETED})
    assert row.errors == []


async def test_sync_job_told_to_stop_at_timeout(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """A sync job at its timeout sees `should_stop()`, a warning names it, and its outcome is
    written only when its thread returns (the row stays `running` until then)."""
    tracker = Tracker()
    told = threading.Event()
    release = threading.Event()

    def behaviour(job: river.Job[SyncTaskArgs]) -> None:
        if wait_flag(job):
            told.set()
            tracker.poke()
        release.wait(WAIT)
        raise RuntimeError("gave up after being told to stop")

    client = make_client(driver, SyncTaskWorker(tracker, behaviour), job_timeout=0.2)
    job_id = (await client.insert(SyncTaskArgs())).job.id
    caplog.set_level(logging.WARNING, logger="river")
    try:
        async with running(client):
            await tracker.wait(told.is_set, "the sync job to see should_stop()")
            await tracker.wait(
                lambda: any(str(job_id) in r.getMessage() for r in caplog.records),
                "a warning naming the timed-out job",
            )
            await asyncio.sleep(0.2)  # longer than a completer flush
            row = await client.job_get(job_id)
            assert row.state is JobState.RUNNING, "no outcome before the thread returns"
            release.set()
            row = await wait_for_job(client, job_id, RETRY_STATES, errors=1)
    finally:
        release.set()
    (error,) = row.errors
    assert "gave up after being told to stop" in error.error
    assert tracker.ends_of(job_id) == ["raised RuntimeError"]
    (record,) = [r for r in caplog.records if str(job_id) in r.getMessage()]
    assert record.levelno == logging.WARNING and "timeout" in record.getMessage()


@pytest.mark.parametrize("via", ["same_client", "other_client"])
async def test_remote_cancel_of_running_async_job(make_driver: DriverFactory, via: str) -> None:
    """`job_cancel` of a running async job cancels its task: `cancelled`, with River's error.
    From another client it travels by a control notification."""
    tracker = Tracker()
    worker_client = make_client(make_driver(), TaskWorker(tracker, _forever))
    canceller = worker_client if via == "same_client" else river.AsyncClient(make_driver())
    job_id = (await worker_client.insert(TaskArgs())).job.id
    async with running(worker_client):
        await tracker.wait_started(job_id)
        row = await canceller.job_cancel(job_id)
        assert row.state is JobState.RUNNING  # the running client finishes the cancellation
        assert await tracker.wait_ended(job_id) == "cancelled"
        row = await wait_for_job(worker_client, job_id, {JobState.CANCELLED, *RETRY_STATES})
    assert row.state is JobState.CANCELLED
    assert row.finalized_at is not None
    (error,) = row.errors
    assert error.error == "JobCancelError: job cancelled remotely"
    assert "cancel_attempted_at" in row.metadata


async def test_remote_cancel_of_running_sync_job_sets_its_flag(make_driver: DriverFactory) -> None:
    """A remotely cancelled sync job sees `should_stop()`; when it then fails, the job ends
    `cancelled` (River turns the error of a remotely cancelled job into the cancellation)."""
    tracker = Tracker()

    def behaviour(job: river.Job[SyncTaskArgs]) -> None:
        if not wait_flag(job):
            raise AssertionError("should_stop() never became true")
        raise RuntimeError("stopping as asked")

    worker_client = make_client(make_driver(), SyncTaskWorker(tracker, behaviour))
    other = river.AsyncClient(make_driver())
    job_id = (await worker_client.insert(SyncTaskArgs())).job.id
    async with running(worker_client):
        await tracker.wait_started(job_id)
        await other.job_cancel(job_id)
        assert await tracker.wait_ended(job_id) == "raised RuntimeError"
        row = await wait_for_job(
            worker_client, job_id, {JobState.CANCELLED, *RETRY_STATES}, errors=1
        )
    assert row.state is JobState.CANCELLED
    assert row.finalized_at is not None
    assert row.errors[0].error == "JobCancelError: job cancelled remotely"
    assert len(tracker.starts_of(job_id)) == 1


async def test_remote_cancel_before_the_job_task_runs(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel landing between the fetch and the first step of the job's task (a control
    notification dispatched in that window) still ends the job `cancelled`, frees its slot,
    and does not hang the stop."""
    from river_core.runtime.producer import Producer

    original = Producer._start_job

    def start_then_cancel(self: Producer, row: river.JobRow) -> None:
        original(self, row)
        if row.args.get("name") == "doomed":
            self.cancel_job(row.id)

    monkeypatch.setattr(Producer, "_start_job", start_then_cancel)
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker), max_workers=1, fetch_poll_interval=0.1)
    doomed = (await client.insert(TaskArgs("doomed"))).job.id
    async with running(client):
        row = await wait_for_job(client, doomed, {JobState.CANCELLED, *RETRY_STATES}, errors=1)
        assert row.state is JobState.CANCELLED
        assert row.errors[0].error == "JobCancelError: job cancelled remotely"
        later = (await client.insert(TaskArgs("later"))).job.id
        await tracker.wait_started(later)  # the only slot was given back
        await asyncio.wait_for(client.stop(), WAIT)
    assert tracker.starts_of(doomed) == []


async def test_sync_timeout_counts_from_when_the_thread_starts(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """With one worker thread, a sync job waiting for the thread is not timing out: two
    0.25 s jobs under a 0.4 s timeout both complete, neither told to stop."""
    tracker = Tracker()
    told: list[int] = []

    def behaviour(job: river.Job[SyncTaskArgs]) -> None:
        time.sleep(0.25)
        if job.should_stop():
            told.append(job.id)

    caplog.set_level(logging.WARNING, logger="river")
    client = make_client(
        driver, SyncTaskWorker(tracker, behaviour), job_timeout=0.4, sync_worker_threads=1
    )
    ids = [r.job.id for r in await client.insert_many([SyncTaskArgs("a"), SyncTaskArgs("b")])]
    async with running(client):
        for job_id in ids:
            assert await tracker.wait_ended(job_id) == "returned"
            await wait_for_job(client, job_id, {JobState.COMPLETED})
    assert told == []
    assert not [r for r in caplog.records if "timeout" in r.getMessage()]
