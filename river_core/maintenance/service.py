"""The shared shape of a leader-only maintenance service (River's `QueueMaintainerServiceBase`).

A service runs on its interval after a small random start stagger, works in bounded batches,
each batch in its own transaction under a timeout, switches to a smaller batch size for good
after repeated timeouts, and writes one debug log line per run with its start, end and counts.
Every database call is also bounded by the leader's lease: nothing a service starts can still
run when this client's leadership could have passed to another.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

from river_core.driver import Driver, Executor
from river_core.errors import QueryCanceledError
from river_core.runtime.db import run_in_tx

T = TypeVar("T")

log = logging.getLogger("river.maintenance")

Lease = Callable[[], float]
"""Seconds this client may still act as leader (0: it may not)."""

BATCH_SIZE = 10_000  # River's BatchSizeDefault
REDUCED_BATCH_SIZE = 1_000  # River's BatchSizeReduced
TIMEOUT = 30.0  # River's maintenance TimeoutDefault
BATCH_PAUSE = (0.05, 1.0)  # River's BatchBackoffMin/Max: breathing room between batches
MAX_STAGGER = 1.0  # River's StaggerStart: up to 1 s (here also never above the interval)


def _unlimited() -> float:
    return math.inf


class LeadershipEndedError(Exception):
    """The lease ran out: a maintenance service must not touch the database any more."""


class ReducedBatchBreaker:
    """River's reduced-batch circuit breaker: `limit` timeouts in a row within `window`
    seconds open it, and it stays open for the life of the process. A success in between
    resets the count."""

    def __init__(self, limit: int = 3, window: float = 600.0) -> None:
        self._limit = limit
        self._window = window
        self._trips: list[float] = []
        self.open = False

    def trip(self) -> None:
        if self.open:
            return
        now = time.monotonic()
        self._trips = [t for t in self._trips if t >= now - self._window]
        self._trips.append(now)
        self.open = len(self._trips) >= self._limit

    def reset_if_not_open(self) -> None:
        if not self.open:
            self._trips.clear()


class MaintenanceService(abc.ABC):
    """A leader-only loop; subclasses implement `_run` (one run, returning its counts)."""

    name: ClassVar[str]

    def __init__(
        self,
        driver: Driver,
        *,
        interval: float,
        timeout: float = TIMEOUT,
        batch_size: int = BATCH_SIZE,
        reduced_batch_size: int = REDUCED_BATCH_SIZE,
        client_id: str = "",
    ) -> None:
        self.driver = driver
        self.interval = interval
        self.timeout = timeout
        self.client_id = client_id
        self._batch_sizes = (batch_size, reduced_batch_size)
        self.breaker = ReducedBatchBreaker()
        self._lease: Lease = _unlimited

    @property
    def batch_size(self) -> int:
        return self._batch_sizes[1] if self.breaker.open else self._batch_sizes[0]

    async def run(self, lease: Lease) -> None:
        """Run until cancelled or the lease ends: stagger, then a run at once and one every
        interval."""
        self._lease = lease
        await self._stagger()
        while True:
            started = time.monotonic()
            if not await self._run_logged():
                return
            await asyncio.sleep(max(0.0, started + self.interval - time.monotonic()))

    async def _stagger(self) -> None:
        await asyncio.sleep(random.uniform(0, min(MAX_STAGGER, self.interval)))

    async def _run_logged(self) -> bool:
        """`run_once`, its errors logged; False once the lease has ended."""
        try:
            await self.run_once()
        except LeadershipEndedError:
            return False
        except Exception:
            pass  # logged by run_once; the next run tries again
        return True

    async def run_once(self) -> dict[str, int]:
        """One run, logged at debug level with its start, end and counts (errors too)."""
        start = datetime.now(UTC)
        counts: dict[str, int] = {}
        error: Exception | None = None
        try:
            counts = await self._run()
            return counts
        except Exception as exc:
            error = exc
            raise
        finally:
            end = datetime.now(UTC)
            extra = {
                "river_service": self.name,
                "river_client_id": self.client_id,
                "river_run_start": start.timestamp(),
                "river_run_end": end.timestamp(),
                "river_counts": counts,
                "river_error": None if error is None else repr(error),
            }
            summary = " ".join(f"{k}={v}" for k, v in counts.items())
            log.debug(
                "%s: ran from %s to %s%s%s",
                self.name,
                start.isoformat(),
                end.isoformat(),
                f": {summary}" if summary else "",
                "" if error is None else f": failed: {error!r}",
                extra=extra,
            )
            if error is not None and not isinstance(error, LeadershipEndedError):
                log.error("%s: run failed: %s", self.name, error)

    @abc.abstractmethod
    async def _run(self) -> dict[str, int]:
        """Do one run's work; return its counts."""

    def _budget(self, timeout: float) -> tuple[float, bool]:
        """The time a database call may take, and whether the lease (not `timeout`) bounds it."""
        lease = self._lease()
        if lease <= 0:
            raise LeadershipEndedError(self.name)
        return min(timeout, lease), lease < timeout

    async def _bounded(self, call: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Await `call()` within the budget; a timeout of the service's own trips the breaker."""
        budget, lease_bound = self._budget(timeout)
        lease_end = time.monotonic() + budget  # when lease-bound: no earlier than its real end
        try:
            async with asyncio.timeout(budget):
                result = await call()
        except TimeoutError:
            if lease_bound:
                if not self._lease_ends_after(lease_end):
                    raise LeadershipEndedError(self.name) from None
                # The lease was renewed meanwhile: this run failed, the service goes on.
                raise TimeoutError(
                    f"no answer within the {budget:.1f}s left of the lease"
                ) from None
            self.breaker.trip()
            raise
        except QueryCanceledError:
            self.breaker.trip()
            raise
        self.breaker.reset_if_not_open()
        return result

    def _lease_ends_after(self, moment: float) -> bool:
        """Whether this client still leads after `moment` (a `time.monotonic()`): its lease
        was renewed since."""
        lease = self._lease()
        return lease > 0 and time.monotonic() + lease > moment

    async def _batch(self, fn: Callable[[Executor], T]) -> T:
        """Run `fn` in its own transaction, bounded by the timeout and the lease."""
        return await self._bounded(lambda: run_in_tx(self.driver, fn), self.timeout)

    async def _pause_between_batches(self) -> None:
        await asyncio.sleep(random.uniform(*BATCH_PAUSE))


__all__ = [
    "BATCH_SIZE",
    "REDUCED_BATCH_SIZE",
    "TIMEOUT",
    "LeadershipEndedError",
    "Lease",
    "MaintenanceService",
    "ReducedBatchBreaker",
]
