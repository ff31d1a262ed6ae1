"""Client fixtures: `rc`, a client of each variant (psycopg-sync, psycopg-async, asyncpg).

One schema is migrated for the whole session and emptied before each test; engines live for the
session on the session's event loop (every test module here runs in that loop).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from client_harness import ClientUnderTest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from river_core import migrate
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

VARIANTS = ("psycopg-sync", "psycopg-async", "asyncpg")
# The server is shared: few idle connections kept, bursts (20 concurrent inserts) in overflow.
POOL = {"pool_size": 3, "max_overflow": 25}


@pytest.fixture(scope="session")
def client_schema(sync_engine: sa.Engine) -> Iterator[str]:
    """A schema migrated to River's latest version, once for the session."""
    name = "tcl_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=name)
    yield name
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client_engines(database_url: str) -> AsyncIterator[dict[str, sa.Engine | AsyncEngine]]:
    url = make_url(database_url)
    engines: dict[str, sa.Engine | AsyncEngine] = {
        "psycopg-sync": sa.create_engine(url.set(drivername="postgresql+psycopg"), **POOL),
        "psycopg-async": create_async_engine(url.set(drivername="postgresql+psycopg"), **POOL),
        "asyncpg": create_async_engine(url.set(drivername="postgresql+asyncpg"), **POOL),
    }
    yield engines
    for engine in engines.values():
        if isinstance(engine, AsyncEngine):
            await engine.dispose()
        else:
            engine.dispose()


@pytest.fixture(params=VARIANTS)
def rc(
    request: pytest.FixtureRequest,
    database_url: str,
    sync_engine: sa.Engine,
    client_engines: dict[str, sa.Engine | AsyncEngine],
    client_schema: str,
) -> ClientUnderTest:
    """A client of one variant on the session's schema, emptied first."""
    variant = str(request.param)
    with sync_engine.begin() as conn:
        for table in ("river_job", "river_queue", "river_leader"):
            conn.exec_driver_sql(f'DELETE FROM "{client_schema}".{table}')
    engine = client_engines[variant]
    driver_class = AsyncpgDriver if variant == "asyncpg" else PsycopgDriver
    return ClientUnderTest(
        variant=variant,
        schema=client_schema,
        database_url=database_url,
        engine=engine,
        driver=driver_class(engine, schema=client_schema),  # type: ignore[arg-type]
        db=sync_engine,
    )
