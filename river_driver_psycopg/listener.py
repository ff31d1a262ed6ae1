"""LISTEN/NOTIFY on one dedicated, never pooled, autocommit psycopg `AsyncConnection`."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from river_core.driver import TOPIC_CONTROL, TOPIC_INSERT, TOPIC_LEADERSHIP, Listener, Notification
from river_core.errors import ConnectionLostError, ValidationError
from river_core.identifiers import notify_channel, validate_schema

TOPICS = frozenset({TOPIC_CONTROL, TOPIC_INSERT, TOPIC_LEADERSHIP})


def validate_topic(topic: str) -> str:
    """Return `topic` if it is one of River's fixed topics (channel names are never free text)."""
    if topic not in TOPICS:
        raise ValidationError("topic", f"{topic!r} is not one of {sorted(TOPICS)}")
    return topic


class PsycopgListener(Listener):
    """A psycopg listener on `<schema or public>.<topic>` channels.

    The set of topics outlives the connection: after a `ConnectionLostError`, `close()` or a
    failed `connect()`, the next `connect()` opens a new connection and LISTENs to all of them.
    """

    def __init__(self, connect_kwargs: Mapping[str, Any], schema: str | None = None) -> None:
        self.schema = validate_schema(schema)
        self._connect_kwargs = dict(connect_kwargs)
        self._prefix = notify_channel(self.schema, "")
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._topics: set[str] = set()
        self._pending: deque[psycopg.Notify] = deque()

    @property
    def topics(self) -> frozenset[str]:
        """The topics LISTENed to (re-LISTENed on every connect)."""
        return frozenset(self._topics)

    @property
    def backend_pid(self) -> int | None:
        """The server process id of the live connection, None when not connected."""
        return None if self._conn is None else self._conn.info.backend_pid

    async def connect(self) -> None:
        """Open the connection (a no-op when one is live) and LISTEN to every known topic."""
        if self._conn is not None and not self._conn.closed:
            return
        self._conn = None
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            conn = await psycopg.AsyncConnection.connect(**self._connect_kwargs, autocommit=True)
            for topic in sorted(self._topics):
                await conn.execute(self._listen_sql("LISTEN", topic))
        except psycopg.Error as exc:
            if conn is not None:
                await conn.close()
            raise ConnectionLostError(f"listener could not connect: {exc}") from exc
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._pending.clear()
        if conn is not None:
            await conn.close()

    async def listen(self, topic: str) -> None:
        self._topics.add(validate_topic(topic))
        if self._conn is not None:
            await self._execute(self._listen_sql("LISTEN", topic))

    async def unlisten(self, topic: str) -> None:
        self._topics.discard(validate_topic(topic))
        if self._conn is not None:
            await self._execute(self._listen_sql("UNLISTEN", topic))

    async def ping(self) -> None:
        await self._execute(sql.SQL("SELECT 1"))

    async def wait_for_notification(self, timeout: float | None = None) -> Notification | None:
        if not self._pending:
            conn = self._live()
            try:
                # Consume the generator to its end: notifications that arrive in the same packet
                # as the first one would be lost if we broke out of it early.
                async for notify in conn.notifies(timeout=timeout, stop_after=1):
                    self._pending.append(notify)
            except psycopg.Error as exc:
                await self._raise_if_lost(conn, exc)
                raise
        if not self._pending:
            return None
        notify = self._pending.popleft()
        return Notification(topic=notify.channel.removeprefix(self._prefix), payload=notify.payload)

    def _listen_sql(self, command: str, topic: str) -> sql.Composed:
        return sql.SQL(command + " {}").format(sql.Identifier(notify_channel(self.schema, topic)))

    def _live(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            raise ConnectionLostError("listener is not connected: call connect()")
        return self._conn

    async def _execute(self, statement: sql.Composed | sql.SQL) -> None:
        conn = self._live()
        try:
            await conn.execute(statement)
        except psycopg.Error as exc:
            await self._raise_if_lost(conn, exc)
            raise

    async def _raise_if_lost(self, conn: psycopg.AsyncConnection[Any], exc: psycopg.Error) -> None:
        """Forget a connection that `exc` broke and raise ConnectionLostError for it."""
        if conn.closed or conn.broken:
            self._conn = None
            await conn.close()
            raise ConnectionLostError(f"listener connection lost: {exc}") from exc
