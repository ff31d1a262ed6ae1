"""End-to-end: insert jobs and work them through the AsyncClient on every async driver."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import river_core as river
from river_core.driver import Driver


@dataclass
class SortArgs:
    strings: list[str]
    kind: ClassVar[str] = "sort"


class SortWorker(river.Worker[SortArgs]):
    def __init__(self) -> None:
        self.seen: list[list[str]] = []
        self.done = asyncio.Event()
        self.expected = 1

    async def work(self, job: river.Job[SortArgs]) -> None:
        self.seen.append(sorted(job.args.strings))
        if len(self.seen) >= self.expected:
            self.done.set()


async def test_insert_then_work_completes(driver: Driver) -> None:
    worker = SortWorker()
    worker.expected = 3
    workers = river.Workers()
    workers.add(worker)
    client = river.AsyncClient(
        driver, river.Config(queues={"default": river.QueueConfig(max_workers=10)}, workers=workers)
    )
    await client.start()
    try:
        results = await client.insert_many(
            [SortArgs(["b", "a"]), SortArgs(["d", "c"]), SortArgs(["z"])]
        )
        await asyncio.wait_for(worker.done.wait(), 10)
    finally:
        await client.stop()
    assert sorted(worker.seen) == [["a", "b"], ["c", "d"], ["z"]]
    for res in results:
        row = await client.job_get(res.job.id)
        assert row.state is river.JobState.COMPLETED
        assert row.attempt == 1
        assert row.finalized_at is not None
        assert len(row.attempted_by) == 1
