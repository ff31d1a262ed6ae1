"""Shared fixtures: a throwaway test database on the real PostgreSQL, and migrated schemas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

FIXTURES = Path(__file__).parent / "fixtures"
RIVER_FIXTURES = FIXTURES / "river"

ADMIN_URL = os.environ.get("RIVER_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DATABASE = os.environ.get("RIVER_TEST_DATABASE", f"river_queue_test_{os.getpid()}")


def with_driver(url: str, driver: str) -> str:
    """`postgresql://...` -> `postgresql+<driver>://...` for SQLAlchemy."""
    _, rest = url.split("://", 1)
    return f"postgresql+{driver}://{rest}"


def _admin_engine() -> sa.Engine:
    return sa.create_engine(with_driver(ADMIN_URL, "psycopg"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, empty database for this test session, dropped at the end (plain libpq URL)."""
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{TEST_DATABASE}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{TEST_DATABASE}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def sync_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(with_driver(database_url, "psycopg"), pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_schema(sync_engine: sa.Engine) -> Iterator[str]:
    """An empty schema with a unique name, dropped after the test."""
    name = "t_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    yield name
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def migrated_schema(sync_engine: sa.Engine, fresh_schema: str) -> str:
    """A fresh schema migrated to River's latest version."""
    from river_core import migrate

    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=fresh_schema)
    return fresh_schema
