"""The queue cleaner: queues no client reported for the retention are removed; a working
client keeps its queues."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from maintenance_helpers import SlowWorker, set_queue_updated_at, workers

import river_core as river
from river_core.driver import Driver, QueueCreateOrSetUpdatedAtParams
from river_core.maintenance import QueueCleaner


async def _queues(driver: Driver) -> list[str]:
    async with driver.async_transaction() as ex:
        return [q.name for q in await ex.run(lambda e: e.queue_list())]


async def test_removes_queues_not_updated_within_the_retention(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    async with driver.async_transaction() as ex:
        for name in ("stale", "fresh"):
            await ex.run(
                lambda e, n=name: e.queue_create_or_set_updated_at(  # type: ignore[misc]
                    QueueCreateOrSetUpdatedAtParams(name=n)
                )
            )
    set_queue_updated_at(sync_engine, schema, "stale", datetime.now(UTC) - timedelta(hours=25))

    assert await QueueCleaner(driver).run_once() == {"deleted": 1}
    assert await _queues(driver) == ["fresh"]


async def test_a_working_client_keeps_its_queue_with_a_short_retention(driver: Driver) -> None:
    """With a 0.6 s retention the client refreshes its queue every 0.15 s, so the leader's
    queue cleaner (every 0.1 s) never removes it."""
    client = river.AsyncClient(
        driver,
        river.Config(
            queues={"kept": river.QueueConfig(max_workers=1)},
            workers=workers(SlowWorker()),
            queue_retention=0.6,
            queue_cleaner_interval=0.1,
            reindexer_enabled=False,
        ),
    )
    await client.start()
    try:
        await asyncio.sleep(1.5)
        assert await _queues(driver) == ["kept"]
    finally:
        await client.stop()
