"""The scheduler: makes `scheduled` and `retryable` jobs that are due `available`."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

from river_core.driver import TOPIC_INSERT, Driver, Executor, JobScheduleParams
from river_core.runtime.db import run_in_tx

log = logging.getLogger("river.scheduler")


class Scheduler:
    """Every `interval`, schedules jobs due within the next interval (River's look-ahead),
    in batches, and notifies the queues of those already due."""

    def __init__(self, driver: Driver, *, interval: float = 5.0, batch_size: int = 10_000) -> None:
        self._driver = driver
        self._interval = interval
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="river-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("scheduler: run failed: %s", exc)
            await asyncio.sleep(self._interval)

    async def run_once(self) -> int:
        total = 0
        while True:
            count = await run_in_tx(self._driver, self._schedule_batch)
            total += count
            if count < self._batch_size:
                return total

    def _schedule_batch(self, ex: Executor) -> int:
        now = datetime.now(UTC)
        results = ex.job_schedule(
            JobScheduleParams(max=self._batch_size, now=now + timedelta(seconds=self._interval))
        )
        horizon = datetime.now(UTC) + timedelta(milliseconds=5)
        queues = sorted({r.job.queue for r in results if r.job.scheduled_at <= horizon})
        if queues:
            ex.notify_many(
                TOPIC_INSERT, [json.dumps({"queue": q}, separators=(",", ":")) for q in queues]
            )
        return len(results)
