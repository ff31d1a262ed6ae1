"""Driver-conformance fixtures: every test runs against each driver variant on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from conformance import DriverHandle, Listening
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from river_core import migrate
from river_core.driver import Driver
from river_core.driver.sql_executor import SqlExecutor

VARIANTS = ("psycopg-sync", "psycopg-async", "asyncpg")
RIVER_FIXTURES = Path(__file__).parent.parent / "fixtures" / "river"
_DATA_TABLES = ("river_job", "river_leader", "river_queue", "river_notification")


def make_driver(variant: str, engine: sa.Engine | AsyncEngine, schema: str) -> Driver:
    """The driver under test for `variant` (the one place drivers are built)."""
    from river_driver_asyncpg import AsyncpgDriver
    from river_driver_psycopg import PsycopgDriver

    if variant == "asyncpg":
        assert isinstance(engine, AsyncEngine)
        return AsyncpgDriver(engine, schema=schema)
    return PsycopgDriver(engine, schema=schema)


@pytest.fixture(scope="session")
def driver_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop for the async engines (their pools belong to one loop)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def engines(
    database_url: str, sync_engine: sa.Engine, driver_loop: asyncio.AbstractEventLoop
) -> Iterator[dict[str, sa.Engine | AsyncEngine]]:
    url = make_url(database_url)
    psycopg_async = create_async_engine(url.set(drivername="postgresql+psycopg"), pool_size=5)
    asyncpg = create_async_engine(url.set(drivername="postgresql+asyncpg"), pool_size=5)
    yield {"psycopg-sync": sync_engine, "psycopg-async": psycopg_async, "asyncpg": asyncpg}
    driver_loop.run_until_complete(psycopg_async.dispose())
    driver_loop.run_until_complete(asyncpg.dispose())


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def conformance_schemas(sync_engine: sa.Engine) -> Iterator[tuple[str, str]]:
    """Two custom schemas migrated once for the session (each test starts them empty)."""
    suffix = uuid.uuid4().hex[:12]
    names = ("tc_" + suffix, "tc2_" + suffix)
    for name in names:
        with sync_engine.begin() as conn:
            conn.execute(sa.schema.CreateSchema(name))
        with sync_engine.connect() as conn:
            migrate.upgrade(conn, schema=name)
    yield names
    with sync_engine.begin() as conn:
        for name in names:
            conn.execute(sa.schema.DropSchema(name, cascade=True))


def _build_handle(
    variant: str,
    schema: str,
    engines: dict[str, sa.Engine | AsyncEngine],
    loop: asyncio.AbstractEventLoop,
) -> DriverHandle:
    setup_engine = engines["psycopg-sync"]
    assert isinstance(setup_engine, sa.Engine)
    return DriverHandle(
        variant, schema, make_driver(variant, engines[variant], schema), loop, setup_engine
    )


def _emptied_handle(
    variant: str,
    schema: str,
    engines: dict[str, sa.Engine | AsyncEngine],
    loop: asyncio.AbstractEventLoop,
) -> DriverHandle:
    """A handle on `schema` after truncating its tables (migrations are kept)."""
    handle = _build_handle(variant, schema, engines, loop)
    with handle.setup_engine.begin() as conn:
        SqlExecutor(conn, schema).table_truncate(_DATA_TABLES)
    return handle


@pytest.fixture
def handle(
    variant: str,
    conformance_schemas: tuple[str, str],
    engines: dict[str, sa.Engine | AsyncEngine],
    driver_loop: asyncio.AbstractEventLoop,
) -> DriverHandle:
    """The driver of this test's variant on an empty, migrated custom schema."""
    return _emptied_handle(variant, conformance_schemas[0], engines, driver_loop)


@pytest.fixture
def other(
    variant: str,
    conformance_schemas: tuple[str, str],
    engines: dict[str, sa.Engine | AsyncEngine],
    driver_loop: asyncio.AbstractEventLoop,
) -> DriverHandle:
    """The same variant's driver on a second schema, to prove that schemas are isolated."""
    return _emptied_handle(variant, conformance_schemas[1], engines, driver_loop)


@pytest.fixture
def handle_on(
    variant: str,
    engines: dict[str, sa.Engine | AsyncEngine],
    driver_loop: asyncio.AbstractEventLoop,
) -> Callable[[str], DriverHandle]:
    """Build this test's variant of driver on any schema, as it is."""
    return lambda schema: _build_handle(variant, schema, engines, driver_loop)


@pytest.fixture(scope="session")
def notification_payloads() -> dict[str, Any]:
    """River's golden NOTIFY payloads by name (protocol_values.json)."""
    data = json.loads((RIVER_FIXTURES / "protocol_values.json").read_text())
    return {n["name"]: n["payload"] for n in data["notifications"]}


@pytest.fixture
def listening(database_url: str) -> Iterator[Listening]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield Listening(conn)
