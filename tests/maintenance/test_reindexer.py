"""The reindexer: concurrent rebuilds on a schedule, leftovers of an interrupted build
dropped first, and one warning then silence for a role that may not reindex."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from maintenance_helpers import DriverFactory
from sqlalchemy.engine import make_url

from river_core import interval_schedule
from river_core.driver import Driver
from river_core.maintenance import DailyAtMidnightUTC, Reindexer


def _filenode(engine: sa.Engine, schema: str, index: str) -> int | None:
    with engine.connect() as conn:
        return conn.exec_driver_sql(  # type: ignore[no-any-return]
            "SELECT pg_relation_filenode(c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (schema, index),
        ).scalar()


def _invalid_artifact(engine: sa.Engine, schema: str, name: str) -> None:
    """An invalid index, as an interrupted `REINDEX CONCURRENTLY` leaves one."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE INDEX "{name}" ON "{schema}".river_job (kind)')
        conn.exec_driver_sql(
            f'UPDATE pg_index SET indisvalid = false WHERE indexrelid = \'"{schema}"."{name}"\''
            "::regclass"
        )


async def test_reindexes_existing_indexes_after_dropping_leftovers(
    driver: Driver, sync_engine: sa.Engine, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    _invalid_artifact(sync_engine, schema, "river_job_kind_ccnew")
    before = {i: _filenode(sync_engine, schema, i) for i in ("river_job_kind", "river_job_pkey")}
    reindexer = Reindexer(driver, index_names=("river_job_kind", "river_job_pkey", "no_such"))

    with caplog.at_level(logging.INFO, logger="river.maintenance"):
        counts = await reindexer.run_once()

    assert counts == {"reindexed": 2, "artifacts_dropped": 1, "failed": 0}
    for index, node in before.items():
        assert _filenode(sync_engine, schema, index) not in (None, node)
    assert _filenode(sync_engine, schema, "river_job_kind_ccnew") is None
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert messages == ["reindexer: configured indexes do not exist: no_such"]


@pytest.fixture
def not_owner_url(sync_engine: sa.Engine, database_url: str, schema: str) -> Iterator[str]:
    """A login role that may use the schema but owns none of River's indexes."""
    role = "river_not_owner_" + uuid.uuid4().hex[:8]
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    yield make_url(database_url).set(username=role).render_as_string(hide_password=False)
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE "{role}"')


async def test_without_the_privilege_it_switches_off_with_one_warning(
    make_driver: DriverFactory,
    sync_engine: sa.Engine,
    schema: str,
    not_owner_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = _filenode(sync_engine, schema, "river_job_kind")
    reindexer = Reindexer(
        make_driver(url=not_owner_url),
        schedule=interval_schedule(timedelta(seconds=0.05)),
        index_names=("river_job_kind", "river_job_args_index"),
    )
    reindexer.interval = 0.01  # no start stagger

    with caplog.at_level(logging.DEBUG, logger="river.maintenance"):
        await asyncio.wait_for(reindexer.run(lambda: math.inf), 5)  # ends once switched off
        assert await reindexer.run_once() == {"reindexed": 0, "artifacts_dropped": 0, "failed": 0}

    assert reindexer.disabled
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "may not reindex" in warnings[0] and "must be owner" in warnings[0]
    assert _filenode(sync_engine, schema, "river_job_kind") == before


async def test_runs_on_its_schedule(
    driver: Driver, sync_engine: sa.Engine, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    reindexer = Reindexer(
        driver,
        schedule=interval_schedule(timedelta(seconds=0.2)),
        index_names=("river_job_kind",),
    )
    reindexer.interval = 0.01  # no start stagger
    nodes = {_filenode(sync_engine, schema, "river_job_kind")}
    with caplog.at_level(logging.DEBUG, logger="river.maintenance"):
        task = asyncio.create_task(reindexer.run(lambda: math.inf))
        await asyncio.sleep(0.9)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    runs = [r for r in caplog.records if getattr(r, "river_service", None) == "reindexer"]
    assert 3 <= len(runs) <= 5
    assert all(r.river_counts["reindexed"] == 1 for r in runs)  # type: ignore[attr-defined]
    nodes.add(_filenode(sync_engine, schema, "river_job_kind"))
    assert len(nodes) == 2


def test_default_schedule_is_daily_at_midnight_utc() -> None:
    schedule = DailyAtMidnightUTC()
    at = datetime(2026, 3, 4, 15, 16, 17, tzinfo=UTC)
    assert schedule.next(at) == datetime(2026, 3, 5, tzinfo=UTC)
    assert schedule.next(datetime(2026, 3, 5, tzinfo=UTC)) == datetime(2026, 3, 6, tzinfo=UTC)
    plus_two = datetime(2026, 12, 31, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert schedule.next(plus_two) == datetime(2027, 1, 1, tzinfo=UTC)
