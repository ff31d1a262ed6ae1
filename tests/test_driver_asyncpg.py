"""What AsyncpgDriver adds to SqlAlchemyDriver: engine checks, error mapping, PgBouncer kwargs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from river_core.driver import JobInsertParams
from river_core.errors import (
    ConnectionLostError,
    QueryCanceledError,
    SerializationFailureError,
    UniqueViolationError,
    ValidationError,
)
from river_core.job import JobState
from river_driver_asyncpg import AsyncpgDriver, engine_kwargs_for_pgbouncer

MANY_JOBS = [JobInsertParams(kind="many", encoded_args=b'{"n": 1}')] * 50_000


def asyncpg_url(database_url: str) -> sa.URL:
    return make_url(database_url).set(drivername="postgresql+asyncpg")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(asyncpg_url(database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
def driver(engine: AsyncEngine, migrated_schema: str) -> AsyncpgDriver:
    return AsyncpgDriver(engine, schema=migrated_schema)


async def backend_pid(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.pg_backend_pid()))).scalar_one())


def terminate(engine: sa.Engine, pid: int) -> None:
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_terminate_backend(pid)))


async def test_rejects_other_engines(sync_engine: sa.Engine, database_url: str) -> None:
    with pytest.raises(ValidationError):
        AsyncpgDriver(sync_engine)  # type: ignore[arg-type]
    psycopg_engine = create_async_engine(
        make_url(database_url).set(drivername="postgresql+psycopg")
    )
    with pytest.raises(ValidationError, match="asyncpg"):
        AsyncpgDriver(psycopg_engine)
    await psycopg_engine.dispose()


def test_is_async(driver: AsyncpgDriver) -> None:
    assert driver.is_async


async def test_unique_violation_of_copy(driver: AsyncpgDriver) -> None:
    job = JobInsertParams(kind="u", encoded_args=b"{}", unique_key=b"k", unique_states=0xFF)
    async with driver.async_transaction() as async_executor:
        await async_executor.run(lambda ex: ex.job_insert_fast_many_no_returning([job]))
    with pytest.raises(asyncpg.UniqueViolationError) as raised:
        async with driver.async_transaction() as async_executor:
            await async_executor.run(lambda ex: ex.job_insert_fast_many_no_returning([job]))
    mapped = driver.map_error(raised.value)
    assert isinstance(mapped, UniqueViolationError)
    assert mapped.__cause__ is raised.value


async def test_statement_timeout_of_copy_is_query_canceled(
    driver: AsyncpgDriver, engine: AsyncEngine
) -> None:
    with pytest.raises(asyncpg.QueryCanceledError) as raised:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("SET LOCAL statement_timeout = 1")
            await driver.async_executor(conn).run(
                lambda ex: ex.job_insert_fast_many_no_returning(MANY_JOBS)
            )
    assert isinstance(driver.map_error(raised.value), QueryCanceledError)


async def test_statement_timeout_through_sqlalchemy_is_query_canceled(
    driver: AsyncpgDriver, engine: AsyncEngine
) -> None:
    with pytest.raises(sa.exc.DBAPIError) as raised:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("SET LOCAL statement_timeout = 10")
            await conn.execute(sa.select(sa.func.pg_sleep(2)))
    assert isinstance(driver.map_error(raised.value), QueryCanceledError)


async def test_concurrent_update_in_repeatable_read_is_serialization_failure(
    driver: AsyncpgDriver, database_url: str, migrated_schema: str
) -> None:
    table = f'"{migrated_schema}".river_queue'
    first = await asyncpg.connect(database_url)
    second = await asyncpg.connect(database_url)
    try:
        await second.execute(f"INSERT INTO {table} (name) VALUES ('q')")
        async with first.transaction(isolation="repeatable_read"):
            await first.fetch(f"SELECT * FROM {table}")  # takes the snapshot
            await second.execute(f"UPDATE {table} SET updated_at = now() WHERE name = 'q'")
            with pytest.raises(asyncpg.SerializationError) as raised:
                await first.execute(f"UPDATE {table} SET updated_at = now() WHERE name = 'q'")
    finally:
        await first.close()
        await second.close()
    assert isinstance(driver.map_error(raised.value), SerializationFailureError)


async def test_terminated_backend_during_copy_is_connection_lost(
    driver: AsyncpgDriver, engine: AsyncEngine, sync_engine: sa.Engine
) -> None:
    async with engine.connect() as conn:
        terminate(sync_engine, await backend_pid(conn))
        with pytest.raises(Exception) as raised:
            await driver.async_executor(conn).run(
                lambda ex: ex.job_insert_fast_many_no_returning(MANY_JOBS[:1])
            )
        await conn.invalidate()
    assert isinstance(driver.map_error(raised.value), ConnectionLostError)


async def test_terminated_backend_through_sqlalchemy_is_connection_lost(
    driver: AsyncpgDriver, engine: AsyncEngine, sync_engine: sa.Engine
) -> None:
    async with engine.connect() as conn:
        terminate(sync_engine, await backend_pid(conn))
        with pytest.raises(sa.exc.DBAPIError) as raised:
            await driver.async_executor(conn).run(
                lambda ex: ex.job_count_by_state(JobState.AVAILABLE)
            )
    assert isinstance(driver.map_error(raised.value), ConnectionLostError)


def test_other_errors_are_returned_as_they_are(driver: AsyncpgDriver) -> None:
    error = ValueError("not a database error")
    assert driver.map_error(error) is error


async def test_pgbouncer_engine_kwargs_cache_no_statements(
    database_url: str, migrated_schema: str
) -> None:
    """Statements asyncpg names in sequence would collide across PgBouncer's server sessions."""

    async def sequential_statements(**engine_kwargs: Any) -> int:
        engine = create_async_engine(asyncpg_url(database_url), **engine_kwargs)
        driver = AsyncpgDriver(engine, schema=migrated_schema)
        try:
            async with engine.connect() as conn:
                async_executor = driver.async_executor(conn)
                for _ in range(5):
                    await async_executor.run(
                        lambda ex: ex.job_insert_fast_many_no_returning(MANY_JOBS[:2])
                    )
                    await async_executor.run(lambda ex: ex.job_count_by_state(JobState.AVAILABLE))
                raw = (await conn.get_raw_connection()).driver_connection
                assert isinstance(raw, asyncpg.Connection)
                names = await raw.fetch("SELECT name FROM pg_prepared_statements")
                return sum(row["name"].startswith("__asyncpg_stmt_") for row in names)
        finally:
            await engine.dispose()

    assert await sequential_statements(**engine_kwargs_for_pgbouncer()) == 0
    assert await sequential_statements() > 0  # what the kwargs switch off
