"""Database URLs for the `river` command: a libpq-style URL in, a SQLAlchemy connection out."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

T = TypeVar("T")

_SCHEMES = ("postgresql", "postgres")
_DRIVERS = ("psycopg", "asyncpg")


class DatabaseURLError(ValueError):
    """A database URL this command can't use."""


def sqlalchemy_url(url: str) -> sa.URL:
    """`postgresql://` or `postgres://` (or `postgresql+DRIVER://`) as a SQLAlchemy URL with a
    driver: the one named, else psycopg if installed, else asyncpg."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseURLError(
            "not a database URL (expected postgresql://user@host:port/database)"
        ) from None
    scheme, _, driver = parsed.drivername.partition("+")
    if scheme not in _SCHEMES:
        raise DatabaseURLError(
            f"unsupported database URL scheme {scheme!r}: expected postgresql:// or postgres://"
        )
    if not driver:
        driver = next((d for d in _DRIVERS if importlib.util.find_spec(d) is not None), "")
        if not driver:
            raise DatabaseURLError("no PostgreSQL driver: install river-queue[psycopg]")
    return parsed.set(drivername=f"postgresql+{driver}")


def run(url: str, work: Callable[[sa.Connection], T]) -> T:
    """Call `work` with a connection (no transaction open) to the database at `url`."""
    target = sqlalchemy_url(url)
    if target.get_dialect().is_async:
        return asyncio.run(_run_async(target, work))
    engine = sa.create_engine(target, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return work(connection)
    finally:
        engine.dispose()


async def _run_async(target: sa.URL, work: Callable[[sa.Connection], T]) -> T:
    from sqlalchemy.ext.asyncio import create_async_engine  # needs greenlet (asyncpg extra)

    engine = create_async_engine(target, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def async_driver(url: str, driver: str | None = None, schema: str | None = None) -> Any:
    """An async river driver (AsyncpgDriver or PsycopgDriver) on a new AsyncEngine for `url`."""
    from sqlalchemy.ext.asyncio import create_async_engine

    target = sqlalchemy_url(url if driver is None else _with_driver(url, driver))
    engine = create_async_engine(target, pool_size=10, max_overflow=10)
    if target.drivername.endswith("+asyncpg"):
        from river_driver_asyncpg import AsyncpgDriver

        return AsyncpgDriver(engine, schema=schema)
    from river_driver_psycopg import PsycopgDriver

    return PsycopgDriver(engine, schema=schema)


def _with_driver(url: str, driver: str) -> str:
    if driver not in _DRIVERS:
        raise DatabaseURLError(f"unknown driver {driver!r}: expected one of {', '.join(_DRIVERS)}")
    return (
        sqlalchemy_url(url)
        .set(drivername=f"postgresql+{driver}")
        .render_as_string(hide_password=False)
    )
