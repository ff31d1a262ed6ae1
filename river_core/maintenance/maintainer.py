"""The maintainer: starts the maintenance services when this client becomes leader and stops
them when it stops leading (River's QueueMaintainer and QueueMaintainerLeader)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from river_core.maintenance.service import Lease, MaintenanceService


class Maintainer:
    """Runs each service as its own task for one term of leadership at a time."""

    def __init__(self, services: Sequence[MaintenanceService]) -> None:
        self.services = tuple(services)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, lease: Lease) -> None:
        """Start every service; `lease` tells them how long they may still act."""
        self._tasks = [
            asyncio.create_task(s.run(lease), name=f"river-maintenance-{s.name}")
            for s in self.services
        ]

    async def stop(self) -> None:
        """Cancel every service and wait until none runs (a statement in flight is cancelled
        on the server too)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
