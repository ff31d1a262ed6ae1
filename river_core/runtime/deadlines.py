"""Job timeouts with one timer per client instead of one per job."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class Deadlines:
    """Calls `on_expired(item)` once `seconds` have passed since `add(item, seconds)`.

    A heap of deadlines and a single loop timer set for the earliest one: adding a deadline is
    a heap push, not an asyncio timer per job. `done()` reports an item that finished in time;
    once more than half the heap is such items it is rebuilt without them (as asyncio does with
    cancelled timers), so finished jobs are not kept alive until their deadline.
    """

    def __init__(
        self, on_expired: Callable[[object], None], is_live: Callable[[object], bool]
    ) -> None:
        self._on_expired = on_expired
        self._is_live = is_live
        self._finished = 0
        self._heap: list[tuple[float, int, object]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def add(self, item: object, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + seconds
        heapq.heappush(self._heap, (at, next(self._order), item))
        if at < self._timer_at:
            self._arm(loop, at)

    def done(self) -> None:
        """One item added earlier finished before its deadline."""
        self._finished += 1
        if self._finished > 256 and self._finished * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if self._is_live(entry[2])]
            heapq.heapify(self._heap)
            self._finished = 0

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_at(at, self._fire)

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer, self._timer_at = None, float("inf")
        now = loop.time()
        while self._heap and self._heap[0][0] <= now:
            _, _, item = heapq.heappop(self._heap)
            self._on_expired(item)
        if self._heap:
            self._arm(loop, self._heap[0][0])

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._heap.clear()
