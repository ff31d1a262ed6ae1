"""Running Executor callables on a pooled connection, with errors mapped to river_core's."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from river_core.driver import AsyncExecutor, Driver, Executor
from river_core.errors import ConnectionLostError

T = TypeVar("T")
log = logging.getLogger("river.db")


async def run_in_tx(driver: Driver, fn: Callable[[Executor], T]) -> T:
    """Run `fn` on a new async connection in a transaction that commits when it returns."""
    with _mapped_errors(driver):
        async with driver.async_transaction() as ex:
            return await ex.run(fn)


async def run_one_statement(
    driver: Driver,
    fn: Callable[[Executor], T],
    *,
    timeout: float | None = None,
    what: str = "statement",
) -> T:
    """Run `fn`, which sends exactly one statement, in autocommit: the statement is its own
    transaction, so there is no BEGIN and COMMIT round trip (the fetch and complete paths).

    With a `timeout`, a statement still unanswered after that many seconds (waiting on a lock,
    a stalled server) is cancelled on the server, with a warning naming `what`: a cancel
    request, not an abandoned call, so its outcome is still awaited and a result that arrives
    anyway (a fetch's locked jobs) is never dropped; a cancelled one raises
    QueryCanceledError. A server that answers neither within another `timeout` is given up
    on: ConnectionLostError, and the connection is discarded.
    """
    with _mapped_errors(driver):
        async with driver.async_autocommit() as ex:
            if timeout is None:
                return await ex.run(fn)
            return await _bounded(ex, fn, timeout, what)


async def _bounded(ex: AsyncExecutor, fn: Callable[[Executor], T], timeout: float, what: str) -> T:
    call = asyncio.ensure_future(ex.run(fn))
    try:
        if not await _answered(call, timeout):
            log.warning("%s timed out after %.1fs: cancelling it", what, timeout)
            try:
                async with asyncio.timeout(timeout):
                    await ex.cancel()
            except Exception as exc:
                log.warning("%s: the cancel request failed: %r", what, exc)
            if not await _answered(call, timeout):
                raise ConnectionLostError(f"{what}: no answer from the server in {2 * timeout}s")
        return call.result()
    finally:
        if not call.done():
            call.cancel()  # the DBAPI's own cancellation; the connection is then discarded
            await asyncio.wait({call})  # back to the pool only once the call has let go of it


async def _answered(call: asyncio.Future[T], timeout: float) -> bool:
    done, _ = await asyncio.wait({call}, timeout=timeout)
    return bool(done)


@contextmanager
def _mapped_errors(driver: Driver) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = driver.map_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc
