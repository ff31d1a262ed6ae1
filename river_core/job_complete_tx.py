"""Completing a job inside the worker's own transaction (River's `JobCompleteTx`).

A worker that writes to the database calls `complete_tx` in the same transaction: its side
effects and the job's completion commit together, or neither does. If that transaction rolls
back, the job is still `running` and its attempt ends as the worker's return or error decides.
The outcome the client writes afterwards changes nothing on a completed job (the completer only
changes rows still `running`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from river_core.driver import Driver, Executor, JobSetStateIfRunningParams, JobSetStateReason
from river_core.errors import JobNotFoundError, RiverError
from river_core.job import JobRow, JobState
from river_core.worker import Job

__all__ = ["complete_tx", "complete_tx_sync"]


async def complete_tx(tx: Any, job: Job[Any]) -> JobRow:
    """Mark `job` completed in `tx`, an `AsyncConnection` or `AsyncSession`, merging its
    metadata updates so far; returns the row as it now is in `tx` (unchanged, and so not
    completed, if the job was no longer running: cancelled or rescued meanwhile)."""
    driver, params = _prepare(job)
    with _mapped_errors(driver):
        rows = await driver.async_executor(tx).run(lambda ex: _complete(ex, params))
    return _row(rows, job)


def complete_tx_sync(tx: Any, job: Job[Any]) -> JobRow:
    """`complete_tx` for a sync `Connection` or `Session` (a sync worker's transaction)."""
    driver, params = _prepare(job)
    with _mapped_errors(driver):
        rows = _complete(driver.executor(tx), params)
    return _row(rows, job)


def _prepare(job: Job[Any]) -> tuple[Driver, JobSetStateIfRunningParams]:
    driver = job._driver
    if driver is None:
        raise RiverError("complete_tx needs a job handed to a worker by a client")
    if job.row.state is not JobState.RUNNING:
        raise RiverError(f"job must be running, it is {job.row.state}")
    updates = job.metadata_updates
    return driver, JobSetStateIfRunningParams(
        id=job.id,
        state=JobState.COMPLETED,
        reason=JobSetStateReason.COMPLETED,
        finalized_at=datetime.now(UTC),
        metadata_updates=json.dumps(updates, separators=(",", ":")).encode() if updates else None,
    )


def _complete(ex: Executor, params: JobSetStateIfRunningParams) -> list[JobRow]:
    return ex.job_set_state_if_running_many([params])


@contextmanager
def _mapped_errors(driver: Driver) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = driver.map_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


def _row(rows: list[JobRow], job: Job[Any]) -> JobRow:
    if not rows:
        raise JobNotFoundError(job.id)
    return rows[0]
