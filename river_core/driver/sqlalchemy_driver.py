"""The shared Driver base: executors over SQLAlchemy connections, sessions and engines.

A DBAPI driver subclasses `SqlAlchemyDriver`, sets `executor_class` to a `SqlExecutor` subclass
(COPY fast path) and implements `listener()`; `map_error` here handles what SQLAlchemy exposes
for every DBAPI (SQLSTATE codes, invalidated connections).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from river_core.driver.interface import AsyncExecutor, Driver, Executor
from river_core.driver.sql_executor import SqlExecutor
from river_core.errors import (
    ConnectionLostError,
    InsufficientPrivilegeError,
    QueryCanceledError,
    SerializationFailureError,
    UniqueViolationError,
)
from river_core.identifiers import validate_schema

T = TypeVar("T")

# SQLSTATEs that end the session: admin/crash shutdown, cannot connect now (class 08 too).
_SESSION_ENDING_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


CancelRequest = Callable[[Any], Awaitable[None]]
"""Sends the server a cancel request for the statement running on a DBAPI driver's own
connection object (an `asyncpg.Connection`, a `psycopg.AsyncConnection`)."""


class SqlAsyncExecutor(AsyncExecutor):
    """Runs Executor callables on an `AsyncConnection` or `AsyncSession` via `run_sync`."""

    def __init__(
        self,
        conn: AsyncConnection | AsyncSession,
        schema: str | None,
        executor_class: type[SqlExecutor],
        cancel_request: CancelRequest | None = None,
    ) -> None:
        self._conn = conn
        self.schema = schema
        self._executor_class = executor_class
        self._cancel_request = cancel_request

    async def _connection(self) -> AsyncConnection:
        if isinstance(self._conn, AsyncSession):
            return await self._conn.connection()  # the session's transaction, begun if needed
        return self._conn

    async def run(self, fn: Callable[[Executor], T]) -> T:
        conn = await self._connection()
        schema, executor_class = self.schema, self._executor_class
        return await conn.run_sync(lambda sync_conn: fn(executor_class(sync_conn, schema)))

    async def cancel(self) -> None:
        if self._cancel_request is None:
            raise NotImplementedError("this executor was built without a cancel request")
        raw = await (await self._connection()).get_raw_connection()
        await self._cancel_request(raw.driver_connection)


class SqlAlchemyDriver(Driver):
    """A Driver over a SQLAlchemy `Engine` or `AsyncEngine`; subclasses add the DBAPI parts."""

    executor_class: ClassVar[type[SqlExecutor]] = SqlExecutor

    def __init__(
        self,
        engine: sa.Engine | AsyncEngine,
        *,
        schema: str | None = None,
        listener_url: str | URL | None = None,
    ) -> None:
        self.engine = engine
        self.schema = validate_schema(schema)
        self.listener_url = listener_url

    @property
    def is_async(self) -> bool:
        return isinstance(self.engine, AsyncEngine)

    def executor(self, conn: Any) -> SqlExecutor:
        """An Executor in the transaction of a user's `Connection` or `Session`."""
        if isinstance(conn, Session):
            conn = conn.connection()
        if not isinstance(conn, sa.Connection):
            raise TypeError(f"expected a sqlalchemy Connection or Session, not {type(conn)!r}")
        return self.executor_class(conn, self.schema)

    @contextmanager
    def transaction(self) -> Iterator[SqlExecutor]:
        if not isinstance(self.engine, sa.Engine):
            raise TypeError("this driver has an AsyncEngine: use async_transaction()")
        with self.engine.begin() as conn:
            yield self.executor_class(conn, self.schema)

    def async_executor(self, conn: Any) -> SqlAsyncExecutor:
        """An AsyncExecutor in the transaction of a user's `AsyncConnection`/`AsyncSession`."""
        if not isinstance(conn, AsyncConnection | AsyncSession):
            raise TypeError(
                f"expected a sqlalchemy AsyncConnection or AsyncSession, not {type(conn)!r}"
            )
        return SqlAsyncExecutor(conn, self.schema, self.executor_class, self.cancel_request)

    @asynccontextmanager
    async def async_transaction(self) -> AsyncIterator[SqlAsyncExecutor]:
        if not isinstance(self.engine, AsyncEngine):
            raise TypeError("this driver has a sync Engine: use transaction()")
        async with self.engine.begin() as conn:
            yield SqlAsyncExecutor(conn, self.schema, self.executor_class, self.cancel_request)

    @contextmanager
    def autocommit(self) -> Iterator[SqlExecutor]:
        if not isinstance(self.engine, sa.Engine):
            raise TypeError("this driver has an AsyncEngine: use async_autocommit()")
        with self.engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield self.executor_class(autocommit, self.schema)

    @asynccontextmanager
    async def async_autocommit(self) -> AsyncIterator[SqlAsyncExecutor]:
        if not isinstance(self.engine, AsyncEngine):
            raise TypeError("this driver has a sync Engine: no async autocommit connection")
        async with self.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield SqlAsyncExecutor(
                autocommit, self.schema, self.executor_class, self.cancel_request
            )

    @abc.abstractmethod
    async def cancel_request(self, driver_connection: Any) -> None:
        """Send a cancel request for the statement running on `driver_connection` (the DBAPI
        driver's own connection object), without waiting for that statement's outcome."""

    def map_error(self, exc: BaseException) -> BaseException:
        """Translate SQLAlchemy's DBAPI errors by SQLSTATE; anything else is returned as is."""
        if not isinstance(exc, sqlalchemy.exc.DBAPIError):
            return exc
        sqlstate = _sqlstate(exc.orig)
        message = str(exc.orig)
        mapped: BaseException | None = None
        if exc.connection_invalidated:
            mapped = ConnectionLostError(message)
        elif sqlstate == "23505":
            mapped = UniqueViolationError(message)
        elif sqlstate in ("40001", "40P01"):
            mapped = SerializationFailureError(message)
        elif sqlstate == "57014":
            mapped = QueryCanceledError(message)
        elif sqlstate == "42501":
            mapped = InsufficientPrivilegeError(message)
        elif (sqlstate or "").startswith("08") or sqlstate in _SESSION_ENDING_SQLSTATES:
            mapped = ConnectionLostError(message)
        elif sqlstate is None and isinstance(
            exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        ):
            mapped = ConnectionLostError(message)
        if mapped is None:
            return exc
        mapped.__cause__ = exc
        return mapped


def _sqlstate(orig: BaseException | None) -> str | None:
    """The SQLSTATE of a DBAPI error (psycopg: `sqlstate`; SQLAlchemy's asyncpg adapter too)."""
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


__all__ = ["SqlAlchemyDriver", "SqlAsyncExecutor"]
