"""`complete_tx`: a job completed in the worker's own transaction, on every async driver, from
an async worker (`AsyncConnection`) and a sync one (`complete_tx_sync`, sync `Connection`).

A rolled back transaction leaves the job running (its attempt then fails and it is retried);
a committed one leaves it completed together with the worker's own row, whatever the worker
does afterwards.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from runtime_helpers import make_client, running, wait_for_job
from sqlalchemy.ext.asyncio import AsyncEngine

import river_core as river
from river_core.driver import Driver
from river_core.job import JobRow, JobState


@dataclass
class TxArgs:
    mode: str  # "rollback first" (then commit on the retry) | "commit then raise"
    kind: ClassVar[str] = "tx_job"


@dataclass
class SyncTxArgs:
    mode: str
    kind: ClassVar[str] = "sync_tx_job"


def side_table(schema: str) -> sa.Table:
    return sa.Table(
        "b2_worker_rows",
        sa.MetaData(schema=schema),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
    )


@pytest.fixture
def table(sync_engine: sa.Engine, schema: str) -> sa.Table:
    """The worker's own table, empty."""
    table = side_table(schema)
    with sync_engine.begin() as conn:
        table.create(conn, checkfirst=True)
        conn.execute(table.delete())
    return table


class Recorder:
    """What the workers saw of the job from outside their transaction."""

    def __init__(self) -> None:
        self.inside: list[JobState] = []  # the row complete_tx returned (uncommitted)
        self.after_rollback: list[JobState] = []


def job_state(conn: sa.Connection, table: sa.Table, job_id: int) -> JobState:
    river_job = sa.table("river_job", sa.column("id"), sa.column("state"), schema=table.schema)
    state = conn.scalar(sa.select(river_job.c.state).where(river_job.c.id == job_id))
    return JobState(state)


class TxWorker(river.Worker[TxArgs]):
    def __init__(self, engine: AsyncEngine, table: sa.Table, recorder: Recorder) -> None:
        self.engine, self.table, self.recorder = engine, table, recorder

    async def work(self, job: river.Job[TxArgs]) -> None:
        async with self.engine.connect() as conn:
            tx = await conn.begin()
            await conn.execute(self.table.insert().values(job_id=job.id, attempt=job.attempt))
            row = await river.complete_tx(conn, job)
            self.recorder.inside.append(row.state)
            if job.args.mode == "rollback first" and job.attempt == 1:
                await tx.rollback()
                state = await conn.run_sync(lambda c: job_state(c, self.table, job.id))
                self.recorder.after_rollback.append(state)
                raise RuntimeError("the worker's transaction rolled back")
            await tx.commit()
        if job.args.mode == "commit then raise":
            raise RuntimeError("failed after committing")

    def next_retry(self, job: river.Job[TxArgs]) -> datetime:
        return datetime.now(UTC) + timedelta(milliseconds=10)


class SyncTxWorker(river.Worker[SyncTxArgs]):
    def __init__(self, engine: sa.Engine, table: sa.Table, recorder: Recorder) -> None:
        self.engine, self.table, self.recorder = engine, table, recorder

    def work(self, job: river.Job[SyncTxArgs]) -> None:
        with self.engine.connect() as conn:
            tx = conn.begin()
            conn.execute(self.table.insert().values(job_id=job.id, attempt=job.attempt))
            self.recorder.inside.append(river.complete_tx_sync(conn, job).state)
            if job.args.mode == "rollback first" and job.attempt == 1:
                tx.rollback()
                self.recorder.after_rollback.append(job_state(conn, self.table, job.id))
                conn.rollback()
                raise RuntimeError("the worker's transaction rolled back")
            tx.commit()
        if job.args.mode == "commit then raise":
            raise RuntimeError("failed after committing")

    def next_retry(self, job: river.Job[SyncTxArgs]) -> datetime:
        return datetime.now(UTC) + timedelta(milliseconds=10)


@pytest.fixture(params=["async worker", "sync worker"])
def setup(
    request: pytest.FixtureRequest, driver: Driver, sync_engine: sa.Engine, table: sa.Table
) -> tuple[river.AsyncClient, type[Any], Recorder]:
    recorder = Recorder()
    engine: Any = getattr(driver, "engine")  # noqa: B009
    if request.param == "async worker":
        worker: river.Worker[Any] = TxWorker(engine, table, recorder)
        args_type: type[Any] = TxArgs
    else:
        worker, args_type = SyncTxWorker(sync_engine, table, recorder), SyncTxArgs
    return make_client(driver, worker, fetch_poll_interval=0.1), args_type, recorder


def worker_rows(sync_engine: sa.Engine, table: sa.Table) -> list[tuple[int, int]]:
    with sync_engine.connect() as conn:
        return [(r.job_id, r.attempt) for r in conn.execute(sa.select(table))]


async def test_rolled_back_leaves_the_job_running_then_it_is_retried(
    setup: tuple[river.AsyncClient, type[Any], Recorder], sync_engine: sa.Engine, table: sa.Table
) -> None:
    client, args_type, recorder = setup
    job_id = (await client.insert(args_type("rollback first"))).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.COMPLETED})
    assert recorder.inside == [JobState.COMPLETED, JobState.COMPLETED]
    assert recorder.after_rollback == [JobState.RUNNING]
    assert row.attempt == 2
    assert [e.attempt for e in row.errors] == [1]
    assert "rolled back" in row.errors[0].error
    assert worker_rows(sync_engine, table) == [(job_id, 2)]  # the first attempt's row is gone


async def test_committed_completes_with_the_workers_row_whatever_follows(
    setup: tuple[river.AsyncClient, type[Any], Recorder], sync_engine: sa.Engine, table: sa.Table
) -> None:
    client, args_type, recorder = setup
    failures = client.subscribe([river.EventKind.JOB_FAILED])
    job_id = (await client.insert(args_type("commit then raise"))).job.id
    async with running(client):
        event = await asyncio.wait_for(failures.get(), 5)  # the attempt's outcome is written
    row = event.job
    assert row is not None and row.id == job_id
    assert recorder.inside == [JobState.COMPLETED]
    assert row.state is JobState.COMPLETED and row.attempt == 1
    assert row.finalized_at is not None
    assert row.errors == []  # the failed outcome written afterwards changed nothing
    assert worker_rows(sync_engine, table) == [(job_id, 1)]


def test_complete_tx_needs_a_running_job_from_a_client() -> None:
    now = datetime.now(UTC)
    row = JobRow(1, "tx_job", {}, JobState.RUNNING, "default", 1, 1, 25, now, now)
    with pytest.raises(river.RiverError, match="handed to a worker"):
        river.complete_tx_sync(object(), river.Job(row=row, args=None))
    done = JobRow(1, "tx_job", {}, JobState.COMPLETED, "default", 1, 1, 25, now, now)
    job = river.Job(row=done, args=None, _driver=object())  # type: ignore[arg-type]
    with pytest.raises(river.RiverError, match="must be running"):
        river.complete_tx_sync(object(), job)
