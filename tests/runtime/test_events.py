"""Event subscriptions on every async driver: each outcome's event after its write, with the
job as persisted and its timings; queue events; bounded buffers that drop instead of blocking;
rows read back only while someone listens for job events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from runtime_helpers import make_client, running, wait_for_job

import river_core as river
from river_core.driver import Driver
from river_core.driver.sql_executor import SqlExecutor
from river_core.events import Event, EventKind, Subscription, Subscriptions
from river_core.job import JobState


@dataclass
class EventArgs:
    outcome: str = "complete"  # complete | fail | cancel | snooze | sleep | block
    kind: ClassVar[str] = "event"


class EventWorker(river.Worker[EventArgs]):
    async def work(self, job: river.Job[EventArgs]) -> None:
        outcome = job.args.outcome
        if outcome == "fail":
            raise ValueError("failed")
        if outcome == "cancel":
            raise river.JobCancel("cancelled")
        if outcome == "snooze":
            raise river.JobSnooze(600)
        if outcome == "sleep":
            await asyncio.sleep(0.1)
        if outcome == "block":
            await asyncio.sleep(60)

    def next_retry(self, job: river.Job[EventArgs]) -> datetime:
        return datetime.now(UTC) + timedelta(hours=1)


async def next_event(subscription: Subscription, timeout: float = 5.0) -> Event:
    return await asyncio.wait_for(subscription.get(), timeout)


async def test_job_events_carry_the_persisted_job_and_timings(driver: Driver) -> None:
    client = make_client(driver, EventWorker())
    subscription = client.subscribe(
        [EventKind.JOB_COMPLETED, EventKind.JOB_FAILED, "job_cancelled", EventKind.JOB_SNOOZED]
    )
    expected = {
        "sleep": (EventKind.JOB_COMPLETED, JobState.COMPLETED),
        "fail": (EventKind.JOB_FAILED, JobState.RETRYABLE),
        "cancel": (EventKind.JOB_CANCELLED, JobState.CANCELLED),
        "snooze": (EventKind.JOB_SNOOZED, JobState.SCHEDULED),
    }
    ids = {
        (await client.insert(EventArgs(outcome), river.InsertOpts(max_attempts=2))).job.id: outcome
        for outcome in expected
    }
    async with running(client):
        events = [await next_event(subscription) for _ in ids]
        for event in events:
            assert event.job is not None and event.stats is not None
            kind, state = expected[ids[event.job.id]]
            assert (event.kind, event.job.state) == (kind, state)
            assert await client.job_get(event.job.id) == event.job  # emitted after the write
            assert event.stats.queue_wait_duration >= 0
            assert event.stats.complete_duration >= 0
        completed = next(e for e in events if e.kind is EventKind.JOB_COMPLETED)
        assert completed.job is not None and completed.stats is not None
        assert completed.job.finalized_at is not None
        assert 0.1 <= completed.stats.run_duration < 2
        failed = next(e for e in events if e.kind is EventKind.JOB_FAILED)
        assert failed.job is not None and "failed" in failed.job.errors[0].error


async def test_interrupted_event_and_the_subscription_ends_when_the_client_stops(
    driver: Driver,
) -> None:
    client = make_client(driver, EventWorker())
    received: list[Event] = []

    async def consume(subscription: Subscription) -> None:
        async for event in subscription:  # ends when the client stops
            received.append(event)

    subscription = client.subscribe([EventKind.JOB_INTERRUPTED])
    consumer = asyncio.ensure_future(consume(subscription))
    job_id = (await client.insert(EventArgs("block"))).job.id
    await client.start()
    await wait_for_job(client, job_id, {JobState.RUNNING})
    await client.stop_and_cancel()
    await asyncio.wait_for(consumer, 5)
    assert subscription.closed
    (event,) = received
    assert event.kind is EventKind.JOB_INTERRUPTED
    assert event.job is not None and event.job.id == job_id
    assert event.job.state is JobState.AVAILABLE


async def test_queue_paused_and_resumed_events_once_each(driver: Driver) -> None:
    client = make_client(driver, EventWorker(), queues=("default", "other"))
    with client.subscribe([EventKind.QUEUE_PAUSED, EventKind.QUEUE_RESUMED]) as subscription:
        async with running(client):
            await client.queue_pause("other")
            event = await next_event(subscription)
            assert (event.kind, event.queue, event.job) == (EventKind.QUEUE_PAUSED, "other", None)
            await client.queue_resume("other")
            event = await next_event(subscription)
            assert (event.kind, event.queue) == (EventKind.QUEUE_RESUMED, "other")
            await asyncio.sleep(0.2)  # the control NOTIFYs arrive too: no repeated events
            assert subscription.dropped == 0
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(subscription.get(), 0.05)


async def test_a_full_subscription_drops_counts_and_logs_without_blocking(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(driver, EventWorker())
    small = client.subscribe([EventKind.JOB_COMPLETED], size=2)
    large = client.subscribe([EventKind.JOB_COMPLETED])
    results = await client.insert_many([EventArgs() for _ in range(10)])
    with caplog.at_level(logging.WARNING, logger="river.events"):
        async with running(client):
            for result in results:
                await wait_for_job(client, result.job.id, {JobState.COMPLETED})
            await asyncio.wait_for(_drain(large, 10), 5)
    assert small.dropped == 8 and large.dropped == 0
    assert [(await small.get()).kind for _ in range(2)] == [EventKind.JOB_COMPLETED] * 2
    assert "subscription buffer full" in caplog.text


async def _drain(subscription: Subscription, count: int) -> None:
    for _ in range(count):
        await subscription.get()


async def test_rows_are_read_back_only_while_someone_listens_for_job_events(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    original = SqlExecutor.job_set_state_if_running_many

    def spy(self: SqlExecutor, outcomes: Any, now: Any = None, *, returning: bool = True) -> Any:
        seen.append(returning)
        return original(self, outcomes, now, returning=returning)

    monkeypatch.setattr(SqlExecutor, "job_set_state_if_running_many", spy)
    client = make_client(driver, EventWorker())
    queue_events = client.subscribe([EventKind.QUEUE_PAUSED])

    async def work_one() -> None:
        job_id = (await client.insert(EventArgs())).job.id
        await wait_for_job(client, job_id, {JobState.COMPLETED})

    async with running(client):
        await work_one()
        assert seen == [False]
        job_events = client.subscribe([EventKind.JOB_COMPLETED])
        await work_one()
        assert seen == [False, True]
        job_events.close()
        await work_one()
        assert seen == [False, True, False]
    queue_events.close()


def test_subscribe_refuses_unknown_kinds_and_bad_sizes() -> None:
    subscribe: Callable[..., Any] = Subscriptions().subscribe
    with pytest.raises(river.ValidationError, match="kinds"):
        subscribe(["job_exploded"])
    with pytest.raises(river.ValidationError, match="kinds"):
        subscribe([])
    with pytest.raises(river.ValidationError, match="size"):
        subscribe([EventKind.JOB_COMPLETED], size=0)
