"""Maintenance fixtures: a migrated schema (emptied before each test) and async drivers of
each variant with small pools (the database server is shared)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from maintenance_helpers import DriverFactory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from river_core import migrate
from river_core.driver import Driver

VARIANTS = ("asyncpg", "psycopg")
TRUNCATED = ("river_job", "river_leader", "river_queue")


@pytest.fixture(scope="session")
def maintenance_schema(sync_engine: sa.Engine) -> Iterator[str]:
    """One schema migrated to River's latest version for the session."""
    name = "tm_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=name)
    yield name
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True))


@pytest.fixture
def schema(sync_engine: sa.Engine, maintenance_schema: str) -> str:
    """The session's schema, with River's tables emptied for this test."""
    tables = ", ".join(f'"{maintenance_schema}".{t}' for t in TRUNCATED)
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables}")
    return maintenance_schema


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_driver(variant: str, database_url: str, schema: str) -> AsyncIterator[DriverFactory]:
    """`make_driver(url=..., schema=...)`: a driver of this variant on its own small engine,
    disposed after the test."""
    engines: list[AsyncEngine] = []

    def make(*, url: str = database_url, schema: str = schema, **engine_kwargs: Any) -> Driver:
        engine_kwargs.setdefault("pool_size", 3)
        engine_kwargs.setdefault("max_overflow", 3)
        engine = create_async_engine(
            make_url(url).set(drivername=f"postgresql+{variant}"), **engine_kwargs
        )
        engines.append(engine)
        if variant == "asyncpg":
            from river_driver_asyncpg import AsyncpgDriver

            return AsyncpgDriver(engine, schema=schema)
        from river_driver_psycopg import PsycopgDriver

        return PsycopgDriver(engine, schema=schema)

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def driver(make_driver: DriverFactory) -> Driver:
    return make_driver()
