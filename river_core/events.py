"""Events of a working client and subscriptions to them (River's `Event`, `Subscribe`).

Job events are emitted after the completer has written the outcome, with the job as persisted
and its timings; queue events when this client's producer of a queue pauses or resumes. Each
subscription has its own bounded buffer: the runtime never waits for a slow subscriber, it
drops the event instead, counts it (`Subscription.dropped`) and logs it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from river_core.errors import ValidationError
from river_core.job import JobRow

__all__ = [
    "DEFAULT_SUBSCRIPTION_SIZE",
    "Event",
    "EventKind",
    "JobStatistics",
    "Subscription",
    "Subscriptions",
]

log = logging.getLogger("river.events")

DEFAULT_SUBSCRIPTION_SIZE = 1_000  # River's default channel size
DROP_LOG_INTERVAL = 1.0  # seconds between two warnings of one subscription's drops


class EventKind(enum.StrEnum):
    JOB_CANCELLED = "job_cancelled"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"  # an attempt failed: retried later, or discarded
    JOB_INTERRUPTED = "job_interrupted"  # stopped by the client's hard stop, made available
    JOB_SNOOZED = "job_snoozed"
    QUEUE_PAUSED = "queue_paused"
    QUEUE_RESUMED = "queue_resumed"


JOB_EVENT_KINDS = frozenset(k for k in EventKind if k.startswith("job_"))


@dataclass(frozen=True, slots=True)
class JobStatistics:
    """Seconds the job waited to start (from `scheduled_at`), ran, and waited for its outcome
    to be written."""

    queue_wait_duration: float
    run_duration: float
    complete_duration: float


@dataclass(frozen=True, slots=True)
class Event:
    """A job event carries `job` (as persisted) and `stats` (None for a job whose outcome was
    produced before anyone subscribed); a queue event carries the `queue` name."""

    kind: EventKind
    job: JobRow | None = None
    stats: JobStatistics | None = None
    queue: str | None = None


class Subscription:
    """A bounded stream of events: `async for event in subscription`, or `await get()`.

    It ends (after its buffered events) when closed: by `close()`, leaving a `with` block, or
    when the client stops.
    """

    def __init__(
        self, kinds: frozenset[EventKind], size: int, on_close: Callable[[Subscription], None]
    ) -> None:
        self.kinds = kinds
        self.size = size
        self.dropped = 0
        self._events: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._on_close = on_close
        self._last_drop_log = 0.0

    def offer(self, event: Event) -> None:
        """Buffer `event`, or drop it when the buffer is full (never waits)."""
        if len(self._events) >= self.size:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log >= DROP_LOG_INTERVAL:
                self._last_drop_log = now
                log.warning(
                    "subscription buffer full (%d events): dropped %s (%d dropped so far)",
                    self.size,
                    event.kind,
                    self.dropped,
                )
            return
        self._events.append(event)
        self._ready.set()

    async def get(self) -> Event:
        """The next event; raises `StopAsyncIteration` once closed and drained."""
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._events.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        """Stop receiving events; those buffered can still be read."""
        if not self._closed:
            self._closed = True
            self._ready.set()
            self._on_close(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Subscriptions:
    """A client's subscriptions, and what they listen for.

    `on_change` (set by the running engine) is told whenever whether anyone listens for job
    events may have changed.
    """

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.wants_job_events = False
        self.on_change: Callable[[], None] | None = None

    def subscribe(
        self, kinds: Iterable[EventKind | str], size: int = DEFAULT_SUBSCRIPTION_SIZE
    ) -> Subscription:
        if isinstance(kinds, str):
            kinds = [kinds]
        try:
            wanted = frozenset(EventKind(k) for k in kinds)
        except ValueError as exc:
            raise ValidationError("kinds", str(exc)) from None
        if not wanted:
            raise ValidationError("kinds", "subscribe to at least one event kind")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValidationError("size", f"must be an integer >= 1, got {size!r}")
        subscription = Subscription(wanted, size, self._remove)
        self._subscriptions.append(subscription)
        self._changed()
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        self._subscriptions.remove(subscription)
        self._changed()

    def _changed(self) -> None:
        self.wants_job_events = any(s.kinds & JOB_EVENT_KINDS for s in self._subscriptions)
        if self.on_change is not None:
            self.on_change()

    def emit(self, event: Event) -> None:
        for subscription in self._subscriptions:
            if event.kind in subscription.kinds:
                subscription.offer(event)

    def close_all(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
