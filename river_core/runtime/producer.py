"""A producer works one queue: fetches available jobs into free slots and runs them."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from river_core.driver import Driver, Executor, JobGetAvailableParams, JobSetStateIfRunningParams
from river_core.job import JobRow
from river_core.runtime.completer import Completer
from river_core.runtime.db import run_one_statement
from river_core.runtime.job_executor import (
    Execution,
    ExecutorSettings,
    StopReason,
    ThreadRunner,
    execute,
)

log = logging.getLogger("river.producer")

# A fetch unanswered for this long (river_job locked, the server stalled) is cancelled with a
# warning, then retried: a blocked fetch must not hang the producer or a soft stop.
FETCH_TIMEOUT = 10.0


def _get_available(ex: Executor, *, params: JobGetAvailableParams) -> list[JobRow]:
    return ex.job_get_available(params)


class Producer:
    """Fetches with one `job_get_available` per wake-up, for at most the free slots.

    Wake-ups come from insert notifications, the poll timer, a freed slot after a fetch that
    filled every slot, and listener reconnects. The fetch cooldown applies only after a fetch
    that filled every free slot, so a lone job on an idle queue starts at once.
    """

    def __init__(
        self,
        *,
        queue: str,
        max_workers: int,
        client_id: str,
        driver: Driver,
        completer: Completer,
        settings: ExecutorSettings,
        threads: ThreadRunner,
        fetch_cooldown: float,
        fetch_poll_interval: float,
        paused: bool = False,
        on_job_done: Callable[[JobRow, JobSetStateIfRunningParams | None], None] | None = None,
    ) -> None:
        self.queue = queue
        self.max_workers = max_workers
        self._client_id = client_id
        self._driver = driver
        self._completer = completer
        self._settings = settings
        self._threads = threads
        self._cooldown = fetch_cooldown
        self._poll = fetch_poll_interval
        self._on_job_done = on_job_done
        self.paused = paused
        self.running: dict[int, Execution] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._backlog = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._fetch_loop(), name=f"river-producer-{self.queue}")

    def wake(self) -> None:
        """Fetch soon (an insert notification, a reconnect, a resume)."""
        self._wake.set()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._wake.set()

    def cancel_job(self, job_id: int) -> bool:
        """Cancel a running job of this producer (a remote `job_cancel`)."""
        execution = self.running.get(job_id)
        if execution is None:
            return False
        execution.request_stop(StopReason.REMOTE_CANCEL)
        return True

    async def stop(self, *, hard: bool) -> None:
        """Stop fetching; soft waits for running jobs, hard cancels them first."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if hard:
            self.stop_running_jobs()
        await self.wait_idle(include_threads=not hard)

    def stop_running_jobs(self) -> None:
        for execution in list(self.running.values()):
            execution.request_stop(StopReason.CLIENT_STOP)

    async def wait_idle(self, *, include_threads: bool = True) -> None:
        """Wait for running jobs; sync jobs stopped by a hard stop are not waited for."""
        while True:
            waiting = [
                e.task
                for e in self.running.values()
                if e.task is not None and (include_threads or not e.abandoned_on_stop)
            ]
            if not waiting:
                return
            await asyncio.wait(waiting)

    async def _fetch_loop(self) -> None:
        last_full_fetch = 0.0
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll)
            except TimeoutError:
                pass
            self._wake.clear()
            if self._stopping:
                return
            if self.paused:
                continue
            if self._backlog:
                wait = last_full_fetch + self._cooldown - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    if self._stopping:
                        return
            free = self.max_workers - len(self.running)
            if free <= 0 or self._completer.pending >= 4 * self.max_workers + 10_000:
                continue
            try:
                params = JobGetAvailableParams(
                    client_id=self._client_id, queue=self.queue, max_to_lock=free
                )
                rows = await run_one_statement(
                    self._driver,
                    functools.partial(_get_available, params=params),
                    timeout=FETCH_TIMEOUT,
                    what=f"producer {self.queue}: fetch",
                )
            except Exception as exc:
                log.warning("producer %s: fetch failed: %s", self.queue, exc)
                await asyncio.sleep(min(self._poll, 1.0))
                self._wake.set()
                continue
            self._backlog = len(rows) >= free
            if self._backlog:
                last_full_fetch = time.monotonic()
            for row in rows:
                self._start_job(row)

    def _start_job(self, row: JobRow) -> None:
        execution = Execution(row)
        self.running[row.id] = execution
        execution.task = asyncio.create_task(self._work(execution))

    async def _work(self, execution: Execution) -> JobSetStateIfRunningParams | None:
        outcome: JobSetStateIfRunningParams | None = None
        try:
            outcome = await execute(execution, self._settings, self._threads)
            execution.done_working = True
            self._settings.deadlines.done()
            if outcome is not None:
                await self._completer.submit(outcome)
            return outcome
        finally:
            self.running.pop(execution.row.id, None)
            if self._on_job_done is not None:
                self._on_job_done(execution.row, outcome)
            if self._backlog:
                self._wake.set()

    def stats(self) -> dict[str, Any]:
        return {"queue": self.queue, "running": len(self.running), "paused": self.paused}
