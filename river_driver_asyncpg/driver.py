"""The asyncpg driver: SqlAlchemyDriver plus COPY, a native listener and error mapping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from river_core.driver import JobInsertParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.sqlalchemy_driver import SqlAlchemyDriver
from river_core.errors import ValidationError
from river_driver_asyncpg.copy import copy_jobs
from river_driver_asyncpg.errors import map_asyncpg_error
from river_driver_asyncpg.listener import AsyncpgListener

# Connect arguments that SQLAlchemy's asyncpg adapter consumes itself.
_ADAPTER_KWARGS = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


def engine_kwargs_for_pgbouncer() -> dict[str, Any]:
    """`create_async_engine` keyword arguments for PgBouncer in transaction mode.

    Prepared statements live in one server session, which PgBouncer does not pin to a client:
    no statement caches (asyncpg's and SQLAlchemy's), and unique names for the unnamed ones
    asyncpg still prepares.
    """
    return {
        "connect_args": {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        }
    }


class AsyncpgExecutor(SqlExecutor):
    """SqlExecutor whose `job_insert_fast_many_no_returning` is `copy_records_to_table`."""

    def job_insert_fast_many_no_returning(self, jobs: Sequence[JobInsertParams]) -> int:
        """COPY `jobs` in the connection's transaction; a unique conflict raises (no skipping)."""
        if not jobs:
            return 0
        driver_conn = self.conn.connection.driver_connection
        if not isinstance(driver_conn, asyncpg.Connection):
            raise TypeError(f"not an asyncpg connection: {type(driver_conn).__name__}")
        if not driver_conn.is_in_transaction():
            # SQLAlchemy's adapter sends BEGIN lazily, with its first statement.
            self.conn.execute(sa.select(sa.literal(1)))
        return await_only(copy_jobs(driver_conn, self.schema, jobs))


class AsyncpgDriver(SqlAlchemyDriver):
    """river_core driver for an asyncpg `AsyncEngine` (`postgresql+asyncpg://`).

    `listener_url` points the LISTEN connection elsewhere than the engine (needed behind
    PgBouncer in transaction mode, where LISTEN does not work): `pgbouncer=True` requires it.
    Build the engine with `engine_kwargs_for_pgbouncer()` in that case.
    """

    executor_class = AsyncpgExecutor

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        listener_url: str | URL | None = None,
        pgbouncer: bool = False,
    ) -> None:
        if not isinstance(engine, AsyncEngine) or engine.dialect.driver != "asyncpg":
            raise ValidationError("engine", "needs a postgresql+asyncpg:// AsyncEngine")
        if pgbouncer and listener_url is None:
            raise ValidationError(
                "listener_url", "required with pgbouncer=True: LISTEN needs a direct connection"
            )
        super().__init__(engine, schema=schema, listener_url=listener_url)
        self.pgbouncer = pgbouncer
        self._listener_kwargs = _listener_kwargs(engine, listener_url)

    def listener(self) -> AsyncpgListener:
        """A new listener on its own connection (not connected yet)."""
        return AsyncpgListener(self._listener_kwargs, self.schema)

    async def cancel_request(self, driver_connection: Any) -> None:
        """asyncpg's own cancel request, the one it sends when a query's task is cancelled,
        but without cancelling the task awaiting the query, whose outcome still arrives.
        asyncpg has no public method for it. A request that cannot be sent closes the
        connection (asyncpg's rule: its protocol state is then unknown), failing the query."""
        if not isinstance(driver_connection, asyncpg.Connection):
            raise TypeError(f"not an asyncpg connection: {type(driver_connection).__name__}")
        sent = asyncio.get_running_loop().create_future()
        driver_connection._cancel_current_command(sent)  # type: ignore[attr-defined]
        await sent

    def map_error(self, exc: BaseException) -> BaseException:
        """The base mapping of SQLAlchemy errors, plus the raw errors of the COPY path."""
        mapped = super().map_error(exc)
        return mapped if mapped is not exc else map_asyncpg_error(exc) or exc


def _listener_kwargs(engine: AsyncEngine, listener_url: str | URL | None) -> dict[str, Any]:
    """asyncpg connect arguments for `listener_url`, or else the engine's URL."""
    url = engine.url if listener_url is None else make_url(listener_url)
    url = url.set(drivername=engine.url.drivername)
    _, kwargs = engine.dialect.create_connect_args(url)
    return {key: value for key, value in kwargs.items() if key not in _ADAPTER_KWARGS}
