"""Running Executor callables in their own transaction, with errors mapped to river_core's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from river_core.driver import Driver, Executor

T = TypeVar("T")


async def run_in_tx(driver: Driver, fn: Callable[[Executor], T]) -> T:
    """Run `fn` on a new async connection in a transaction that commits when it returns."""
    try:
        async with driver.async_transaction() as ex:
            return await ex.run(fn)
    except Exception as exc:
        mapped = driver.map_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc
