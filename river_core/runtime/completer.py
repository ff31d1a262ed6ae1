"""The completer: writes job outcomes in batches, one statement per batch, never losing one."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence

from sqlalchemy.exc import DBAPIError

from river_core.driver import Driver, Executor, JobSetStateIfRunningParams
from river_core.errors import DatabaseError
from river_core.job import JobRow
from river_core.runtime.db import run_one_statement

log = logging.getLogger("river.completer")

WRITE_TIMEOUT = 10.0  # River's completer: each attempt at writing a batch gets 10 s

# Told of each written batch: its outcomes, and the rows after the write (in id order).
WrittenCallback = Callable[[Sequence[JobSetStateIfRunningParams], Sequence[JobRow]], None]


class Completer:
    """Collects outcomes and flushes them every `flush_interval` seconds or when `max_batch` wait.

    Transient database errors (lost connection, serialization failure) are retried with backoff,
    as are writes cancelled after `WRITE_TIMEOUT` seconds (a lock); outcomes stay queued until
    written. `submit` waits when too many outcomes are queued, which
    slows fetching instead of growing memory without bound. Rows are read back (RETURNING) for
    `on_written` only while `wants_rows()` says someone needs them.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        flush_interval: float = 0.05,
        max_batch: int = 5_000,
        on_written: WrittenCallback | None = None,
        wants_rows: Callable[[], bool] = lambda: True,
    ) -> None:
        self._driver = driver
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._on_written = on_written
        self._wants_rows = wants_rows
        self._pending: list[JobSetStateIfRunningParams] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.batches_written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="river-completer")

    async def submit(self, outcome: JobSetStateIfRunningParams) -> None:
        """Queue an outcome; waits while the backlog is over four batches."""
        while not self._room.is_set():
            await self._room.wait()
        self._pending.append(outcome)
        if len(self._pending) >= self._max_batch:
            self._wake.set()
        if len(self._pending) >= 4 * self._max_batch:
            self._room.clear()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def stop(self) -> None:
        """Write everything queued, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            await self._flush()
            if self._stopping and not self._pending:
                return

    @staticmethod
    def _write(
        batch: list[JobSetStateIfRunningParams], returning: bool, ex: Executor
    ) -> list[JobRow]:
        return ex.job_set_state_if_running_many(batch, returning=returning)

    async def _flush(self) -> None:
        backoff = 0.05
        while self._pending:
            batch = self._pending[: self._max_batch]
            returning = self._on_written is not None and self._wants_rows()
            try:
                rows = await run_one_statement(
                    self._driver,
                    functools.partial(self._write, batch, returning),
                    timeout=WRITE_TIMEOUT,
                    what=f"completer: writing {len(batch)} outcomes",
                )
            except (DatabaseError, DBAPIError, OSError) as exc:
                log.warning("completer: writing %d outcomes failed, retrying: %s", len(batch), exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            except Exception:
                # Not a database fault: retrying cannot help. The jobs stay `running` and the
                # rescuer retries them after `rescue_stuck_jobs_after`.
                log.exception("completer: dropping %d outcomes after a bug", len(batch))
                rows = []
            del self._pending[: len(batch)]
            self.batches_written += 1
            if len(self._pending) < 4 * self._max_batch:
                self._room.set()
            if returning and self._on_written is not None:
                self._on_written(batch, rows)
