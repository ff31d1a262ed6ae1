"""The scheduler: makes `scheduled` and `retryable` jobs that are due `available`
(River's JobScheduler)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from river_core.driver import TOPIC_INSERT, Driver, Executor, JobScheduleParams
from river_core.maintenance.service import MaintenanceService


class Scheduler(MaintenanceService):
    """Every `interval`, schedules jobs due within the next interval (River's look-ahead),
    in batches, and notifies the queues of those already due."""

    name = "scheduler"

    def __init__(self, driver: Driver, *, interval: float = 5.0, **kwargs: Any) -> None:
        super().__init__(driver, interval=interval, **kwargs)

    async def _run(self) -> dict[str, int]:
        total = 0
        while True:
            size = self.batch_size  # as _schedule_batch will read it
            count = await self._batch(self._schedule_batch)
            total += count
            if count < size:
                return {"scheduled": total}

    def _schedule_batch(self, ex: Executor) -> int:
        now = datetime.now(UTC)
        results = ex.job_schedule(
            JobScheduleParams(max=self.batch_size, now=now + timedelta(seconds=self.interval))
        )
        horizon = datetime.now(UTC) + timedelta(milliseconds=5)
        queues = sorted({r.job.queue for r in results if r.job.scheduled_at <= horizon})
        if queues:
            ex.notify_many(
                TOPIC_INSERT, [json.dumps({"queue": q}, separators=(",", ":")) for q in queues]
            )
        return len(results)
