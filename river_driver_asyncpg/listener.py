"""LISTEN/NOTIFY on one dedicated, never pooled asyncpg connection (asyncpg autocommits)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from river_core.driver import TOPIC_CONTROL, TOPIC_INSERT, TOPIC_LEADERSHIP, Listener, Notification
from river_core.errors import ConnectionLostError, ValidationError
from river_core.identifiers import notify_channel, validate_schema

TOPICS = frozenset({TOPIC_CONTROL, TOPIC_INSERT, TOPIC_LEADERSHIP})

# What asyncpg raises when the connection is gone or cannot be made.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)


def validate_topic(topic: str) -> str:
    """Return `topic` if it is one of River's fixed topics (channel names are never free text)."""
    if topic not in TOPICS:
        raise ValidationError("topic", f"{topic!r} is not one of {sorted(TOPICS)}")
    return topic


@dataclass(frozen=True, slots=True)
class _Lost:
    """Queued by asyncpg's termination callback: `conn` is gone."""

    conn: object


class AsyncpgListener(Listener):
    """An asyncpg listener on `<schema or public>.<topic>` channels.

    Notifications arrive through `add_listener` callbacks into an `asyncio.Queue`. The set of
    topics outlives the connection: after a `ConnectionLostError`, `close()` or a failed
    `connect()`, the next `connect()` opens a new connection and LISTENs to all of them.
    """

    def __init__(self, connect_kwargs: Mapping[str, Any], schema: str | None = None) -> None:
        self.schema = validate_schema(schema)
        self._connect_kwargs = dict(connect_kwargs)
        self._prefix = notify_channel(self.schema, "")
        self._conn: asyncpg.Connection | None = None
        self._topics: set[str] = set()
        self._queue: asyncio.Queue[Notification | _Lost] = asyncio.Queue()

    @property
    def topics(self) -> frozenset[str]:
        """The topics LISTENed to (re-LISTENed on every connect)."""
        return frozenset(self._topics)

    @property
    def backend_pid(self) -> int | None:
        """The server process id of the live connection, None when not connected."""
        return None if self._conn is None else int(self._conn.get_server_pid())

    async def connect(self) -> None:
        """Open the connection (a no-op when one is live) and LISTEN to every known topic."""
        if self._conn is not None and not self._conn.is_closed():
            return
        self._conn = None
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(**self._connect_kwargs)
            for topic in sorted(self._topics):
                await conn.add_listener(notify_channel(self.schema, topic), self._on_notify)
        except CONNECTION_ERRORS as exc:
            if conn is not None:
                conn.terminate()
            raise ConnectionLostError(f"listener could not connect: {exc}") from exc
        conn.add_termination_listener(self._on_terminate)
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._queue = asyncio.Queue()
        if conn is not None:
            conn.remove_termination_listener(self._on_terminate)
            await conn.close()

    async def listen(self, topic: str) -> None:
        self._topics.add(validate_topic(topic))
        if self._conn is not None:
            conn = self._conn
            await self._guard(
                conn, conn.add_listener(notify_channel(self.schema, topic), self._on_notify)
            )

    async def unlisten(self, topic: str) -> None:
        self._topics.discard(validate_topic(topic))
        if self._conn is not None:
            conn = self._conn
            await self._guard(
                conn, conn.remove_listener(notify_channel(self.schema, topic), self._on_notify)
            )

    async def ping(self) -> None:
        conn = self._live()
        await self._guard(conn, conn.execute("SELECT 1"))

    async def wait_for_notification(self, timeout: float | None = None) -> Notification | None:
        conn = self._live()
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                return None
            if not isinstance(item, _Lost):
                return item
            if item.conn is conn:  # else: the loss of an older connection, already handled
                self._conn = None
                raise ConnectionLostError("listener connection lost")

    def _on_notify(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._queue.put_nowait(
            Notification(topic=channel.removeprefix(self._prefix), payload=str(payload))
        )

    def _on_terminate(self, conn: object) -> None:
        self._queue.put_nowait(_Lost(conn))

    def _live(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = None
            raise ConnectionLostError("listener is not connected: call connect()")
        return self._conn

    async def _guard(self, conn: asyncpg.Connection, operation: Awaitable[object]) -> None:
        """Await `operation` on `conn`; a connection failure forgets `conn` and is re-raised."""
        try:
            await operation
        except CONNECTION_ERRORS as exc:
            if conn.is_closed():
                self._conn = None
                raise ConnectionLostError(f"listener connection lost: {exc}") from exc
            raise
