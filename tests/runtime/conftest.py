"""Runtime fixtures: async engines and drivers per variant on a migrated schema.

The runtime suite shares one migrated schema per session (migrating costs ~0.5 s a test) and
truncates River's tables before each test, so every test starts from empty tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from runtime_helpers import DriverFactory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from river_core.driver import Driver

VARIANTS = ["asyncpg", "psycopg"]
TRUNCATED = ("river_job", "river_leader", "river_queue")


def _with_driver(url: str, driver: str) -> str:
    return f"postgresql+{driver}://{url.split('://', 1)[1]}"


@pytest.fixture(scope="session")
def runtime_schema(sync_engine: sa.Engine) -> Iterator[str]:
    """One schema migrated to River's latest version, shared by the runtime tests."""
    from river_core import migrate

    name = "rt_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=name)
    yield name
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def schema(sync_engine: sa.Engine, runtime_schema: str) -> str:
    """The shared runtime schema, with River's tables emptied for this test."""
    tables = ", ".join(f'"{runtime_schema}".{t}' for t in TRUNCATED)
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables}")
    return runtime_schema


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    """The async driver variant under test."""
    return str(request.param)


@pytest.fixture
async def make_driver(variant: str, database_url: str, schema: str) -> AsyncIterator[DriverFactory]:
    """Build drivers of this variant (own engine each, disposed after the test).

    `make_driver(schema=..., **engine_kwargs)`: defaults to the test's schema and a small pool
    (the database is shared by concurrent test runs).
    """
    engines: list[AsyncEngine] = []

    def make(*, schema: str = schema, **engine_kwargs: Any) -> Driver:
        engine_kwargs.setdefault("pool_size", 5)
        engine_kwargs.setdefault("max_overflow", 5)
        engine = create_async_engine(_with_driver(database_url, variant), **engine_kwargs)
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
    """A driver of this variant on the test's (emptied) schema."""
    return make_driver()
