"""`river_core.testing` on every client variant (psycopg sync with the sync helpers, psycopg
async and asyncpg with the async ones): River's `require_*` assertions against a client, a
driver or an open transaction, and `work_job` through the full middleware and hook chain."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import river_core as river
from river_core import testing
from river_core.events import EventKind
from river_core.job import JobState
from river_core.testing import ExpectedJob, RequireInsertedOpts
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

CALLS: list[str] = []


@dataclass
class EmailArgs:
    to: str
    kind: ClassVar[str] = "email"


@dataclass
class SmsArgs:
    number: str
    kind: ClassVar[str] = "sms"


@dataclass
class ChoreArgs:
    outcome: str = "complete"  # complete | fail | cancel | snooze | complete_tx
    kind: ClassVar[str] = "chore"


class Recorder:
    """A work hook and a worker middleware."""

    def work_begin(self, job: river.Job[Any]) -> None:
        CALLS.append("begin")

    def work_end(self, job: river.Job[Any], error: BaseException | None) -> BaseException | None:
        CALLS.append(f"end:{type(error).__name__ if error else 'ok'}")
        return error

    async def work(self, job: river.Job[Any], do_inner: Callable[[], Awaitable[None]]) -> None:
        CALLS.append("middleware>")
        job.set_metadata("middleware", True)
        await do_inner()


class ChoreWorker(river.Worker[ChoreArgs]):
    def __init__(self, engine: sa.Engine | AsyncEngine) -> None:
        self.engine = engine

    async def work(self, job: river.Job[ChoreArgs]) -> None:
        CALLS.append(f"work:{job.attempt}")
        outcome = job.args.outcome
        if outcome == "fail":
            raise ValueError("chore failed")
        if outcome == "cancel":
            raise river.JobCancel("not needed")
        if outcome == "snooze":
            raise river.JobSnooze(600)
        if outcome == "complete_tx":
            if isinstance(self.engine, AsyncEngine):
                async with self.engine.begin() as conn:
                    await river.complete_tx(conn, job)
            else:
                with self.engine.begin() as sync_conn:
                    river.complete_tx_sync(sync_conn, job)

    def next_retry(self, job: river.Job[ChoreArgs]) -> datetime:
        return datetime.now(UTC) + timedelta(hours=1)


class NoWorker(river.Worker[EmailArgs]):
    async def work(self, job: river.Job[EmailArgs]) -> None:
        return None


class SmsWorker(river.Worker[SmsArgs]):
    async def work(self, job: river.Job[SmsArgs]) -> None:
        return None


@pytest.fixture(scope="module")
def helpers_schema(sync_engine: sa.Engine) -> Iterator[str]:
    from river_core import migrate

    name = "th_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=name)
    yield name
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True))


@dataclass
class Variant:
    """One client variant, and the helpers matching it (sync or async)."""

    name: str
    client: river.Client | river.AsyncClient
    engine: sa.Engine | AsyncEngine
    schema: str

    @property
    def is_async(self) -> bool:
        return isinstance(self.client, river.AsyncClient)

    async def call(self, helper: str, *args: Any) -> Any:
        """`testing.<helper>` (sync) or `testing.<helper>_async`, awaited as needed."""
        fn = getattr(testing, f"{helper}_async" if self.is_async else helper)
        result = fn(*args)
        return await result if inspect.isawaitable(result) else result

    async def insert(self, *args: Any) -> river.InsertResult:
        result = self.client.insert(*args)
        return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]


@pytest.fixture(params=["psycopg-sync", "psycopg-async", "asyncpg"])
async def v(
    request: pytest.FixtureRequest, database_url: str, sync_engine: sa.Engine, helpers_schema: str
) -> AsyncIterator[Variant]:
    CALLS.clear()
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'TRUNCATE "{helpers_schema}".river_job')
    name = str(request.param)
    rest = database_url.split("://", 1)[1]
    engine: sa.Engine | AsyncEngine
    if name == "psycopg-sync":
        engine = sync_engine
        driver: Any = PsycopgDriver(sync_engine, schema=helpers_schema)
    else:
        dbapi = "asyncpg" if name == "asyncpg" else "psycopg"
        engine = create_async_engine(f"postgresql+{dbapi}://{rest}", pool_size=2, max_overflow=3)
        driver = (AsyncpgDriver if name == "asyncpg" else PsycopgDriver)(
            engine, schema=helpers_schema
        )
    workers = river.Workers()
    for worker in (ChoreWorker(engine), NoWorker(), SmsWorker()):
        workers.add(worker)
    recorder = Recorder()
    config = river.Config(workers=workers, hooks=[recorder], middleware=[recorder])
    client_class = river.AsyncClient if name != "psycopg-sync" else river.Client
    yield Variant(name, client_class(driver, config), engine, helpers_schema)
    if isinstance(engine, AsyncEngine):
        await engine.dispose()


async def test_require_inserted(v: Variant) -> None:
    with pytest.raises(AssertionError, match="no jobs found with kind: email"):
        await v.call("require_inserted", v.client, EmailArgs)
    at = datetime.now(UTC) + timedelta(hours=1)
    opts = river.InsertOpts(
        queue="mail", priority=2, tags=["urgent"], scheduled_at=at, max_attempts=3
    )
    await v.insert(EmailArgs("x@example.com"), opts)
    job = await v.call("require_inserted", v.client, EmailArgs("ignored@example.com"))
    assert job.args == EmailArgs("x@example.com") and job.kind == "email"
    match = RequireInsertedOpts(
        queue="mail", priority=2, tags=["urgent"], scheduled_at=at, max_attempts=3
    )
    await v.call("require_inserted", v.client.driver, EmailArgs, match)
    await v.call(
        "require_inserted", v.client, EmailArgs, RequireInsertedOpts(state=JobState.SCHEDULED)
    )
    wrong = RequireInsertedOpts(queue="default", priority=1)
    with pytest.raises(AssertionError, match=r"queue 'mail' not equal to expected 'default'"):
        await v.call("require_inserted", v.client, EmailArgs, wrong)
    await v.insert(EmailArgs("y@example.com"))
    with pytest.raises(AssertionError, match="more than one job found with kind: email"):
        await v.call("require_inserted", v.client, EmailArgs)


async def test_require_inserted_in_an_open_transaction(v: Variant) -> None:
    """Inside the transaction that inserted it, before it commits (schema from the opts)."""
    opts = RequireInsertedOpts(schema=v.schema)
    if isinstance(v.engine, AsyncEngine):
        assert isinstance(v.client, river.AsyncClient)
        async with v.engine.connect() as conn:
            await v.client.insert_tx(conn, SmsArgs("1"))
            job = await testing.require_inserted_async(conn, SmsArgs, opts)
            await conn.rollback()
    else:
        assert isinstance(v.client, river.Client)
        with v.engine.connect() as sync_conn:
            v.client.insert_tx(sync_conn, SmsArgs("1"))
            job = testing.require_inserted(sync_conn, SmsArgs, opts)
            sync_conn.rollback()
    assert job.args == SmsArgs("1")
    await v.call("require_not_inserted", v.client, SmsArgs)


async def test_require_not_inserted(v: Variant) -> None:
    await v.call("require_not_inserted", v.client, SmsArgs)
    await v.insert(SmsArgs("1"), river.InsertOpts(priority=3, queue="texts"))
    with pytest.raises(AssertionError, match="1 jobs found with kind, but expected to find none"):
        await v.call("require_not_inserted", v.client, SmsArgs)
    # One option differing is enough for the job not to count.
    await v.call(
        "require_not_inserted", v.client, SmsArgs, RequireInsertedOpts(priority=3, queue="q")
    )
    with pytest.raises(AssertionError, match="priority equal to excluded 3"):
        await v.call(
            "require_not_inserted",
            v.client,
            SmsArgs,
            RequireInsertedOpts(priority=3, queue="texts"),
        )


async def test_require_many_inserted(v: Variant) -> None:
    await v.insert(EmailArgs("a"))
    await v.insert(SmsArgs("1"), river.InsertOpts(priority=4))
    await v.insert(EmailArgs("b"))
    rows = await v.call(
        "require_many_inserted",
        v.client,
        [
            ExpectedJob(EmailArgs),
            ExpectedJob(SmsArgs("x"), RequireInsertedOpts(priority=4)),
            ExpectedJob(EmailArgs, RequireInsertedOpts(state=JobState.AVAILABLE)),
        ],
    )
    assert [r.kind for r in rows] == ["email", "sms", "email"]
    # Every job of the expected kinds counts: one email is not what was inserted.
    with pytest.raises(
        AssertionError, match=r"expected: \['email'\], actual: \['email', 'email'\]"
    ):
        await v.call("require_many_inserted", v.client, [ExpectedJob(EmailArgs)])
    with pytest.raises(AssertionError, match="expected job index 1"):
        await v.call(
            "require_many_inserted",
            v.client,
            [
                ExpectedJob(EmailArgs),
                ExpectedJob(SmsArgs, RequireInsertedOpts(priority=1)),
                ExpectedJob(EmailArgs),
            ],
        )


async def test_work_job_runs_the_full_chain_and_persists_the_outcome(v: Variant) -> None:
    result = await testing.work_job(v.client, ChoreArgs())
    assert result.kind is EventKind.JOB_COMPLETED
    assert CALLS == ["middleware>", "begin", "work:1", "end:ok"]
    assert result.job.state is JobState.COMPLETED and result.job.attempt == 1
    assert result.job.metadata == {"middleware": True}
    assert result.job.attempted_by == [v.client.config.id]

    expectations = {
        "fail": (EventKind.JOB_FAILED, JobState.RETRYABLE),
        "cancel": (EventKind.JOB_CANCELLED, JobState.CANCELLED),
        "snooze": (EventKind.JOB_SNOOZED, JobState.SCHEDULED),
        "complete_tx": (EventKind.JOB_COMPLETED, JobState.COMPLETED),
    }
    for outcome, (kind, state) in expectations.items():
        result = await testing.work_job(v.client, ChoreArgs(outcome))
        assert (result.kind, result.job.state) == (kind, state), outcome
        if outcome == "fail":
            assert "chore failed" in result.job.errors[0].error
            assert CALLS[-1] == "end:ValueError"
