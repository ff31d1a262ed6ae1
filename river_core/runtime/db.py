"""Running Executor callables on a pooled connection, with errors mapped to river_core's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from river_core.driver import Driver, Executor

T = TypeVar("T")


async def run_in_tx(driver: Driver, fn: Callable[[Executor], T]) -> T:
    """Run `fn` on a new async connection in a transaction that commits when it returns."""
    with _mapped_errors(driver):
        async with driver.async_transaction() as ex:
            return await ex.run(fn)


async def run_one_statement(driver: Driver, fn: Callable[[Executor], T]) -> T:
    """Run `fn`, which sends exactly one statement, in autocommit: the statement is its own
    transaction, so there is no BEGIN and COMMIT round trip (the fetch and complete paths)."""
    with _mapped_errors(driver):
        async with driver.async_autocommit() as ex:
            return await ex.run(fn)


@contextmanager
def _mapped_errors(driver: Driver) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = driver.map_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc
