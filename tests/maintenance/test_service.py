"""The shared service loop: a run log line with start, end and counts; reduced batches after
repeated timeouts; nothing runs past the leader's lease."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from maintenance_helpers import RunLog, insert_job, set_columns

from river_core.driver import Driver
from river_core.job import JobState
from river_core.maintenance import JobCleaner, LeadershipEndedError, ReducedBatchBreaker


@pytest.fixture
def run_log() -> object:
    handler = RunLog()
    logger = logging.getLogger("river.maintenance")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_each_run_logs_its_start_end_and_counts(driver: Driver, run_log: RunLog) -> None:
    cleaner = JobCleaner(driver, client_id="c-1")
    before = time.time()
    await cleaner.run_once()
    (record,) = run_log.runs("job_cleaner")
    assert record.levelno == logging.DEBUG
    assert before <= record.river_run_start <= record.river_run_end <= time.time()  # type: ignore[attr-defined]
    assert record.river_counts == {"deleted": 0}  # type: ignore[attr-defined]
    assert record.river_client_id == "c-1"  # type: ignore[attr-defined]
    assert record.getMessage().startswith("job_cleaner: ran from ")
    assert "deleted=0" in record.getMessage()


def test_breaker_opens_after_three_timeouts_in_a_row_and_stays_open() -> None:
    breaker = ReducedBatchBreaker()
    breaker.trip()
    breaker.trip()
    breaker.reset_if_not_open()  # a success in between
    breaker.trip()
    breaker.trip()
    assert not breaker.open
    breaker.trip()
    assert breaker.open
    breaker.reset_if_not_open()
    assert breaker.open


async def test_repeated_timeouts_switch_to_the_reduced_batch_size(
    driver: Driver, run_log: RunLog
) -> None:
    cleaner = JobCleaner(driver, timeout=1e-6, batch_size=100, reduced_batch_size=7)
    for _ in range(3):
        assert cleaner.batch_size == 100
        with pytest.raises(TimeoutError):
            await cleaner.run_once()
    assert cleaner.batch_size == 7
    assert all(r.river_error for r in run_log.runs("job_cleaner"))  # type: ignore[attr-defined]


async def test_a_statement_never_outlives_the_lease(
    driver: Driver, sync_engine: sa.Engine, schema: str, run_log: RunLog
) -> None:
    """A delete blocked by a lock is cancelled (on the server too) when the lease runs out;
    that is not a timeout of the service's own (no reduced batches), and the loop ends."""
    job = await insert_job(driver)
    set_columns(
        sync_engine,
        schema,
        job.id,
        state=JobState.COMPLETED.value,
        finalized_at=datetime.now(UTC) - timedelta(days=2),
    )
    cleaner = JobCleaner(driver, interval=0.05)
    lease_end = time.monotonic() + 0.5
    with sync_engine.connect() as locker:
        locker.exec_driver_sql(f'LOCK TABLE "{schema}".river_job IN ACCESS EXCLUSIVE MODE')
        try:
            started = time.monotonic()
            await asyncio.wait_for(cleaner.run(lambda: max(0.0, lease_end - time.monotonic())), 5)
            assert time.monotonic() - started < 1.5
            blocked = locker.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE 'DELETE FROM%%river_job%%'"
            ).scalar()
        finally:
            locker.rollback()
    assert blocked == 0
    (run,) = run_log.runs("job_cleaner")  # one run, blocked until the lease ran out
    assert "LeadershipEndedError" in run.river_error  # type: ignore[attr-defined]
    assert run.river_run_end - run.river_run_start > 0.4  # type: ignore[attr-defined]
    assert not cleaner.breaker._trips


async def test_without_a_lease_nothing_runs(driver: Driver) -> None:
    cleaner = JobCleaner(driver)
    cleaner._lease = lambda: 0.0
    with pytest.raises(LeadershipEndedError):
        await cleaner.run_once()
    await asyncio.wait_for(JobCleaner(driver, interval=0.01).run(lambda: 0.0), 2)  # at once
    assert math.isinf(JobCleaner(driver)._lease())
