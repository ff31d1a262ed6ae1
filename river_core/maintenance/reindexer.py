"""The reindexer: rebuilds River's job indexes concurrently on a schedule (River's Reindexer).

`REINDEX INDEX CONCURRENTLY` cannot run in a transaction block, so it runs on an autocommit
connection. Before each rebuild, invalid `_ccnew`/`_ccold` indexes that an interrupted build
left behind are dropped (River skips the index instead). A role that may not reindex (only
the owner may, before PostgreSQL 17's MAINTAIN privilege) switches the reindexer off for the
life of the client, with one warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from river_core.config import REINDEXER_INDEX_NAMES
from river_core.driver import Driver, Executor
from river_core.errors import InsufficientPrivilegeError
from river_core.maintenance.service import LeadershipEndedError, Lease, MaintenanceService
from river_core.schedules import Schedule

T = TypeVar("T")

log = logging.getLogger("river.maintenance")

DAY = timedelta(days=1)


class DailyAtMidnightUTC:
    """River's default reindexer schedule: every day at 00:00 UTC."""

    def next(self, after: datetime) -> datetime:
        day = (after.astimezone(UTC) + DAY).date()
        return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Reindexer(MaintenanceService):
    """Reindexes `index_names` (those that exist) at each time of `schedule`."""

    name = "reindexer"

    def __init__(
        self,
        driver: Driver,
        *,
        schedule: Schedule | None = None,
        index_names: Sequence[str] = REINDEXER_INDEX_NAMES,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, interval=DAY.total_seconds(), timeout=timeout, **kwargs)
        self.schedule: Schedule = schedule if schedule is not None else DailyAtMidnightUTC()
        self.index_names = tuple(index_names)
        self.disabled = False

    async def run(self, lease: Lease) -> None:
        """Run at each scheduled time (the first one after now) until cancelled, the lease
        ends, or the role turns out not to be allowed to reindex."""
        self._lease = lease
        await self._stagger()
        next_at = self.schedule.next(datetime.now(UTC))
        while next_at is not None and not self.disabled:
            delay = (next_at - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            if not await self._run_logged():
                return
            next_at = self.schedule.next(next_at)  # from the planned time: no run is skipped

    async def _run(self) -> dict[str, int]:
        counts = {"reindexed": 0, "artifacts_dropped": 0, "failed": 0}
        if self.disabled:
            return counts
        exists = await self._batch(lambda ex: ex.indexes_exist(self.index_names))
        missing = [name for name, found in exists.items() if not found]
        if missing:
            log.warning("reindexer: configured indexes do not exist: %s", ", ".join(missing))
        for name in (n for n in self.index_names if exists[n]):
            try:
                counts["artifacts_dropped"] += await self._drop_artifacts(name)
                await self._autocommit(_reindex(name))
                counts["reindexed"] += 1
            except InsufficientPrivilegeError as exc:
                self.disabled = True
                log.warning(
                    "reindexer: this database role may not reindex River's indexes (%s); "
                    "the reindexer is off for the life of this client",
                    exc,
                )
                return counts
            except LeadershipEndedError:
                raise
            except Exception as exc:
                counts["failed"] += 1
                log.error("reindexer: reindexing %s failed: %r", name, exc)
        return counts

    async def _drop_artifacts(self, name: str) -> int:
        """Drop what an interrupted rebuild of `name` left behind; returns how many."""
        artifacts = await self._batch(lambda ex: ex.index_reindex_artifacts(name))
        for artifact in artifacts:
            log.info("reindexer: dropping %s, left by an interrupted rebuild", artifact)
            await self._autocommit(_drop(artifact))
        return len(artifacts)

    async def _autocommit(self, fn: Callable[[Executor], T]) -> T:
        """Run `fn` on an autocommit connection, bounded by the timeout and the lease."""

        async def call() -> T:
            try:
                async with self.driver.async_autocommit() as ex:
                    return await ex.run(fn)
            except Exception as exc:
                mapped = self.driver.map_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc

        return await self._bounded(call, self.timeout)


def _reindex(name: str) -> Callable[[Executor], None]:
    return lambda ex: ex.index_reindex(name)


def _drop(name: str) -> Callable[[Executor], None]:
    return lambda ex: ex.index_drop_if_exists(name)
