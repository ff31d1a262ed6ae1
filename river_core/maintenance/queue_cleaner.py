"""The queue cleaner: removes queues no client has reported for a while (River's
QueueCleaner). Every client refreshes its queues' `updated_at` well within the retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from river_core.driver import Driver
from river_core.maintenance.service import MaintenanceService


class QueueCleaner(MaintenanceService):
    """Deletes `river_queue` rows not updated for `retention` seconds, in batches."""

    name = "queue_cleaner"

    def __init__(
        self,
        driver: Driver,
        *,
        retention: float = 24 * 3600.0,
        interval: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, interval=interval, **kwargs)
        self.retention = retention

    async def _run(self) -> dict[str, int]:
        deleted = 0
        while True:
            horizon = datetime.now(UTC) - timedelta(seconds=self.retention)
            size = self.batch_size
            names = await self._delete_batch(horizon, size)
            deleted += len(names)
            if len(names) < size:
                return {"deleted": deleted}
            await self._pause_between_batches()

    async def _delete_batch(self, horizon: datetime, size: int) -> list[str]:
        return await self._batch(lambda ex: ex.queue_delete_expired(horizon, size))
