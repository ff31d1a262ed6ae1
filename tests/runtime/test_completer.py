"""The completer: outcomes written in batches, and retried after a transient failure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest
from runtime_helpers import (
    TaskArgs,
    TaskWorker,
    Tracker,
    count_by_state,
    make_client,
    running,
    wait_until,
)

import river_core as river
from river_core.driver import Driver, JobSetStateIfRunningParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.job import JobRow, JobState
from river_core.runtime.completer import Completer

SetStateHook = Callable[[SqlExecutor, Sequence[JobSetStateIfRunningParams]], None]

INJECTED_SERIALIZATION_FAILURE = (
    "DO $$ BEGIN RAISE EXCEPTION 'injected serialization failure' "
    "USING ERRCODE = 'serialization_failure'; END $$"
)


def instrument(driver: Driver, hook: SetStateHook) -> None:
    """Call `hook` in the transaction of every `job_set_state_if_running_many` of `driver`."""
    base: type[SqlExecutor] = getattr(driver, "executor_class")  # noqa: B009

    class Instrumented(base):  # type: ignore[valid-type,misc]
        def job_set_state_if_running_many(
            self,
            outcomes: Sequence[JobSetStateIfRunningParams],
            now: datetime | None = None,
            *,
            returning: bool = True,
        ) -> list[JobRow]:
            hook(self, outcomes)
            rows: list[JobRow] = super().job_set_state_if_running_many(
                outcomes, now, returning=returning
            )
            return rows

    setattr(driver, "executor_class", Instrumented)  # noqa: B010


def completer_of(client: river.AsyncClient) -> Completer:
    engine: Any = getattr(client, "_engine")  # noqa: B009
    assert engine is not None, "the client is not started"
    completer: Completer = engine.completer
    return completer


async def _all_completed(driver: Driver, count: int) -> None:
    async def check() -> bool | None:
        return True if (await count_by_state(driver)).get(JobState.COMPLETED) == count else None

    await wait_until(check, f"{count} completed jobs", timeout=10, interval=0.05)


async def test_a_thousand_jobs_complete_in_few_batches(driver: Driver) -> None:
    """1,000 jobs are completed with fewer than 50 `job_set_state_if_running_many` writes."""
    writes: list[int] = []
    instrument(driver, lambda ex, outcomes: writes.append(len(outcomes)))
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker), max_workers=100)
    await client.insert_many([TaskArgs(str(i)) for i in range(1000)])
    async with running(client):
        completer = completer_of(client)
        await tracker.wait(lambda: len(tracker.ends) >= 1000, "1,000 jobs worked", timeout=30)
        await client.stop()
    counts = await count_by_state(driver)
    assert counts.get(JobState.COMPLETED) == 1000, counts
    assert sum(writes) == 1000
    assert len(writes) < 50, f"{len(writes)} writes: {writes}"
    assert completer.batches_written == len(writes)


async def test_completer_retries_after_a_serialization_failure(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """The first batch write fails with a real serialization failure (SQLSTATE 40001); the
    completer retries it and no outcome is lost or worked twice."""
    failed: list[int] = []

    def hook(ex: SqlExecutor, outcomes: Sequence[JobSetStateIfRunningParams]) -> None:
        if not failed:
            failed.append(len(outcomes))
            ex.conn.exec_driver_sql(INJECTED_SERIALIZATION_FAILURE)

    instrument(driver, hook)
    caplog.set_level(logging.WARNING, logger="river")
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker))
    ids = [r.job.id for r in await client.insert_many([TaskArgs(str(i)) for i in range(20)])]
    async with running(client):
        await _all_completed(driver, 20)
        completer = completer_of(client)
    assert failed and failed[0] >= 1
    assert completer.batches_written >= 1
    assert all(len(tracker.starts_of(i)) == 1 for i in ids)
    warnings = [r.getMessage() for r in caplog.records if r.name == "river.completer"]
    assert any("injected serialization failure" in m for m in warnings), warnings


async def test_completer_retries_after_losing_its_connection(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection of the first batch write dies mid-transaction (its backend is
    terminated); the completer retries on a new connection and every outcome is written,
    each job worked once."""
    lost: list[int] = []

    def hook(ex: SqlExecutor, outcomes: Sequence[JobSetStateIfRunningParams]) -> None:
        if not lost:
            lost.append(len(outcomes))
            ex.conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    instrument(driver, hook)
    caplog.set_level(logging.WARNING, logger="river")
    tracker = Tracker()
    client = make_client(driver, TaskWorker(tracker))
    ids = [r.job.id for r in await client.insert_many([TaskArgs(str(i)) for i in range(20)])]
    async with running(client):
        await _all_completed(driver, 20)
    assert lost and lost[0] >= 1
    assert all(len(tracker.starts_of(i)) == 1 for i in ids)
    warnings = [r.getMessage() for r in caplog.records if r.name == "river.completer"]
    assert any("failed, retrying" in m for m in warnings), warnings
