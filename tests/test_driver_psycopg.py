"""What PsycopgDriver adds to SqlAlchemyDriver: engine checks, error mapping, PgBouncer kwargs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from river_core.driver import JobInsertParams
from river_core.errors import (
    ConnectionLostError,
    QueryCanceledError,
    SerializationFailureError,
    UniqueViolationError,
    ValidationError,
)
from river_core.job import JobState
from river_driver_psycopg import PsycopgDriver, PsycopgExecutor, engine_kwargs_for_pgbouncer

MANY_JOBS = [JobInsertParams(kind="many", encoded_args=b'{"n": 1}')] * 50_000


@pytest.fixture
def driver(sync_engine: sa.Engine, migrated_schema: str) -> PsycopgDriver:
    return PsycopgDriver(sync_engine, schema=migrated_schema)


@pytest.fixture
async def async_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    yield engine
    await engine.dispose()


@pytest.fixture
def pgbouncer_engine(database_url: str) -> Iterator[sa.Engine]:
    url = make_url(database_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, **engine_kwargs_for_pgbouncer())
    yield engine
    engine.dispose()


def executor_of(driver: PsycopgDriver, conn: sa.Connection) -> PsycopgExecutor:
    executor = driver.executor(conn)
    assert isinstance(executor, PsycopgExecutor)
    return executor


def backend_pid(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.pg_backend_pid())).scalar_one())


def terminate(engine: sa.Engine, pid: int) -> None:
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_terminate_backend(pid)))


def test_accepts_sync_and_async_psycopg_engines(
    sync_engine: sa.Engine, async_engine: AsyncEngine
) -> None:
    assert not PsycopgDriver(sync_engine).is_async
    assert PsycopgDriver(async_engine, schema="s").is_async


async def test_rejects_other_dbapis(database_url: str) -> None:
    engine = create_async_engine(make_url(database_url).set(drivername="postgresql+asyncpg"))
    with pytest.raises(ValidationError, match="postgresql\\+psycopg"):
        PsycopgDriver(engine)
    await engine.dispose()
    with pytest.raises(ValidationError):
        PsycopgDriver(sa.create_engine("sqlite://"))


def test_unique_violation_of_copy(driver: PsycopgDriver) -> None:
    job = JobInsertParams(kind="u", encoded_args=b"{}", unique_key=b"k", unique_states=0xFF)
    with driver.transaction() as executor:
        executor.job_insert_fast_many_no_returning([job])
    with pytest.raises(psycopg.errors.UniqueViolation) as raised, driver.transaction() as executor:
        executor.job_insert_fast_many_no_returning([job])
    mapped = driver.map_error(raised.value)
    assert isinstance(mapped, UniqueViolationError)
    assert mapped.__cause__ is raised.value


def test_statement_timeout_of_copy_is_query_canceled(
    driver: PsycopgDriver, sync_engine: sa.Engine
) -> None:
    with pytest.raises(psycopg.errors.QueryCanceled) as raised, sync_engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 1")
        executor_of(driver, conn).job_insert_fast_many_no_returning(MANY_JOBS)
    assert isinstance(driver.map_error(raised.value), QueryCanceledError)


def test_statement_timeout_through_sqlalchemy_is_query_canceled(
    driver: PsycopgDriver, sync_engine: sa.Engine
) -> None:
    with pytest.raises(sa.exc.OperationalError) as raised, sync_engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 10")
        conn.execute(sa.select(sa.func.pg_sleep(2)))
    assert isinstance(driver.map_error(raised.value), QueryCanceledError)


def test_concurrent_update_in_repeatable_read_is_serialization_failure(
    driver: PsycopgDriver, database_url: str, migrated_schema: str
) -> None:
    table = f'"{migrated_schema}".river_queue'
    with psycopg.connect(database_url, autocommit=True) as setup:
        setup.execute(f"INSERT INTO {table} (name) VALUES ('q')")
    with psycopg.connect(database_url) as first, psycopg.connect(database_url) as second:
        first.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        first.execute(f"SELECT * FROM {table}")  # takes the snapshot
        second.execute(f"UPDATE {table} SET updated_at = now() WHERE name = 'q'")
        second.commit()
        with pytest.raises(psycopg.errors.SerializationFailure) as raised:
            first.execute(f"UPDATE {table} SET updated_at = now() WHERE name = 'q'")
    assert isinstance(driver.map_error(raised.value), SerializationFailureError)


def test_terminated_backend_during_copy_is_connection_lost(
    driver: PsycopgDriver, sync_engine: sa.Engine
) -> None:
    with sync_engine.connect() as conn:
        terminate(sync_engine, backend_pid(conn))
        with pytest.raises(psycopg.OperationalError) as raised:
            executor_of(driver, conn).job_insert_fast_many_no_returning(MANY_JOBS[:1])
        conn.invalidate()
    mapped = driver.map_error(raised.value)
    assert isinstance(mapped, ConnectionLostError)


def test_terminated_backend_through_sqlalchemy_is_connection_lost(
    driver: PsycopgDriver, sync_engine: sa.Engine
) -> None:
    with sync_engine.connect() as conn:
        terminate(sync_engine, backend_pid(conn))
        with pytest.raises(sa.exc.OperationalError) as raised:
            executor_of(driver, conn).job_count_by_state(JobState.AVAILABLE)
    assert isinstance(driver.map_error(raised.value), ConnectionLostError)


def test_other_errors_are_returned_as_they_are(driver: PsycopgDriver) -> None:
    error = ValueError("not a database error")
    assert driver.map_error(error) is error


def test_pgbouncer_engine_kwargs_prepare_no_statements(
    pgbouncer_engine: sa.Engine, sync_engine: sa.Engine, migrated_schema: str
) -> None:
    """Prepared statements would leak across PgBouncer's shared server sessions."""

    def prepared_after_repeats(engine: sa.Engine) -> int:
        driver = PsycopgDriver(engine, schema=migrated_schema)
        with engine.connect() as conn:
            executor = executor_of(driver, conn)
            for _ in range(10):  # psycopg prepares a statement from its 5th run by default
                executor.job_insert_fast_many_no_returning(MANY_JOBS[:2])
                executor.job_count_by_state(JobState.AVAILABLE)
            count = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
            return int(count.scalar_one())

    assert prepared_after_repeats(pgbouncer_engine) == 0
    assert prepared_after_repeats(sync_engine) > 0  # what the kwargs switch off
