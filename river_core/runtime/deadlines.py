"""Job timeouts with one timer per client instead of one per job."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class Deadlines:
    """Calls `on_expired(item)` once `seconds` have passed since `add(item, seconds)`.

    A heap of deadlines and a single loop timer set for the earliest one: adding a deadline is
    a heap push, not an asyncio timer per job. Callers ignore expiries of items already done.
    """

    def __init__(self, on_expired: Callable[[object], None]) -> None:
        self._on_expired = on_expired
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
