"""The notifier: one listener connection per client, dispatching River's notifications."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from river_core.driver import Driver, Listener

log = logging.getLogger("river.notifier")

Handler = Callable[[dict[str, Any]], None]


class Notifier:
    """Keeps a Listener connected and LISTENing, with backoff; calls `on_connect` after each
    (re)connect so producers fetch once and nothing waits for a poll after a lost notification.
    """

    def __init__(
        self,
        driver: Driver,
        handlers: dict[str, Handler],
        on_connect: Callable[[], None],
        *,
        ping_interval: float = 5.0,
    ) -> None:
        self._driver = driver
        self._handlers = handlers
        self._on_connect = on_connect
        self._ping_interval = ping_interval
        self._listener: Listener | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="river-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._listener is not None:
            await self._close()

    async def _close(self) -> None:
        assert self._listener is not None
        try:
            await self._listener.close()
        except Exception as exc:
            log.debug("notifier: closing listener: %s", exc)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            self._listener = self._driver.listener()
            try:
                await self._listener.connect()
                for topic in self._handlers:
                    await self._listener.listen(topic)
                self.connected.set()
                backoff = 0.05
                self._on_connect()
                while True:
                    notification = await self._listener.wait_for_notification(self._ping_interval)
                    if notification is None:
                        await self._listener.ping()
                        continue
                    self._dispatch(notification.topic, notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                self.reconnects += 1
                log.warning("notifier: listener failed, reconnecting in %.2fs: %s", backoff, exc)
                await self._close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _dispatch(self, topic: str, payload: str) -> None:
        handler = self._handlers.get(topic)
        if handler is None:
            return
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("notifier: ignoring a malformed %s payload", topic)
            return
        if isinstance(message, dict):
            handler(message)
