"""Runtime fixtures: an async engine and driver per variant on a migrated schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from river_core.driver import Driver

VARIANTS = ["asyncpg", "psycopg"]


def _with_driver(url: str, driver: str) -> str:
    return f"postgresql+{driver}://{url.split('://', 1)[1]}"


@pytest.fixture(params=VARIANTS)
async def driver(
    request: pytest.FixtureRequest, database_url: str, migrated_schema: str
) -> AsyncIterator[Driver]:
    variant = request.param
    engine = create_async_engine(_with_driver(database_url, variant), pool_size=10)
    if variant == "asyncpg":
        from river_driver_asyncpg import AsyncpgDriver

        yield AsyncpgDriver(engine, schema=migrated_schema)
    else:
        from river_driver_psycopg import PsycopgDriver

        yield PsycopgDriver(engine, schema=migrated_schema)
    await engine.dispose()
