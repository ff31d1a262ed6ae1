"""Shared pieces of the runtime tests: args types, programmable workers, bounded waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa

import river_core as river
from river_core.driver import Driver
from river_core.job import JobRow, JobState

T = TypeVar("T")

DriverFactory = Callable[..., Driver]  # the `make_driver` fixture

WAIT = 5.0  # default bound of every wait; failures say what was awaited


@dataclass
class TaskArgs:
    """Args of the async test worker; `name` lets a behaviour tell jobs apart."""

    name: str = ""
    kind: ClassVar[str] = "task"


@dataclass
class SyncTaskArgs:
    """Args of the sync (threaded) test worker."""

    name: str = ""
    kind: ClassVar[str] = "sync_task"


@dataclass(frozen=True)
class Start:
    """One call of `work`: which job, which attempt, when."""

    job: river.Job[Any]
    at: datetime
    monotonic: float

    @property
    def job_id(self) -> int:
        return int(self.job.id)


class Tracker:
    """Records starts and ends of `work` calls, from the loop or from worker threads."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._changed = asyncio.Event()
        self.starts: list[Start] = []
        self.ends: list[tuple[int, str]] = []  # (job id, how it ended)

    def _notify(self) -> None:
        if threading.get_ident() == self._loop_thread:
            self._changed.set()
        else:
            self._loop.call_soon_threadsafe(self._changed.set)

    def started(self, job: river.Job[Any]) -> None:
        self.starts.append(Start(job, datetime.now(UTC), time.monotonic()))
        self._notify()

    def ended(self, job: river.Job[Any], how: str) -> None:
        self.ends.append((int(job.id), how))
        self._notify()

    def poke(self) -> None:
        """Wake waiters to re-check their condition (thread-safe)."""
        self._notify()

    def starts_of(self, job_id: int) -> list[Start]:
        return [s for s in self.starts if s.job_id == job_id]

    def ends_of(self, job_id: int) -> list[str]:
        return [how for jid, how in self.ends if jid == job_id]

    async def wait(self, check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        """Wait until `check()` holds; fail naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            if check():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_started(self, job_id: int, count: int = 1, timeout: float = WAIT) -> Start:
        await self.wait(
            lambda: len(self.starts_of(job_id)) >= count,
            f"job {job_id} to start {count} time(s)",
            timeout,
        )
        return self.starts_of(job_id)[count - 1]

    async def wait_ended(self, job_id: int, count: int = 1, timeout: float = WAIT) -> str:
        await self.wait(
            lambda: len(self.ends_of(job_id)) >= count,
            f"job {job_id} to end {count} time(s)",
            timeout,
        )
        return self.ends_of(job_id)[count - 1]


AsyncBehaviour = Callable[[river.Job[TaskArgs]], Awaitable[None]]
SyncBehaviour = Callable[[river.Job[SyncTaskArgs]], None]
RetryAt = Callable[[river.Job[Any]], datetime | None]


class TaskWorker(river.Worker[TaskArgs]):
    """An async worker running a test-supplied behaviour (none: return at once)."""

    def __init__(
        self,
        tracker: Tracker,
        behaviour: AsyncBehaviour | None = None,
        *,
        timeout: float | None = None,
        retry_at: RetryAt | None = None,
    ) -> None:
        self.tracker = tracker
        self.behaviour = behaviour
        self.timeout = timeout
        self.retry_at = retry_at

    async def work(self, job: river.Job[TaskArgs]) -> None:
        self.tracker.started(job)
        try:
            if self.behaviour is not None:
                await self.behaviour(job)
        except asyncio.CancelledError:
            self.tracker.ended(job, "cancelled")
            raise
        except BaseException as exc:
            self.tracker.ended(job, f"raised {type(exc).__name__}")
            raise
        self.tracker.ended(job, "returned")

    def next_retry(self, job: river.Job[TaskArgs]) -> datetime | None:
        return None if self.retry_at is None else self.retry_at(job)


class SyncTaskWorker(river.Worker[SyncTaskArgs]):
    """A sync worker (runs in a thread) running a test-supplied behaviour."""

    def __init__(
        self,
        tracker: Tracker,
        behaviour: SyncBehaviour | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        self.tracker = tracker
        self.behaviour = behaviour
        self.timeout = timeout

    def work(self, job: river.Job[SyncTaskArgs]) -> None:
        self.tracker.started(job)
        try:
            if self.behaviour is not None:
                self.behaviour(job)
        except BaseException as exc:
            self.tracker.ended(job, f"raised {type(exc).__name__}")
            raise
        self.tracker.ended(job, "returned")


def wait_flag(job: river.Job[Any], timeout: float = WAIT) -> bool:
    """In a sync worker: poll `should_stop()` until it is set or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not job.should_stop():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def make_client(
    driver: Driver,
    *workers: river.Worker[Any],
    queues: Iterable[str] = ("default",),
    max_workers: int = 10,
    **config: Any,
) -> river.AsyncClient:
    """An AsyncClient working `queues` with `workers`; `config` goes to `river.Config`."""
    registry = river.Workers()
    for worker in workers:
        registry.add(worker)
    return river.AsyncClient(
        driver,
        river.Config(
            queues={q: river.QueueConfig(max_workers=max_workers) for q in queues},
            workers=registry,
            **config,
        ),
    )


@asynccontextmanager
async def running(client: river.AsyncClient) -> AsyncIterator[river.AsyncClient]:
    """Start `client`; on exit stop it hard if the test has not stopped it already."""
    await client.start()
    try:
        yield client
    finally:
        if client.started:
            await asyncio.wait_for(client.stop_and_cancel(), 30)


async def wait_until(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    timeout: float = WAIT,
    interval: float = 0.01,
) -> T:
    """Poll the async `check` until it returns something other than None."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_for_job(
    client: river.AsyncClient,
    job_id: int,
    states: Collection[JobState],
    timeout: float = WAIT,
    interval: float = 0.01,
    *,
    errors: int | None = None,
) -> JobRow:
    """Poll the job until it is in one of `states` (and, if given, has `errors` errors)."""
    last: list[JobRow] = []

    async def check() -> JobRow | None:
        row = await client.job_get(job_id)
        last[:] = [row]
        if errors is not None and len(row.errors) != errors:
            return None
        return row if row.state in states else None

    try:
        return await wait_until(check, f"job {job_id} in {sorted(states)}", timeout, interval)
    except AssertionError as exc:
        state = last[0].state if last else "?"
        raise AssertionError(f"{exc}; last state {state}") from None


async def count_by_state(driver: Driver) -> dict[JobState, int]:
    """How many jobs are in each state."""
    async with driver.async_transaction() as ex:
        return await ex.run(lambda e: e.job_count_by_all_states())


def listener_pids(engine: sa.Engine, schema: str) -> list[int]:
    """Backends whose last statement was a LISTEN on one of `schema`'s channels."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%' "
                "AND strpos(query, :schema) > 0"
            ),
            {"schema": f"{schema}.river_"},
        )
        return [int(r[0]) for r in rows]
