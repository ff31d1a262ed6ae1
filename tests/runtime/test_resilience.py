"""Surviving a lost listener connection and a starved connection pool."""

from __future__ import annotations

import time

import sqlalchemy as sa
from runtime_helpers import (
    DriverFactory,
    TaskArgs,
    TaskWorker,
    Tracker,
    count_by_state,
    listener_pids,
    make_client,
    running,
    wait_until,
)

import river_core as river
from river_core.driver import Driver
from river_core.job import JobState


async def test_listener_reconnects_after_its_backend_is_terminated(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    """`pg_terminate_backend` of the listener with a 60 s poll interval: a job inserted right
    after still starts within a second, and notifications flow on the new connection."""
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker), fetch_poll_interval=60)
    async with running(client):
        warmup = (await client.insert(TaskArgs())).job.id
        await tracker.wait_started(warmup)

        async def listener() -> list[int] | None:
            return listener_pids(sync_engine, schema) or None

        (old,) = await wait_until(listener, "the client's listener connection")
        with sync_engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.pg_terminate_backend(old))).scalar()

        t0 = time.monotonic()
        lost = (await client.insert(TaskArgs())).job.id
        start = await tracker.wait_started(lost, timeout=3)
        assert start.monotonic - t0 < 1.0

        async def new_listener() -> list[int] | None:
            return [p for p in listener_pids(sync_engine, schema) if p != old] or None

        await wait_until(new_listener, "a new listener connection")
        t0 = time.monotonic()
        after = (await client.insert(TaskArgs())).job.id
        start = await tracker.wait_started(after, timeout=3)
        assert start.monotonic - t0 < 1.0


async def test_two_connections_sixteen_workers_no_deadlock(make_driver: DriverFactory) -> None:
    """A pool of 2 connections (no overflow) and 16 workers that use the pool themselves
    complete 2,000 jobs: nothing holds a connection while waiting for another."""
    driver = make_driver(pool_size=2, max_overflow=0, pool_timeout=10)
    tracker = Tracker()
    client: river.AsyncClient

    async def behaviour(job: river.Job[TaskArgs]) -> None:
        if job.id % 4 == 0:
            assert (await client.job_get(job.id)).state is JobState.RUNNING

    # River's 100 ms cooldown after a full fetch would cap 16 slots at 160 jobs/s.
    client = make_client(
        driver, TaskWorker(tracker, behaviour), max_workers=16, fetch_cooldown=0.01
    )
    await client.insert_many([TaskArgs(str(i)) for i in range(2000)])
    async with running(client):
        await tracker.wait(lambda: len(tracker.ends) >= 2000, "2,000 jobs worked", timeout=60)

        async def done() -> bool | None:
            counts = await count_by_state(driver)
            return True if counts.get(JobState.COMPLETED) == 2000 else None

        await wait_until(done, "2,000 completed jobs", timeout=10, interval=0.05)
    assert [how for _, how in tracker.ends].count("returned") == 2000
