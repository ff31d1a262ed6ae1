"""Job counts for the dashboard that stay cheap on big tables.

Each count reads at most `COUNT_LIMIT` index entries; a state past that shows the planner's
estimate instead (table size times the state column's statistics: no rows read), as River UI
shows cached counts on big tables. Queues are counted up to `QUEUE_COUNT_LIMIT` each in lists
(a hundred queues then read at most 200,000 entries), up to `COUNT_LIMIT` on a queue's page.
Results are cached for a few seconds, shared by every request, and dropped when this process
changes jobs or queues.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from river_core.driver import Executor, Queue
from river_core.job import JobState

T = TypeVar("T")

COUNT_LIMIT = 10_000
QUEUE_COUNT_LIMIT = 1_000
CACHE_SECONDS = 3.0
QUEUE_LIST_MAX = 100


@dataclass(frozen=True, slots=True)
class StateCounts:
    """Jobs per state; those in `estimated` are at least COUNT_LIMIT and estimated."""

    counts: dict[JobState, int]
    estimated: frozenset[JobState]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """A queue and its available and running jobs, each counted up to `limit`."""

    queue: Queue
    available: int
    running: int
    limit: int


def state_counts(ex: Executor) -> StateCounts:
    """Exact counts up to COUNT_LIMIT per state; estimates (never below it) past that."""
    counts = ex.job_count_by_all_states(limit=COUNT_LIMIT)
    big = frozenset(state for state, count in counts.items() if count >= COUNT_LIMIT)
    if big:
        estimate = ex.job_count_estimate_by_state()
        for state in big:
            counts[state] = max(COUNT_LIMIT, estimate.get(state, 0))
    return StateCounts(counts=counts, estimated=big)


def queue_summaries(ex: Executor, max: int = QUEUE_LIST_MAX) -> list[QueueSummary]:
    """The first `max` queues by name, with their counts (up to QUEUE_COUNT_LIMIT)."""
    return summarize(ex, ex.queue_list(max), QUEUE_COUNT_LIMIT)


def summarize(ex: Executor, queues: list[Queue], limit: int) -> list[QueueSummary]:
    """`queues` with their available and running jobs, each counted up to `limit`."""
    counts = ex.job_count_by_queue_and_state([q.name for q in queues], limit=limit)
    by_name = {c.queue: c for c in counts}
    return [
        QueueSummary(q, by_name[q.name].count_available, by_name[q.name].count_running, limit)
        for q in queues
    ]


class Cached(Generic[T]):
    """One value loaded at most once per `seconds` (concurrent requests share one load)."""

    def __init__(
        self,
        load: Callable[[], Awaitable[T]],
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._seconds = seconds
        self._clock = clock
        self._value: T | None = None
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        if self._value is not None and self._clock() - self._loaded_at < self._seconds:
            return self._value
        async with self._lock:
            if self._value is None or self._clock() - self._loaded_at >= self._seconds:
                started = self._clock()
                self._value = await self._load()
                self._loaded_at = started
            return self._value

    def invalidate(self) -> None:
        self._value = None
