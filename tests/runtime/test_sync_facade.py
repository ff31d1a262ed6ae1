"""The sync facade: `Client.start()`/`stop()` run the async runtime in a background thread,
on an async engine built from the sync engine's URL and DBAPI (psycopg 3, the one DBAPI with a
sync Engine). Plain sync tests: no event loop in the caller."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest
import sqlalchemy as sa

import river_core as river
from river_core.job import JobState
from river_driver_psycopg import PsycopgDriver


@dataclass
class FacadeArgs:
    block: bool = False
    kind: ClassVar[str] = "facade"


@dataclass
class AsyncFacadeArgs:
    block: bool = False
    kind: ClassVar[str] = "async_facade"


class FacadeWorker(river.Worker[FacadeArgs]):
    def __init__(self) -> None:
        self.started = threading.Event()

    def work(self, job: river.Job[FacadeArgs]) -> None:
        self.started.set()
        while job.args.block and not job.should_stop():
            time.sleep(0.01)


class AsyncFacadeWorker(river.Worker[AsyncFacadeArgs]):
    def __init__(self) -> None:
        self.started = threading.Event()

    async def work(self, job: river.Job[AsyncFacadeArgs]) -> None:
        self.started.set()
        if job.args.block:
            await asyncio.sleep(60)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def runtime_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "river-client"]


@pytest.fixture
def worker() -> FacadeWorker:
    return FacadeWorker()


@pytest.fixture
def async_worker() -> AsyncFacadeWorker:
    return AsyncFacadeWorker()


@pytest.fixture
def client(
    sync_engine: sa.Engine, schema: str, worker: FacadeWorker, async_worker: AsyncFacadeWorker
) -> Iterator[river.Client]:
    workers = river.Workers()
    workers.add(worker)
    workers.add(async_worker)
    config = river.Config(queues={"default": river.QueueConfig(max_workers=5)}, workers=workers)
    client = river.Client(PsycopgDriver(sync_engine, schema=schema), config)
    yield client
    client.stop_and_cancel()


def test_start_works_jobs_in_the_background_and_stop_ends_it(client: river.Client) -> None:
    client.start()
    assert client.started and len(runtime_threads()) == 1
    sync_id = client.insert(FacadeArgs()).job.id
    async_id = client.insert(AsyncFacadeArgs()).job.id
    for job_id in (sync_id, async_id):
        wait_for(lambda j=job_id: client.job_get(j).state is JobState.COMPLETED, "completion")
    with pytest.raises(river.RiverError, match="already started"):
        client.start()
    client.stop()
    assert not client.started and runtime_threads() == []
    client.stop()  # stopping a stopped client does nothing


def test_stop_and_cancel_interrupts_running_jobs(
    client: river.Client, async_worker: AsyncFacadeWorker
) -> None:
    client.start()
    job_id = client.insert(AsyncFacadeArgs(block=True)).job.id
    assert async_worker.started.wait(5)
    client.stop_and_cancel()
    row = client.job_get(job_id)
    assert row.state is JobState.AVAILABLE and row.attempt == 0
    assert runtime_threads() == []


def test_a_failed_start_raises_in_the_caller_and_leaves_no_thread(
    sync_engine: sa.Engine, fresh_schema: str, worker: FacadeWorker
) -> None:
    workers = river.Workers()
    workers.add(worker)
    client = river.Client(
        PsycopgDriver(sync_engine, schema=fresh_schema), river.Config(workers=workers)
    )
    with pytest.raises(river.SchemaVersionError):
        client.start()
    assert not client.started
    wait_for(lambda: runtime_threads() == [], "the runtime thread to end")
