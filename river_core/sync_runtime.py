"""Working jobs from a sync `Client`: the async runtime on its own event loop in a thread.

A sync client's driver has a sync `Engine`; the runtime is asyncio, so it gets an `AsyncEngine`
built from the same URL with the same DBAPI (psycopg 3 serves both) and a driver of the same
class, and an `AsyncClient` sharing the client's `Config`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from river_core.client import AsyncClient, Client
from river_core.driver import Driver
from river_core.errors import RiverError

__all__ = ["BackgroundRuntime", "async_twin"]


async def _nothing() -> None:
    return None


async def async_twin(
    client: Client | AsyncClient,
) -> tuple[AsyncClient, Callable[[], Awaitable[None]]]:
    """An AsyncClient that works `client`'s jobs, and the coroutine function disposing of what
    it built (the async engine). Call it on the loop that will run the AsyncClient."""
    if isinstance(client, AsyncClient):
        return client, _nothing
    driver = client.driver
    engine = getattr(driver, "engine", None)
    if not isinstance(engine, sa.Engine):
        raise RiverError(f"a sync Client needs a driver on a sync Engine, not {driver!r}")
    async_engine = create_async_engine(engine.url, **_pool_kwargs(engine))
    kwargs: dict[str, Any] = {"schema": driver.schema}
    if getattr(driver, "listener_url", None) is not None:
        kwargs["listener_url"] = driver.listener_url  # type: ignore[attr-defined]
    if getattr(driver, "pgbouncer", False):
        kwargs["pgbouncer"] = True
    driver_class: Callable[..., Driver] = type(driver)  # a SqlAlchemyDriver subclass
    try:
        async_driver = driver_class(async_engine, **kwargs)
    except BaseException:
        await async_engine.dispose()
        raise
    twin = AsyncClient(async_driver, client.config)
    twin._periodic_jobs = client.periodic_jobs  # changes made on `client` reach the runtime
    return twin, async_engine.dispose


def _pool_kwargs(engine: sa.Engine) -> dict[str, Any]:
    """The sync engine's pool size and overflow, when it has a sized pool."""
    pool = engine.pool
    if isinstance(pool, sa.pool.QueuePool):
        return {"pool_size": pool.size(), "max_overflow": pool._max_overflow}
    if isinstance(pool, sa.pool.NullPool):
        return {"poolclass": sa.pool.NullPool}
    return {}


class BackgroundRuntime:
    """An AsyncClient running in a daemon thread with its own event loop."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._twin: AsyncClient | None = None
        self._done: asyncio.Event | None = None

    def start(self) -> None:
        """Start working jobs; returns once started, raising what the start raised."""
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)), name="river-client", daemon=True
        )
        self._thread.start()
        ready.result()

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        self._done = asyncio.Event()
        try:
            twin, dispose = await async_twin(self._client)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        try:
            await twin.start()
        except BaseException as exc:
            await dispose()
            ready.set_exception(exc)
            return
        self._loop, self._twin = asyncio.get_running_loop(), twin
        ready.set_result(None)
        try:
            await self._done.wait()
        finally:
            await dispose()

    def stop(self, *, hard: bool) -> None:
        """Soft (or hard) stop of the AsyncClient; returns once it stopped and its engine is
        disposed. A hard stop while a soft one is under way escalates it."""
        loop, twin, done, thread = self._loop, self._twin, self._done, self._thread
        if loop is None or twin is None or done is None or thread is None:
            return
        stop = twin.stop_and_cancel() if hard else twin.stop()
        try:
            asyncio.run_coroutine_threadsafe(stop, loop).result()
        finally:
            loop.call_soon_threadsafe(done.set)
            thread.join()
