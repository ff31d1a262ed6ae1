"""The bound on the runtime's statements (`run_one_statement(timeout=...)`, used by the fetch
and the completer), on each driver: a statement blocked past its timeout is cancelled on the
server with a warning; a result that arrives despite the cancel is returned, not dropped; a
server that answers nothing is given up on after twice the timeout (and, on psycopg, its own
cancellation's 10 s)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from fault_env import FaultDb
from fault_proxy import FaultProxy
from sqlalchemy.ext.asyncio import create_async_engine

import river_core as river
from river_core.driver import Driver, Executor
from river_core.runtime.db import run_one_statement

TIMEOUT = 0.5
SURVIVOR = """
CREATE FUNCTION {s}.survive_cancel() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(5);
    RETURN 'slept';
EXCEPTION WHEN query_canceled THEN
    RETURN 'survived the cancel';
END $$
"""

DriverFor = Callable[[str], Driver]


@pytest.fixture(params=["asyncpg", "psycopg"])
async def driver_for(request: pytest.FixtureRequest, fault_db: FaultDb) -> AsyncIterator[DriverFor]:
    """`driver_for(url)`: a driver of the variant on its own small engine."""
    engines = []

    def make(url: str) -> Driver:
        engine = create_async_engine(
            sa.engine.make_url(url).set(drivername=f"postgresql+{request.param}"), pool_size=1
        )
        engines.append(engine)
        if request.param == "asyncpg":
            from river_driver_asyncpg import AsyncpgDriver

            return AsyncpgDriver(engine, schema=fault_db.schema)
        from river_driver_psycopg import PsycopgDriver

        return PsycopgDriver(engine, schema=fault_db.schema)

    yield make
    for engine in engines:
        await engine.dispose()


def sql(text: str) -> Callable[[Executor], object]:
    return lambda ex: ex.conn.execute(sa.text(text)).scalar()  # type: ignore[attr-defined]


async def test_a_statement_blocked_on_a_lock_is_cancelled_with_a_warning(
    fault_db: FaultDb, driver_for: DriverFor, caplog: pytest.LogCaptureFixture
) -> None:
    driver = driver_for(fault_db.url)
    with fault_db.engine.connect() as conn:
        conn.execute(sa.text(f"LOCK TABLE {fault_db.schema}.river_job IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, "river.db"), pytest.raises(river.QueryCanceledError):
            await run_one_statement(
                driver,
                sql(f"SELECT count(*) FROM {fault_db.schema}.river_job"),
                timeout=TIMEOUT,
                what="the count",
            )
        took = time.monotonic() - started
        waiting = fault_db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        )
        conn.rollback()
    assert TIMEOUT <= took < TIMEOUT + 1
    assert waiting == 0  # cancelled on the server, not abandoned there
    assert [r.getMessage() for r in caplog.records] == [
        f"the count timed out after {TIMEOUT}s: cancelling it"
    ]


async def test_a_result_that_arrives_despite_the_cancel_is_returned(
    fault_db: FaultDb, driver_for: DriverFor
) -> None:
    fault_db.execute(SURVIVOR)
    driver = driver_for(fault_db.url)
    result = await run_one_statement(
        driver, sql(f"SELECT {fault_db.schema}.survive_cancel()"), timeout=TIMEOUT
    )
    assert result == "survived the cancel"


async def test_a_server_that_answers_nothing_is_given_up_on(
    fault_db: FaultDb, driver_for: DriverFor
) -> None:
    proxy = FaultProxy(fault_db.cluster.port).start()
    try:
        driver = driver_for(fault_db.cluster.url(port=proxy.port))
        assert await run_one_statement(driver, sql("SELECT 1"), timeout=TIMEOUT) == 1
        proxy.delay = 30.0  # a black hole, cancel requests included
        started = time.monotonic()
        with pytest.raises(river.ConnectionLostError):
            await run_one_statement(driver, sql("SELECT 2"), timeout=TIMEOUT)
        took = time.monotonic() - started
    finally:
        proxy.close()
    # Then psycopg's own cancellation tries a cancel request and waits for 5 s each.
    assert 2 * TIMEOUT <= took < 2 * TIMEOUT + 11
