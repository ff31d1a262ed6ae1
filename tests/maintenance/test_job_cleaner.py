"""The job cleaner: retention per state, keep-forever, batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from maintenance_helpers import insert_job, set_columns

from river_core.driver import Driver
from river_core.job import JobState
from river_core.maintenance import JobCleaner

HOUR = 3600.0


async def _finalized(
    driver: Driver, engine: sa.Engine, schema: str, state: JobState, age: timedelta
) -> int:
    job = await insert_job(driver)
    set_columns(engine, schema, job.id, state=state.value, finalized_at=datetime.now(UTC) - age)
    return job.id


async def _remaining(driver: Driver) -> set[int]:
    async with driver.async_transaction() as ex:
        rows = await ex.run(lambda e: e.job_get_by_kind_many(["slow"]))
    return {r.id for r in rows}


async def test_retention_per_state(driver: Driver, sync_engine: sa.Engine, schema: str) -> None:
    """River's defaults: completed and cancelled after 24 h, discarded after 7 days; jobs in
    other states are never deleted, however old."""
    ids: dict[str, int] = {}
    for state in (JobState.COMPLETED, JobState.CANCELLED, JobState.DISCARDED):
        for label, age in (("old", timedelta(hours=25)), ("young", timedelta(hours=23))):
            ids[f"{state}-{label}"] = await _finalized(driver, sync_engine, schema, state, age)
    ids["discarded-6d"] = await _finalized(
        driver, sync_engine, schema, JobState.DISCARDED, timedelta(days=6)
    )
    ids["discarded-8d"] = await _finalized(
        driver, sync_engine, schema, JobState.DISCARDED, timedelta(days=8)
    )
    old = await insert_job(driver, created_at=datetime.now(UTC) - timedelta(days=30))
    set_columns(sync_engine, schema, old.id, state=JobState.RETRYABLE.value)
    ids["retryable-old"] = old.id

    counts = await JobCleaner(driver).run_once()

    assert counts == {"deleted": 3}
    assert await _remaining(driver) == {
        ids[k]
        for k in (
            "completed-young",
            "cancelled-young",
            "discarded-old",
            "discarded-young",
            "discarded-6d",
            "retryable-old",
        )
    }


async def test_none_keeps_a_state_forever(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    ages = {state: timedelta(days=365) for state in ("completed", "cancelled", "discarded")}
    ids = {
        s: await _finalized(driver, sync_engine, schema, JobState(s), age)
        for s, age in ages.items()
    }
    cleaner = JobCleaner(driver, completed_retention=None, discarded_retention=None)
    assert await cleaner.run_once() == {"deleted": 1}
    assert await _remaining(driver) == {ids["completed"], ids["discarded"]}
    keep_all = JobCleaner(
        driver, completed_retention=None, cancelled_retention=None, discarded_retention=None
    )
    assert await keep_all.run_once() == {"deleted": 0}
    assert await _remaining(driver) == {ids["completed"], ids["discarded"]}


async def test_deletes_in_batches(driver: Driver, sync_engine: sa.Engine, schema: str) -> None:
    for _ in range(7):
        await _finalized(driver, sync_engine, schema, JobState.COMPLETED, timedelta(days=2))
    cleaner = JobCleaner(driver, batch_size=3)
    cleaner._pause_between_batches = _no_pause  # type: ignore[method-assign]
    assert await cleaner.run_once() == {"deleted": 7}
    assert await _remaining(driver) == set()


async def _no_pause() -> None:
    return None
