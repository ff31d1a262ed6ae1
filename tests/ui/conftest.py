"""Dashboard test fixtures: a migrated schema, seeded jobs, test clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient
from ui_helpers import Seed, driver_url

from river_core import migrate
from river_core.driver.sql_executor import SqlExecutor
from river_core.ui import create_app
from river_driver_psycopg import PsycopgDriver

_TABLES = ("river_job", "river_leader", "river_queue", "river_notification")


@pytest.fixture(scope="module")
def ui_schema(sync_engine: sa.Engine) -> Iterator[str]:
    """A schema migrated once per module."""
    name = "ui_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=name)
    yield name
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True))


@pytest.fixture
def schema(ui_schema: str, sync_engine: sa.Engine) -> str:
    """The module's schema, emptied for this test."""
    with sync_engine.begin() as conn:
        SqlExecutor(conn, ui_schema).table_truncate(_TABLES)
    return ui_schema


@pytest.fixture
def seed(sync_engine: sa.Engine, schema: str) -> Seed:
    return Seed(sync_engine, schema)


@pytest.fixture
def make_client(database_url: str, schema: str) -> Iterator[Callable[..., TestClient]]:
    """`make_client(**create_app options)`: a TestClient on an async psycopg driver (a pool of
    two connections, disposed at the end)."""
    opened: list[tuple[TestClient, Any]] = []

    def make(**options: Any) -> TestClient:
        engine = create_async_engine(
            driver_url(database_url, "psycopg"), pool_size=2, max_overflow=0
        )
        client = TestClient(create_app(PsycopgDriver(engine, schema=schema), **options))
        client.__enter__()
        opened.append((client, engine))
        return client

    yield make
    for client, engine in opened:
        client.portal.call(engine.dispose)
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
