"""The psycopg 3 driver: SqlAlchemyDriver plus binary COPY, a native listener and error mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from river_core.driver import JobInsertParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.sqlalchemy_driver import SqlAlchemyDriver
from river_core.errors import ValidationError
from river_driver_psycopg.copy import copy_jobs, copy_jobs_async
from river_driver_psycopg.errors import map_psycopg_error
from river_driver_psycopg.listener import PsycopgListener


def engine_kwargs_for_pgbouncer() -> dict[str, Any]:
    """`create_engine`/`create_async_engine` keyword arguments for PgBouncer in transaction mode.

    psycopg prepares a statement after it ran 5 times; a prepared statement lives in one server
    session, which PgBouncer does not pin to a client: `prepare_threshold=None` turns that off.
    """
    return {"connect_args": {"prepare_threshold": None}}


class PsycopgExecutor(SqlExecutor):
    """SqlExecutor whose `job_insert_fast_many_no_returning` is a binary COPY."""

    def job_insert_fast_many_no_returning(self, jobs: Sequence[JobInsertParams]) -> int:
        """COPY `jobs` in the connection's transaction; a unique conflict raises (no skipping)."""
        if not jobs:
            return 0
        if not self.conn.in_transaction():
            self.conn.begin()  # what a statement would autobegin: the caller commits it
        driver_conn = self.conn.connection.driver_connection
        if isinstance(driver_conn, psycopg.AsyncConnection):  # inside AsyncConnection.run_sync
            return await_only(copy_jobs_async(driver_conn, self.schema, jobs))
        if not isinstance(driver_conn, psycopg.Connection):
            raise TypeError(f"not a psycopg connection: {type(driver_conn).__name__}")
        return copy_jobs(driver_conn, self.schema, jobs)


class PsycopgDriver(SqlAlchemyDriver):
    """river_core driver for a psycopg `Engine` or `AsyncEngine` (`postgresql+psycopg://`).

    `listener_url` points the LISTEN connection elsewhere than the engine (needed behind
    PgBouncer in transaction mode, where LISTEN does not work): `pgbouncer=True` requires it.
    Build the engine with `engine_kwargs_for_pgbouncer()` in that case.
    """

    executor_class = PsycopgExecutor

    def __init__(
        self,
        engine: sa.Engine | AsyncEngine,
        *,
        schema: str | None = None,
        listener_url: str | URL | None = None,
        pgbouncer: bool = False,
    ) -> None:
        if engine.dialect.driver != "psycopg":
            raise ValidationError(
                "engine", f"needs a postgresql+psycopg:// engine, not {engine.dialect.driver!r}"
            )
        if pgbouncer and listener_url is None:
            raise ValidationError(
                "listener_url", "required with pgbouncer=True: LISTEN needs a direct connection"
            )
        super().__init__(engine, schema=schema, listener_url=listener_url)
        self.pgbouncer = pgbouncer
        self._listener_kwargs = _listener_kwargs(engine, listener_url)

    def listener(self) -> PsycopgListener:
        """A new listener on its own autocommit connection (not connected yet)."""
        return PsycopgListener(self._listener_kwargs, self.schema)

    async def cancel_request(self, driver_connection: Any) -> None:
        """psycopg's `cancel_safe`: the request goes on a connection of its own."""
        if not isinstance(driver_connection, psycopg.AsyncConnection):
            raise TypeError(f"not a psycopg AsyncConnection: {type(driver_connection).__name__}")
        await driver_connection.cancel_safe()

    def map_error(self, exc: BaseException) -> BaseException:
        """The base mapping of SQLAlchemy errors, plus the raw errors of the COPY path."""
        mapped = super().map_error(exc)
        return mapped if mapped is not exc else map_psycopg_error(exc) or exc


def _listener_kwargs(
    engine: sa.Engine | AsyncEngine, listener_url: str | URL | None
) -> dict[str, Any]:
    """psycopg connect arguments for `listener_url`, or else the engine's URL."""
    url = engine.url if listener_url is None else make_url(listener_url)
    url = url.set(drivername=engine.url.drivername)
    _, kwargs = engine.dialect.create_connect_args(url)
    # `context`: the adapters SQLAlchemy configures for its own connections.
    return {key: value for key, value in kwargs.items() if key != "context"}
