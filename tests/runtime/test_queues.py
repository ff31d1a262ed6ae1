"""Queues at runtime: pause/resume across clients, adding and removing queues, poll-only mode."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa
from runtime_helpers import (
    WAIT,
    DriverFactory,
    TaskArgs,
    TaskWorker,
    Tracker,
    listener_pids,
    make_client,
    running,
    wait_for_job,
)

import river_core as river
from river_core.driver import Driver
from river_core.job import JobState


def _in(queue: str) -> river.InsertOpts:
    """Insert options for `queue`."""
    return river.InsertOpts(queue=queue)


async def test_pause_and_resume_from_another_client(make_driver: DriverFactory) -> None:
    """Client B pauses a queue client A works: A stops fetching it; B resumes: A picks up.

    A polls only every 60 s, so every fetch it makes comes from a notification or a resume.
    """
    tracker = Tracker()
    a = make_client(
        make_driver(), TaskWorker(tracker), queues=("default", "sentinel"), fetch_poll_interval=60
    )
    b = river.AsyncClient(make_driver())
    async with running(a):
        warmup = (await b.insert(TaskArgs())).job.id
        await tracker.wait_started(warmup)

        await b.queue_pause("default")
        assert (await b.queue_get("default")).paused_at is not None
        # Notifications arrive in commit order: once A works this job, it has seen the pause.
        sentinel = (await b.insert(TaskArgs(), _in("sentinel"))).job.id
        await tracker.wait_started(sentinel)

        held = (await b.insert(TaskArgs())).job.id
        await asyncio.sleep(0.5)
        row = await a.job_get(held)
        assert row.state is JobState.AVAILABLE, "a paused queue is not fetched"
        assert tracker.starts_of(held) == []

        t0 = time.monotonic()
        await b.queue_resume("default")
        start = await tracker.wait_started(held, timeout=2)
        assert start.monotonic - t0 < 1.0
        await wait_for_job(a, held, {JobState.COMPLETED})
    assert (await b.queue_get("default")).paused_at is None


async def test_pause_from_the_working_client(driver: Driver) -> None:
    """A client pausing a queue it works stops fetching it at once, and resumes it.

    It polls only every 60 s, so once the fetch that the warm-up's wake-ups (coalesced: start,
    listener connected, insert) may still have in flight is done, none is when it pauses.
    """
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker), fetch_poll_interval=60)
    async with running(client):
        warmup = (await client.insert(TaskArgs())).job.id
        await tracker.wait_ended(warmup)
        await asyncio.sleep(0.2)  # a fetch still in flight could lock the job inserted next
        await client.queue_pause("default")
        held = (await client.insert(TaskArgs())).job.id
        await asyncio.sleep(0.3)
        assert tracker.starts_of(held) == []
        await client.queue_resume("default")
        await tracker.wait_started(held, timeout=2)


async def test_queues_added_and_removed_at_runtime(driver: Driver) -> None:
    """`add_queue` starts working a queue at once; `remove_queue` lets its running job finish
    and then stops fetching it; other queues are unaffected."""
    release = asyncio.Event()

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        if job.args.name == "block":
            await asyncio.wait_for(release.wait(), 30)

    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker, behaviour), fetch_poll_interval=0.1)
    async with running(client):
        early = (await client.insert(TaskArgs(), _in("extra"))).job.id
        await client.add_queue("extra", max_workers=2)
        await tracker.wait_started(early)
        with pytest.raises(ValueError, match="extra"):
            await client.add_queue("extra")
        assert (await client.queue_get("extra")).name == "extra"

        blocked = (await client.insert(TaskArgs("block"), _in("extra"))).job.id
        await tracker.wait_started(blocked)
        removal = asyncio.create_task(client.remove_queue("extra"))
        await asyncio.sleep(0.2)
        assert not removal.done(), "removing a queue waits for its running jobs"
        release.set()
        await asyncio.wait_for(removal, WAIT)
        await wait_for_job(client, blocked, {JobState.COMPLETED})

        orphan = (await client.insert(TaskArgs(), _in("extra"))).job.id
        other = (await client.insert(TaskArgs())).job.id
        await tracker.wait_started(other)
        await asyncio.sleep(0.3)  # three poll intervals
        row = await client.job_get(orphan)
    assert row.state is JobState.AVAILABLE and row.attempt == 0
    assert tracker.starts_of(orphan) == []


async def test_poll_only_mode(driver: Driver, sync_engine: sa.Engine, schema: str) -> None:
    """With `poll_only`, no listener connection exists and jobs start within the poll interval
    (plus a margin)."""
    poll = 0.3
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker), poll_only=True, fetch_poll_interval=poll)
    async with running(client):
        for _ in range(3):
            t0 = time.monotonic()
            job_id = (await client.insert(TaskArgs())).job.id
            start = await tracker.wait_started(job_id, timeout=2)
            assert start.monotonic - t0 <= poll + 0.5, "picked up by the next poll"
        assert listener_pids(sync_engine, schema) == []


async def test_a_queue_paused_before_start_stays_paused(make_driver: DriverFactory) -> None:
    """A client starting on a paused queue does not fetch it until it is resumed."""
    tracker = Tracker()
    a = make_client(make_driver(), TaskWorker(tracker), fetch_poll_interval=0.1)
    b = river.AsyncClient(make_driver())
    async with running(a):  # creates the queue's row
        pass
    await b.queue_pause("default")
    held = (await b.insert(TaskArgs())).job.id
    async with running(a):
        await asyncio.sleep(0.3)  # three poll intervals
        assert tracker.starts_of(held) == []
        await b.queue_resume("default")
        await tracker.wait_started(held, timeout=2)


async def test_pause_all_queues_from_another_client(make_driver: DriverFactory) -> None:
    """`queue_pause("*")` from client B pauses every queue client A works; `"*"` resumes."""
    tracker = Tracker()
    a = make_client(
        make_driver(),
        TaskWorker(tracker),
        queues=("default", "other", "sentinel"),
        fetch_poll_interval=60,
    )
    b = river.AsyncClient(make_driver())
    async with running(a):
        warmup = (await b.insert(TaskArgs())).job.id
        await tracker.wait_started(warmup)
        await b.queue_pause("*")
        await b.queue_resume("sentinel")
        sentinel = (await b.insert(TaskArgs(), _in("sentinel"))).job.id
        await tracker.wait_started(sentinel)  # A has seen the pause and the resume

        held = [(await b.insert(TaskArgs(), _in(q))).job.id for q in ("default", "other")]
        await asyncio.sleep(0.5)
        assert [tracker.starts_of(i) for i in held] == [[], []]
        await b.queue_resume("*")
        for job_id in held:
            await tracker.wait_started(job_id, timeout=2)
