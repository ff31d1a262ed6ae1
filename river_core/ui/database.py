"""The dashboard's one way to the database: Executor callables on a sync or an async driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

from river_core.driver import Driver, Executor
from river_core.errors import RiverError

T = TypeVar("T")


class Database:
    """Runs Executor callables for request handlers without blocking the event loop: on the
    driver's AsyncEngine, or in a worker thread for a sync Engine. DBAPI errors come out as
    river_core's (`Driver.map_error`)."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    async def run(self, fn: Callable[[Executor], T], *, autocommit: bool = False) -> T:
        """`fn` in a new transaction committed when it returns, or with `autocommit` (reads
        and one-statement writes) on a connection where each statement commits on its own."""
        try:
            if self.driver.is_async:
                connect = (
                    self.driver.async_autocommit if autocommit else self.driver.async_transaction
                )
                async with connect() as ex:
                    return await ex.run(fn)
            return await anyio.to_thread.run_sync(self._run_sync, fn, autocommit)
        except RiverError:
            raise
        except Exception as exc:
            mapped = self.driver.map_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def _run_sync(self, fn: Callable[[Executor], T], autocommit: bool) -> T:
        connect = self.driver.autocommit if autocommit else self.driver.transaction
        with connect() as ex:
            return fn(ex)
