"""The COPY fast path (`job_insert_fast_many_no_returning`) of every driver variant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from river_core.driver import Executor, JobInsertParams
from river_core.driver.sqlalchemy_driver import SqlAlchemyDriver
from river_core.errors import UniqueViolationError
from river_core.job import JobState
from river_driver_asyncpg import AsyncpgDriver, AsyncpgExecutor
from river_driver_psycopg import PsycopgDriver, PsycopgExecutor

T = TypeVar("T")

VARIANTS = ("psycopg-sync", "psycopg-async", "asyncpg")


@pytest.fixture(params=VARIANTS)
async def driver(
    request: pytest.FixtureRequest, database_url: str, sync_engine: sa.Engine, migrated_schema: str
) -> AsyncIterator[SqlAlchemyDriver]:
    """The driver of one variant on a freshly migrated schema."""
    if request.param == "psycopg-sync":
        yield PsycopgDriver(sync_engine, schema=migrated_schema)
        return
    dbapi = "asyncpg" if request.param == "asyncpg" else "psycopg"
    engine = create_async_engine(make_url(database_url).set(drivername=f"postgresql+{dbapi}"))
    driver_class = AsyncpgDriver if dbapi == "asyncpg" else PsycopgDriver
    yield driver_class(engine, schema=migrated_schema)
    await engine.dispose()


async def run(driver: SqlAlchemyDriver, fn: Callable[[Executor], T]) -> T:
    """Run `fn` in a new transaction of the driver, committed when it returns."""
    if driver.is_async:
        async with driver.async_transaction() as async_executor:
            return await async_executor.run(fn)
    with driver.transaction() as executor:
        return fn(executor)


def copy(jobs: Sequence[JobInsertParams]) -> Callable[[Executor], int]:
    def fn(executor: Executor) -> int:
        assert isinstance(executor, PsycopgExecutor | AsyncpgExecutor)
        return executor.job_insert_fast_many_no_returning(jobs)

    return fn


def count_jobs(sync_engine: sa.Engine, schema: str) -> int:
    with sync_engine.connect() as conn:
        return int(conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}".river_job').scalar_one())


async def test_copy_writes_every_column(
    driver: SqlAlchemyDriver, sync_engine: sa.Engine, migrated_schema: str
) -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    scheduled = created + timedelta(hours=1)
    full = JobInsertParams(
        kind="copy_full",
        encoded_args=b'{"n": 1, "s": "\xc3\xa9"}',
        queue="q1",
        priority=3,
        max_attempts=7,
        metadata=b'{"m": true}',
        state=JobState.SCHEDULED,
        scheduled_at=scheduled,
        created_at=created,
        tags=("a", "b"),
        unique_key=b"\x00key",
        unique_states=0b1011_0001,
    )
    defaults = JobInsertParams(kind="copy_defaults", encoded_args=b"{}")
    before = datetime.now(UTC)
    assert await run(driver, copy([full, defaults, defaults])) == 3
    after = datetime.now(UTC)

    with sync_engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at,"
            " state::text, tags, unique_key, unique_states::text, attempt, errors, attempted_by"
            f' FROM "{migrated_schema}".river_job ORDER BY id'
        ).all()
    assert tuple(rows[0]) == (
        {"n": 1, "s": "é"},
        created,
        "copy_full",
        7,
        {"m": True},
        3,
        "q1",
        scheduled,
        "scheduled",
        ["a", "b"],
        b"\x00key",
        "10110001",
        0,
        None,
        None,
    )
    first_default, second_default = rows[1], rows[2]
    assert tuple(first_default)[2:] == (
        "copy_defaults",
        25,
        {},
        1,
        "default",
        first_default.scheduled_at,
        "available",
        [],
        None,
        None,
        0,
        None,
        None,
    )
    # One timestamp, taken once in Python, serves every missing created_at and scheduled_at.
    assert before <= first_default.created_at <= after
    assert first_default.created_at == first_default.scheduled_at == second_default.created_at

    # The base executor reads what COPY wrote back into the same values.
    (job, *_) = await run(driver, lambda ex: ex.job_get_by_kind_many(["copy_full"]))
    assert (job.args, job.unique_key, job.unique_states, job.tags) == (
        {"n": 1, "s": "é"},
        b"\x00key",
        0b1011_0001,
        ["a", "b"],
    )


async def test_copy_of_nothing_inserts_nothing(driver: SqlAlchemyDriver) -> None:
    assert await run(driver, copy([])) == 0


@pytest.mark.parametrize("commit", [True, False], ids=["commit", "rollback"])
async def test_copy_joins_the_callers_connection_transaction(
    driver: SqlAlchemyDriver, sync_engine: sa.Engine, migrated_schema: str, commit: bool
) -> None:
    """A Connection with no statement run yet: COPY begins its transaction, never ends it."""
    jobs = [JobInsertParams(kind="in_tx", encoded_args=b"{}")] * 2
    if isinstance(driver.engine, sa.Engine):
        with driver.engine.connect() as conn:
            assert copy(jobs)(driver.executor(conn)) == 2
            assert conn.in_transaction()
            assert count_jobs(sync_engine, migrated_schema) == 0  # not committed by the executor
            if commit:
                conn.commit()
            else:
                conn.rollback()
    else:
        async with driver.engine.connect() as async_conn:
            assert await driver.async_executor(async_conn).run(copy(jobs)) == 2
            assert async_conn.in_transaction()
            assert count_jobs(sync_engine, migrated_schema) == 0
            await (async_conn.commit() if commit else async_conn.rollback())
    assert count_jobs(sync_engine, migrated_schema) == (2 if commit else 0)


@pytest.mark.parametrize("commit", [True, False], ids=["commit", "rollback"])
async def test_copy_joins_a_session_and_never_commits_it(
    driver: SqlAlchemyDriver, sync_engine: sa.Engine, migrated_schema: str, commit: bool
) -> None:
    jobs = [JobInsertParams(kind="in_session", encoded_args=b"{}")]
    if isinstance(driver.engine, sa.Engine):
        with Session(driver.engine) as session:
            executor = driver.executor(session)
            assert copy(jobs)(executor) == 1
            assert executor.job_count_by_state(JobState.AVAILABLE) == 1  # same transaction
            assert count_jobs(sync_engine, migrated_schema) == 0
            if commit:
                session.commit()
            else:
                session.rollback()
    else:
        async with AsyncSession(driver.engine) as async_session:
            async_executor = driver.async_executor(async_session)
            assert await async_executor.run(copy(jobs)) == 1
            assert (
                await async_executor.run(lambda ex: ex.job_count_by_state(JobState.AVAILABLE)) == 1
            )
            assert count_jobs(sync_engine, migrated_schema) == 0
            await (async_session.commit() if commit else async_session.rollback())
    assert count_jobs(sync_engine, migrated_schema) == (1 if commit else 0)


async def test_copy_of_a_taken_unique_key_fails_whole_as_unique_violation(
    driver: SqlAlchemyDriver, sync_engine: sa.Engine, migrated_schema: str
) -> None:
    """COPY has no ON CONFLICT: like River's CopyFrom, a duplicate fails the whole batch."""
    unique = JobInsertParams(
        kind="unique", encoded_args=b"{}", unique_key=b"same", unique_states=0xFF
    )
    assert await run(driver, copy([unique])) == 1
    other = JobInsertParams(kind="other", encoded_args=b"{}")
    with pytest.raises(Exception) as raised:
        await run(driver, copy([other, unique]))
    mapped = driver.map_error(raised.value)
    assert isinstance(mapped, UniqueViolationError)
    assert mapped.__cause__ is raised.value
    assert count_jobs(sync_engine, migrated_schema) == 1


async def test_copy_follows_the_async_connection_into_a_savepoint(
    driver: SqlAlchemyDriver, sync_engine: sa.Engine, migrated_schema: str
) -> None:
    """Rolling back a nested transaction (SAVEPOINT) drops the rows COPY wrote in it."""
    jobs = [JobInsertParams(kind="nested", encoded_args=b"{}")]
    if isinstance(driver.engine, sa.Engine):
        with driver.engine.begin() as conn:
            copy(jobs)(driver.executor(conn))
            nested = conn.begin_nested()
            copy(jobs)(driver.executor(conn))
            nested.rollback()
    else:
        async_conn: AsyncConnection
        async with driver.engine.begin() as async_conn:
            await driver.async_executor(async_conn).run(copy(jobs))
            async_nested = await async_conn.begin_nested()
            await driver.async_executor(async_conn).run(copy(jobs))
            await async_nested.rollback()
    assert count_jobs(sync_engine, migrated_schema) == 1
