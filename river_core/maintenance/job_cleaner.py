"""The job cleaner: deletes finalized jobs past their state's retention (River's JobCleaner)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from river_core.driver import Driver, JobDeleteBeforeParams
from river_core.maintenance.service import MaintenanceService


class JobCleaner(MaintenanceService):
    """Deletes `completed`, `cancelled` and `discarded` jobs finalized longer ago than their
    retention (seconds; None keeps that state forever), in batches."""

    name = "job_cleaner"

    def __init__(
        self,
        driver: Driver,
        *,
        completed_retention: float | None = 24 * 3600.0,
        cancelled_retention: float | None = 24 * 3600.0,
        discarded_retention: float | None = 7 * 24 * 3600.0,
        interval: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, interval=interval, **kwargs)
        self.completed_retention = completed_retention
        self.cancelled_retention = cancelled_retention
        self.discarded_retention = discarded_retention

    async def _run(self) -> dict[str, int]:
        deleted = 0
        retentions = (self.completed_retention, self.cancelled_retention, self.discarded_retention)
        if all(r is None for r in retentions):
            return {"deleted": 0}
        while True:
            now = datetime.now(UTC)
            params = JobDeleteBeforeParams(
                max=self.batch_size,
                completed_finalized_at_horizon=_horizon(now, self.completed_retention),
                cancelled_finalized_at_horizon=_horizon(now, self.cancelled_retention),
                discarded_finalized_at_horizon=_horizon(now, self.discarded_retention),
            )
            count = await self._delete_batch(params)
            deleted += count
            if count < params.max:
                return {"deleted": deleted}
            await self._pause_between_batches()

    async def _delete_batch(self, params: JobDeleteBeforeParams) -> int:
        return await self._batch(lambda ex: ex.job_delete_before(params))


def _horizon(now: datetime, retention: float | None) -> datetime | None:
    return None if retention is None else now - timedelta(seconds=retention)
