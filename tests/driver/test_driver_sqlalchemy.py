"""Conformance of the Driver itself: joining callers' transactions, engines, error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from conformance import PAST, DriverHandle
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from river_core.driver import Executor, JobInsertParams, JobInsertResult
from river_core.driver.sql_executor import SqlExecutor
from river_core.errors import (
    ConnectionLostError,
    InvalidSchemaNameError,
    QueryCanceledError,
    SerializationFailureError,
    UniqueViolationError,
)
from river_core.job import UNIQUE_STATE_BITS, JobState


def _insert(kind: str) -> Callable[[Executor], list[JobInsertResult]]:
    return lambda ex: ex.job_insert_fast_many([JobInsertParams(kind, b"{}")])


def _kinds(handle: DriverHandle) -> list[str]:
    jobs = handle.run(lambda ex: ex.job_get_by_kind_many(["kept", "dropped"]))
    return [job.kind for job in jobs]


async def _in_async_conn(
    engine: AsyncEngine, handle: DriverHandle, kind: str, commit: bool
) -> None:
    async with engine.connect() as conn:
        await handle.driver.async_executor(conn).run(_insert(kind))
        if commit:
            await conn.commit()


async def _in_async_session(
    engine: AsyncEngine, handle: DriverHandle, kind: str, commit: bool
) -> None:
    async with AsyncSession(engine) as session:
        await handle.driver.async_executor(session).run(_insert(kind))
        if commit:
            await session.commit()


def test_executors_join_the_callers_transaction_without_committing(
    handle: DriverHandle, engines: dict[str, sa.Engine | AsyncEngine]
) -> None:
    engine = engines[handle.variant]
    if isinstance(engine, sa.Engine):
        for commit in (False, True):
            kind = "kept" if commit else "dropped"
            with engine.connect() as conn:
                _insert(kind)(handle.driver.executor(conn))
                if commit:
                    conn.commit()
            with Session(engine) as session:
                _insert(kind)(handle.driver.executor(session))
                if commit:
                    session.commit()
    else:
        for commit in (False, True):
            kind = "kept" if commit else "dropped"
            handle.loop.run_until_complete(_in_async_conn(engine, handle, kind, commit))
            handle.loop.run_until_complete(_in_async_session(engine, handle, kind, commit))
    assert _kinds(handle) == ["kept", "kept"]


def test_transaction_rolls_back_when_the_callable_raises(handle: DriverHandle) -> None:
    def insert_then_fail(ex: Executor) -> None:
        ex.job_insert_fast_many([JobInsertParams("dropped", b"{}")])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        handle.run(insert_then_fail)
    assert _kinds(handle) == []


def test_wrong_engine_or_connection_kind_is_a_type_error(handle: DriverHandle) -> None:
    driver = handle.driver
    with pytest.raises(TypeError):
        driver.executor(object())
    with pytest.raises(TypeError):
        driver.async_executor(object())
    if driver.is_async:
        with pytest.raises(TypeError, match="async_transaction"), driver.transaction():
            pass
    else:

        async def enter() -> None:
            async with driver.async_transaction():
                pass

        with pytest.raises(TypeError, match="transaction"):
            asyncio.run(enter())


def test_schema_name_is_validated(handle_on: Callable[[str], DriverHandle]) -> None:
    for bad in ("Bad-Name", "pg_catalog", "x" * 47, "1abc"):
        with pytest.raises(InvalidSchemaNameError):
            handle_on(bad)


# -- error mapping -------------------------------------------------------------------------


def _raised(handle: DriverHandle, fn: object) -> BaseException:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
        handle.run(fn)  # type: ignore[arg-type]
    return handle.driver.map_error(raised.value)


def test_unique_violation_is_mapped(handle: DriverHandle) -> None:
    states = sum(UNIQUE_STATE_BITS[s] for s in (JobState.AVAILABLE, JobState.SCHEDULED))
    handle.insert(unique_key=b"k", unique_states=states)
    twin = handle.insert()
    handle.set_columns(
        twin.id,
        unique_key=b"k",
        unique_states=sa.cast(sa.literal(states, sa.Integer), BIT(8)),
        state="discarded",
        finalized_at=PAST,
    )
    # Retrying the discarded twin puts it back in the unique states the live job holds.
    mapped = _raised(handle, lambda ex: ex.job_retry(twin.id))
    assert isinstance(mapped, UniqueViolationError)
    assert isinstance(mapped.__cause__, sqlalchemy.exc.IntegrityError)


def test_query_canceled_is_mapped(handle: DriverHandle, sync_engine: sa.Engine) -> None:
    key = 0x7E57_0000_0002

    def wait_for_lock(ex: Executor) -> None:
        assert isinstance(ex, SqlExecutor)
        ex.conn.execute(sa.select(sa.func.set_config("statement_timeout", "50", True)))
        ex.pg_advisory_xact_lock(key)

    with sync_engine.begin() as holder:
        holder.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        mapped = _raised(handle, wait_for_lock)
    assert isinstance(mapped, QueryCanceledError)


def test_lost_connection_is_mapped(handle: DriverHandle, sync_engine: sa.Engine) -> None:
    def killed(ex: Executor) -> None:
        assert isinstance(ex, SqlExecutor)
        pid = ex.conn.execute(sa.select(sa.func.pg_backend_pid())).scalar_one()
        with sync_engine.begin() as other:
            other.execute(sa.select(sa.func.pg_terminate_backend(pid)))
        ex.job_get_by_id(1)

    assert isinstance(_raised(handle, killed), ConnectionLostError)


class _Orig(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlalchemy.exc.OperationalError("q", None, _Orig("40001")), SerializationFailureError),
        (sqlalchemy.exc.OperationalError("q", None, _Orig("40P01")), SerializationFailureError),
        (sqlalchemy.exc.OperationalError("q", None, _Orig("57014")), QueryCanceledError),
        (sqlalchemy.exc.IntegrityError("q", None, _Orig("23505")), UniqueViolationError),
        (sqlalchemy.exc.OperationalError("q", None, _Orig("08006")), ConnectionLostError),
        (sqlalchemy.exc.OperationalError("q", None, _Orig("57P01")), ConnectionLostError),
        (sqlalchemy.exc.InterfaceError("q", None, _Orig(None)), ConnectionLostError),
        (sqlalchemy.exc.DataError("q", None, _Orig("22P02")), None),
        (ValueError("not a database error"), None),
    ],
)
def test_map_error_by_sqlstate(
    handle: DriverHandle, error: BaseException, expected: type[BaseException] | None
) -> None:
    mapped = handle.driver.map_error(error)
    if expected is None:
        assert mapped is error
    else:
        assert isinstance(mapped, expected) and mapped.__cause__ is error
