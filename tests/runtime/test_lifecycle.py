"""Starting and stopping a client: schema check, soft and hard stops, cancellation of start."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
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
    wait_until,
)

import river_core as river
from river_core import migrate
from river_core.driver import Driver
from river_core.job import JobState


def river_tasks() -> list[asyncio.Task[object]]:
    """The runtime's tasks still alive (producers, completer, notifier, scheduler, ...)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("river-") and not t.done()]


def _stopping(client: river.AsyncClient) -> Callable[[], Awaitable[bool | None]]:
    async def check() -> bool | None:
        return True if not client.started else None

    return check


def _blocking(release: asyncio.Event) -> TaskWorker:
    async def behaviour(job: river.Job[TaskArgs]) -> None:
        if job.args.name == "block":
            await asyncio.wait_for(release.wait(), 30)

    return TaskWorker(Tracker(), behaviour)


async def test_wrong_schema_version_refuses_to_start(
    make_driver: DriverFactory, sync_engine: sa.Engine, migrated_schema: str
) -> None:
    """A schema below the version this release needs: `SchemaVersionError` naming both."""
    with sync_engine.connect() as conn:
        migrate.downgrade(conn, schema=migrated_schema, target_version=5)
    client = make_client(make_driver(schema=migrated_schema), TaskWorker(Tracker()))
    with pytest.raises(river.SchemaVersionError) as caught:
        await client.start()
    assert caught.value.current == 5
    assert caught.value.required == migrate.LATEST_VERSION
    assert "version 5" in str(caught.value)
    assert f"version {migrate.LATEST_VERSION}" in str(caught.value)
    assert not client.started
    assert river_tasks() == []


async def test_soft_stop_finishes_running_jobs_and_flushes(driver: Driver) -> None:
    """`stop()` stops fetching, waits for the running job, and has written its outcome when
    it returns; a job waiting for a slot is never fetched."""
    release = asyncio.Event()
    worker = _blocking(release)
    client = make_client(driver, worker, max_workers=1, fetch_poll_interval=0.1)
    running_id = (await client.insert(TaskArgs("block"))).job.id
    async with running(client):
        await worker.tracker.wait_started(running_id)
        waiting_id = (await client.insert(TaskArgs("quick"))).job.id
        stop = asyncio.create_task(client.stop())
        await asyncio.sleep(0.3)
        assert not stop.done(), "a soft stop waits for running jobs"
        release.set()
        await asyncio.wait_for(stop, WAIT)
        done = await client.job_get(running_id)
        assert done.state is JobState.COMPLETED, "outcomes are flushed before stop returns"
        waiting = await client.job_get(waiting_id)
    assert waiting.state is JobState.AVAILABLE and waiting.attempt == 0
    assert worker.tracker.starts_of(waiting_id) == []
    assert river_tasks() == []


async def test_hard_stop_returns_running_async_jobs_to_available(driver: Driver) -> None:
    """`stop_and_cancel()` cancels running async jobs; they go back to `available` with the
    attempt restored and no error (River's `job_interrupted`)."""
    release = asyncio.Event()
    worker = _blocking(release)
    client = make_client(driver, worker)
    job_id = (await client.insert(TaskArgs("block"))).job.id
    async with running(client):
        first = await worker.tracker.wait_started(job_id)
        assert first.job.attempt == 1
        before = datetime.now(UTC)
        await asyncio.wait_for(client.stop_and_cancel(), WAIT)
        assert not client.started
    row = await client.job_get(job_id)
    assert worker.tracker.ends_of(job_id) == ["cancelled"]
    assert row.state is JobState.AVAILABLE
    assert row.attempt == 0
    assert row.errors == []
    assert row.finalized_at is None
    assert row.scheduled_at <= datetime.now(UTC) and row.scheduled_at >= before
    assert river_tasks() == []


async def test_hard_stop_does_not_wait_for_sync_jobs(driver: Driver) -> None:
    """A hard stop tells a sync job to stop but does not wait for its thread; its row stays
    `running` (for the rescuer) and nothing is written when the thread returns later."""
    tracker = Tracker()
    release = threading.Event()

    def behaviour(job: river.Job[SyncTaskArgs]) -> None:
        release.wait(WAIT)

    client = make_client(driver, SyncTaskWorker(tracker, behaviour))
    job_id = (await client.insert(SyncTaskArgs())).job.id
    try:
        async with running(client):
            start = await tracker.wait_started(job_id)
            t0 = time.monotonic()
            await asyncio.wait_for(client.stop_and_cancel(), WAIT)
            assert time.monotonic() - t0 < 1.0, "a hard stop does not wait for sync jobs"
        assert start.job.should_stop()
        assert tracker.ends_of(job_id) == []
        assert (await client.job_get(job_id)).state is JobState.RUNNING
    finally:
        release.set()
    await tracker.wait_ended(job_id)
    await asyncio.sleep(0.1)  # longer than a completer flush, had one survived
    assert (await client.job_get(job_id)).state is JobState.RUNNING


async def test_soft_stop_timeout_turns_soft_into_hard(driver: Driver) -> None:
    """With `soft_stop_timeout`, a soft stop cancels jobs still running at the deadline; jobs
    done before it keep their outcome."""
    release = asyncio.Event()
    worker = _blocking(release)
    client = make_client(driver, worker, soft_stop_timeout=0.3)
    async with running(client):
        quick_id = (await client.insert(TaskArgs("quick"))).job.id
        stuck_id = (await client.insert(TaskArgs("block"))).job.id
        await worker.tracker.wait_started(stuck_id)
        await worker.tracker.wait_ended(quick_id)
        t0 = time.monotonic()
        await asyncio.wait_for(client.stop(), WAIT)
        elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 2.0
    assert worker.tracker.ends_of(stuck_id) == ["cancelled"]
    stuck = await client.job_get(stuck_id)
    assert stuck.state is JobState.AVAILABLE
    assert stuck.attempt == 0 and stuck.errors == []
    assert (await client.job_get(quick_id)).state is JobState.COMPLETED
    assert river_tasks() == []


async def test_cancelling_the_start_task_stops_the_client(driver: Driver) -> None:
    """Cancelling the task that called `start()` stops the client: the running job finishes
    and is recorded, then the runtime is gone."""
    release = asyncio.Event()
    worker = _blocking(release)
    client = make_client(driver, worker)
    up = asyncio.Event()

    async def owner() -> None:
        await client.start()
        up.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(owner())
    await asyncio.wait_for(up.wait(), WAIT)
    try:
        job_id = (await client.insert(TaskArgs("block"))).job.id
        await worker.tracker.wait_started(job_id)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(_stopping(client), "the client to begin stopping")
        release.set()
        await asyncio.wait_for(client.stop(), WAIT)  # waits for the stop under way
        assert river_tasks() == []
        assert (await client.job_get(job_id)).state is JobState.COMPLETED
    finally:
        release.set()
        if client.started:
            await client.stop_and_cancel()


async def test_hard_stop_does_not_wait_for_a_timed_out_sync_job(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """A sync job already told to stop by its timeout (and ignoring it) does not hold up a
    hard stop either."""
    tracker = Tracker()
    release = threading.Event()

    def behaviour(job: river.Job[SyncTaskArgs]) -> None:
        release.wait(WAIT)

    caplog.set_level(logging.WARNING, logger="river")
    client = make_client(driver, SyncTaskWorker(tracker, behaviour), job_timeout=0.1)
    job_id = (await client.insert(SyncTaskArgs())).job.id
    try:
        async with running(client):
            start = await tracker.wait_started(job_id)
            await wait_until(_logged(caplog, str(job_id)), "the timeout warning")
            assert start.job.should_stop()
            t0 = time.monotonic()
            await asyncio.wait_for(client.stop_and_cancel(), WAIT)
            assert time.monotonic() - t0 < 1.0, "a hard stop does not wait for sync jobs"
        assert (await client.job_get(job_id)).state is JobState.RUNNING
    finally:
        release.set()
    await tracker.wait_ended(job_id)


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> Callable[[], Awaitable[bool | None]]:
    async def check() -> bool | None:
        return True if any(text in r.getMessage() for r in caplog.records) else None

    return check


async def test_unmigrated_schema_refuses_to_start(
    make_driver: DriverFactory, fresh_schema: str
) -> None:
    """An empty schema is at version 0: `SchemaVersionError(0, latest)`, nothing started."""
    client = make_client(make_driver(schema=fresh_schema), TaskWorker(Tracker()))
    with pytest.raises(river.SchemaVersionError) as caught:
        await client.start()
    assert (caught.value.current, caught.value.required) == (0, migrate.LATEST_VERSION)
    assert not client.started
    assert river_tasks() == []


async def test_restart_and_cancel_the_start_task_each_time(driver: Driver) -> None:
    """A stopped client starts again and works jobs; cancelling the task of each `start()`
    stops it each time. Starting a started client is refused."""
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker))
    for _ in range(2):
        up = asyncio.Event()

        async def owner(up: asyncio.Event = up) -> None:
            await client.start()
            up.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(owner())
        await asyncio.wait_for(up.wait(), WAIT)
        with pytest.raises(river.RiverError, match="already started"):
            await client.start()
        job_id = (await client.insert(TaskArgs())).job.id
        await tracker.wait_ended(job_id)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(_stopping(client), "the client to begin stopping")
        await asyncio.wait_for(client.stop(), WAIT)
        assert river_tasks() == []
        assert (await client.job_get(job_id)).state is JobState.COMPLETED
