"""The rescuer: stuck jobs become retryable, discarded or cancelled; never before their own
timeout; the write re-checks each row, so a job finishing in between keeps its state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from maintenance_helpers import SlowWorker, get_job, insert_job, set_columns, workers

from river_core.driver import Driver, JobSetStateIfRunningParams, JobSetStateReason
from river_core.job import JobRow, JobState
from river_core.maintenance import RESCUE_ERROR, Rescuer
from river_core.retry_policy import DefaultRetryPolicy

RESCUE_AFTER = 60.0


def _rescuer(driver: Driver, *registered: Any, **kwargs: Any) -> Rescuer:
    policy = DefaultRetryPolicy()
    kwargs.setdefault("rescue_after", RESCUE_AFTER)
    kwargs.setdefault("job_timeout", 30.0)
    return Rescuer(
        driver,
        workers=workers(*registered) if registered else workers(SlowWorker()),
        next_retry=lambda row: policy.next_retry(row, datetime.now(UTC)),
        **kwargs,
    )


async def _stuck(
    driver: Driver, engine: sa.Engine, schema: str, ran_for: timedelta, **fields: Any
) -> JobRow:
    """A job left `running` since `ran_for` ago (its worker is gone)."""
    values: dict[str, Any] = {"attempt": 1}
    values.update({k: fields.pop(k) for k in ("attempt",) if k in fields})
    job = await insert_job(driver, **fields)
    set_columns(
        engine,
        schema,
        job.id,
        state="running",
        attempted_at=datetime.now(UTC) - ran_for,
        attempted_by=["gone"],
        **values,
    )
    return await get_job(driver, job.id)


async def test_stuck_job_becomes_retryable_with_an_error_and_a_rescue_count(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    stuck = await _stuck(driver, sync_engine, schema, timedelta(minutes=2))
    fresh = await _stuck(driver, sync_engine, schema, timedelta(seconds=30))
    rescuer = _rescuer(driver)

    before = datetime.now(UTC)
    counts = await rescuer.run_once()

    assert counts == {"retried": 1, "discarded": 0, "cancelled": 0, "rescued": 1}
    row = await get_job(driver, stuck.id)
    assert row.state is JobState.RETRYABLE
    assert row.finalized_at is None
    # The client's policy: 1 s +-10% after the first error.
    assert (
        before + timedelta(seconds=0.85)
        < row.scheduled_at
        < datetime.now(UTC) + timedelta(seconds=1.15)
    )
    assert [(e.error, e.attempt, e.trace) for e in row.errors] == [(RESCUE_ERROR, 1, "")]
    assert row.metadata == {"river:rescue_count": 1}
    assert (await get_job(driver, fresh.id)).state is JobState.RUNNING
    assert await rescuer.run_once() == {"retried": 0, "discarded": 0, "cancelled": 0, "rescued": 0}


async def test_out_of_attempts_unknown_kind_and_cancel_requested(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    """Out of attempts or of an unknown kind: discarded; a cancel was requested: cancelled.
    Each with the error appended and the count incremented."""
    ran = timedelta(minutes=2)
    spent = await _stuck(driver, sync_engine, schema, ran, max_attempts=3, attempt=3)
    unknown = await _stuck(driver, sync_engine, schema, ran, kind="nobody_works_this")
    cancel = await _stuck(
        driver,
        sync_engine,
        schema,
        ran,
        metadata=b'{"cancel_attempted_at":"2026-01-01T00:00:00Z","river:rescue_count":1}',
    )

    counts = await _rescuer(driver).run_once()

    assert counts == {"retried": 0, "discarded": 2, "cancelled": 1, "rescued": 3}
    rows = {j.id: await get_job(driver, j.id) for j in (spent, unknown, cancel)}
    assert rows[spent.id].state is JobState.DISCARDED
    assert rows[unknown.id].state is JobState.DISCARDED
    assert rows[cancel.id].state is JobState.CANCELLED
    assert rows[cancel.id].metadata["river:rescue_count"] == 2
    for row in rows.values():
        assert row.finalized_at is not None
        assert [e.error for e in row.errors] == [RESCUE_ERROR]


@pytest.mark.parametrize(
    ("worker_timeout", "ran_minutes", "rescued"),
    [
        (600.0, 5, False),  # past rescue_after, not past the kind's own 10 min timeout
        (600.0, 11, True),
        (None, 2, True),  # the client's 30 s timeout: rescue_after decides
        (0.0, 24 * 60, False),  # no timeout: it may run for ever (as River)
    ],
)
async def test_never_before_the_jobs_own_timeout(
    driver: Driver,
    sync_engine: sa.Engine,
    schema: str,
    worker_timeout: float | None,
    ran_minutes: int,
    rescued: bool,
) -> None:
    job = await _stuck(driver, sync_engine, schema, timedelta(minutes=ran_minutes))
    await _rescuer(driver, SlowWorker(timeout=worker_timeout)).run_once()
    state = (await get_job(driver, job.id)).state
    assert state is (JobState.RETRYABLE if rescued else JobState.RUNNING)


async def test_the_workers_next_retry_wins(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = await _stuck(driver, sync_engine, schema, timedelta(minutes=2))
    await _rescuer(driver, SlowWorker(retry_at=at)).run_once()
    assert (await get_job(driver, job.id)).scheduled_at == at


async def test_rescues_in_batches(driver: Driver, sync_engine: sa.Engine, schema: str) -> None:
    ids = [(await _stuck(driver, sync_engine, schema, timedelta(minutes=2))).id for _ in range(5)]
    rescuer = _rescuer(driver, batch_size=2)
    rescuer._pause_between_batches = _no_pause  # type: ignore[method-assign]
    assert (await rescuer.run_once())["rescued"] == 5
    assert {(await get_job(driver, i)).state for i in ids} == {JobState.RETRYABLE}


async def test_a_job_completing_between_read_and_write_keeps_its_state(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    """The race made deterministic: the rescuer reads the stuck job, then its worker's
    outcome is written (the completer's statement), then the rescuer writes. The job stays
    `completed`, with no rescue error and no rescue count."""
    job = await _stuck(driver, sync_engine, schema, timedelta(minutes=2))
    rescuer = _rescuer(driver)
    read = rescuer._get_stuck

    async def read_then_complete(*args: Any) -> list[JobRow]:
        rows = await read(*args)
        assert [r.id for r in rows] == [job.id]
        outcome = JobSetStateIfRunningParams(
            id=job.id,
            state=JobState.COMPLETED,
            reason=JobSetStateReason.COMPLETED,
            finalized_at=datetime.now(UTC),
        )
        async with driver.async_transaction() as ex:
            await ex.run(lambda e: e.job_set_state_if_running_many([outcome]))
        return rows

    rescuer._get_stuck = read_then_complete  # type: ignore[method-assign]
    counts = await rescuer.run_once()

    assert counts == {"retried": 1, "discarded": 0, "cancelled": 0, "rescued": 0}
    row = await get_job(driver, job.id)
    assert row.state is JobState.COMPLETED
    assert row.errors == []
    assert "river:rescue_count" not in row.metadata


async def _no_pause() -> None:
    return None
