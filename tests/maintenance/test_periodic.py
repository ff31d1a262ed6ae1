"""Periodic jobs on real PostgreSQL: schedules firing on time, runs on start, runs due together
in one transaction, the insert path (options, hooks, middleware, uniqueness), resuming from the
last inserted target time in a new term, and `client.periodic_jobs` at runtime."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from maintenance_helpers import RunLog, insert_job

import river_core as river
from river_core.driver import Driver, JobInsertParams, JobListParams
from river_core.driver.tables import river_job
from river_core.gojson import format_time
from river_core.job import JobRow, JobState
from river_core.maintenance import PeriodicJobEnqueuer
from river_core.maintenance.periodic import PERIODIC_TARGET_AT_KEY, periodic_unique_key
from river_driver_psycopg import PsycopgDriver

SECOND = timedelta(seconds=1)
ONE_VARIANT = pytest.mark.parametrize("variant", ["asyncpg"], indirect=True)  # timing tests


@dataclass
class TickArgs:
    n: int = 0
    kind: ClassVar[str] = "periodic_tick"


class TickWorker(river.Worker[TickArgs]):
    async def work(self, job: river.Job[TickArgs]) -> None:
        return None


@dataclass
class Once:
    """A schedule with one run, at `at`."""

    at: datetime

    def next(self, after: datetime) -> datetime | None:
        return self.at if after < self.at else None


class BrokenSchedule:
    def next(self, after: datetime) -> datetime | None:
        raise RuntimeError("schedule failed")


@pytest.fixture(autouse=True)
def no_stagger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("river_core.maintenance.service.MAX_STAGGER", 0.0)


@pytest.fixture
def run_log() -> Iterator[RunLog]:
    handler = RunLog()
    logger = logging.getLogger("river.maintenance")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@contextlib.asynccontextmanager
async def leading(*services: PeriodicJobEnqueuer) -> AsyncIterator[None]:
    """Run the services as leaders (unlimited lease) for the block, then cancel them."""
    tasks = [asyncio.create_task(s.run(lambda: math.inf)) for s in services]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def enqueuer(driver: Driver, *jobs: river.PeriodicJob, **config: Any) -> PeriodicJobEnqueuer:
    bundle = river.PeriodicJobBundle(jobs)
    return PeriodicJobEnqueuer(driver, jobs=bundle, config=river.Config(**config))


async def rows(driver: Driver, **metadata: Any) -> list[JobRow]:
    params = JobListParams(max=10_000, metadata=metadata or None)
    async with driver.async_autocommit() as ex:
        return await ex.run(lambda e: e.job_list(params))


async def wait_rows(driver: Driver, count: int, timeout: float = 5.0) -> list[JobRow]:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found := await rows(driver)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(found)} rows, not {count}"
        await asyncio.sleep(0.02)
    return found


def target(row: JobRow) -> datetime:
    return datetime.fromisoformat(row.metadata[PERIODIC_TARGET_AT_KEY])


def assert_gap_free(targets: list[datetime], step: timedelta) -> None:
    assert len(set(targets)) == len(targets), "a target time was inserted twice"
    ordered = sorted(targets)
    assert [b - a for a, b in itertools.pairwise(ordered)] == [step] * (len(ordered) - 1)


def transaction_ids(sync_engine: sa.Engine, schema: str) -> dict[int, int]:
    """Job id -> id of the transaction that inserted it (`xmin`)."""
    with sync_engine.connect() as conn:
        result = conn.execute(
            sa.select(river_job.c.id, sa.literal_column("xmin::text::bigint")),
            execution_options={"schema_translate_map": {None: schema}},
        )
        return {job_id: xmin for job_id, xmin in result}


@ONE_VARIANT
async def test_every_second_schedules_insert_each_run_at_its_target_time(
    driver: Driver,
) -> None:
    """`@every 1s` (whole seconds, robfig) and a 1 s interval (from the term's start): one run
    a second, scheduled at its target time, inserted within 100 ms before it or just after."""
    started = datetime.now(UTC)
    service = enqueuer(
        driver,
        river.PeriodicJob(river.cron_schedule("@every 1s"), lambda: TickArgs(1), id="cron"),
        river.PeriodicJob(river.interval_schedule(SECOND), lambda: TickArgs(2), id="interval"),
    )
    async with leading(service):
        await asyncio.sleep(3.3)

    for job_id, n in (("cron", 1), ("interval", 2)):
        found = await rows(driver, **{"river:periodic_job_id": job_id})
        targets = [target(r) for r in found]
        assert len(found) >= 3
        assert_gap_free(targets, SECOND)
        assert started < min(targets) <= started + 1.5 * SECOND
        for row in found:
            at = target(row)
            assert row.kind == "periodic_tick" and row.args == {"n": n}
            assert row.state is JobState.AVAILABLE and row.scheduled_at == at
            assert -0.11 <= (row.created_at - at).total_seconds() <= 0.5
            assert row.metadata == {
                "river:periodic_job_id": job_id,
                "periodic": True,
                PERIODIC_TARGET_AT_KEY: row.metadata[PERIODIC_TARGET_AT_KEY],
            }
            assert (row.unique_key, row.unique_states) == periodic_unique_key(job_id, at)
        if job_id == "cron":
            assert all(t.microsecond == 0 for t in targets)


async def test_run_on_start_inserts_once_per_term(driver: Driver) -> None:
    hourly = river.interval_schedule(timedelta(hours=1))
    jobs = (
        river.PeriodicJob(hourly, TickArgs, run_on_start=True, id="boot"),
        river.PeriodicJob(hourly, lambda: TickArgs(2)),  # not due within the test
    )
    for term in (1, 2):
        async with leading(enqueuer(driver, *jobs)):
            before = datetime.now(UTC)
            found = await wait_rows(driver, term)
            await asyncio.sleep(0.2)
        assert len(await rows(driver)) == term
        row = found[-1]
        assert row.args == {"n": 0}
        assert row.metadata == {"river:periodic_job_id": "boot", "periodic": True}
        assert row.unique_key is None and row.state is JobState.AVAILABLE
        assert before - SECOND <= row.scheduled_at <= datetime.now(UTC)


async def test_runs_due_together_are_inserted_in_one_transaction(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    """Jobs scheduled in one pass on one interval fall due at the same times."""
    every = river.interval_schedule(timedelta(seconds=0.5))
    jobs = [river.PeriodicJob(every, lambda n=n: TickArgs(n), id=f"job{n}") for n in range(3)]
    async with leading(enqueuer(driver, *jobs)):
        found = await wait_rows(driver, 6)
    xmin = transaction_ids(sync_engine, schema)
    by_transaction: dict[int, list[JobRow]] = {}
    for row in found:
        by_transaction.setdefault(xmin[row.id], []).append(row)
    for group in by_transaction.values():
        assert sorted(r.args["n"] for r in group) == [0, 1, 2]
        assert len({target(r) for r in group}) == 1


@dataclass
class TagHook:
    def insert_begin(self, params: JobInsertParams) -> JobInsertParams:
        return dataclasses.replace(params, tags=(*params.tags, "hooked"))


@dataclass
class RecordingMiddleware:
    batches: list[list[str]] = dataclasses.field(default_factory=list)

    def insert_many(self, params: list[JobInsertParams], do_inner: Callable[[], Any]) -> Any:
        self.batches.append([p.kind for p in params])
        return do_inner()


def failing() -> TickArgs:
    raise RuntimeError("constructor failed")


async def test_runs_take_the_insert_path_options_hooks_middleware_and_uniqueness(
    driver: Driver, run_log: RunLog, caplog: pytest.LogCaptureFixture
) -> None:
    at = datetime.now(UTC) + timedelta(milliseconds=300)
    middleware = RecordingMiddleware()
    own_unique = river.InsertOpts(unique_opts=river.UniqueOpts(by_args=True))
    service = enqueuer(
        driver,
        river.PeriodicJob(
            Once(at),
            lambda: (
                TickArgs(1),
                river.InsertOpts(queue="periodic", priority=3, metadata={"team": "ops"}),
            ),
            id="opts",
        ),
        river.PeriodicJob(Once(at), lambda: None, id="none"),
        river.PeriodicJob(Once(at), failing, id="fails"),
        river.PeriodicJob(Once(at), lambda: (TickArgs(4), own_unique), id="own_unique"),
        river.PeriodicJob(Once(at), lambda: TickArgs(5)),
        river.PeriodicJob(BrokenSchedule(), TickArgs, id="broken_schedule"),
        hooks=[TagHook()],
        middleware=[middleware],
    )
    async with leading(service):
        found = {r.args["n"]: r for r in await wait_rows(driver, 3)}
        await asyncio.sleep(0.2)

    assert sorted(found) == [1, 4, 5] and len(await rows(driver)) == 3
    assert middleware.batches == [["periodic_tick"] * 3]  # one insert, one transaction
    assert all(r.tags == ["hooked"] and r.scheduled_at == at for r in found.values())
    assert all(r.state is JobState.AVAILABLE for r in found.values())
    opts = found[1]
    assert (opts.queue, opts.priority) == ("periodic", 3)
    assert opts.metadata == {
        "team": "ops",
        "river:periodic_job_id": "opts",
        "periodic": True,
        PERIODIC_TARGET_AT_KEY: format_time(at),
    }
    assert (opts.unique_key, opts.unique_states) == periodic_unique_key("opts", at)
    # The run's own unique options win over the periodic key.
    assert (
        found[4].unique_key
        == river.unique_key(
            "periodic_tick", b'{"n":4}', "default", river.UniqueOpts(by_args=True), now=at
        )[0]
    )
    assert found[5].metadata == {"periodic": True} and found[5].unique_key is None
    counts = [r.river_counts for r in run_log.runs("periodic_job_enqueuer")]  # type: ignore[attr-defined]
    assert {"inserted": 3, "duplicates": 0, "skipped": 2} in counts
    assert "constructor failed" in caplog.text and "schedule failed" in caplog.text


async def test_a_new_term_resumes_each_job_after_its_last_target_and_catches_up(
    driver: Driver, run_log: RunLog, caplog: pytest.LogCaptureFixture
) -> None:
    """A job resumes after the target time of its newest row that has one; runs missed in
    between are inserted at once (in target order) unless more than the catch-up late; a job
    with no row starts after now."""
    now = datetime.now(UTC)
    last = now - timedelta(minutes=10)

    def row_of(job_id: str, at: datetime | None) -> bytes:
        fields: dict[str, Any] = {"river:periodic_job_id": job_id, "periodic": True}
        if at is not None:
            fields[PERIODIC_TARGET_AT_KEY] = format_time(at)
        return json.dumps(fields).encode()

    await insert_job(driver, metadata=row_of("resume", last - timedelta(minutes=4)))
    await insert_job(driver, metadata=row_of("resume", last))
    await insert_job(driver, metadata=row_of("resume", None))  # a run on start: no target
    await insert_job(driver, metadata=row_of("stale", now - timedelta(hours=3)))
    four, twenty_five = timedelta(minutes=4), timedelta(minutes=25)
    service = enqueuer(
        driver,
        river.PeriodicJob(river.interval_schedule(four), lambda: TickArgs(1), id="resume"),
        river.PeriodicJob(river.interval_schedule(twenty_five), lambda: TickArgs(2), id="stale"),
        river.PeriodicJob(river.interval_schedule(four), lambda: TickArgs(3), id="fresh"),
    )
    with caplog.at_level(logging.WARNING, "river.maintenance"):
        async with leading(service):
            await wait_rows(driver, 4 + 4)
            await asyncio.sleep(0.2)

    new = [r for r in await rows(driver) if r.kind == "periodic_tick"]
    resumed = [target(r) for r in new if r.args["n"] == 1]
    assert resumed == [last + four, last + 2 * four]  # ids in target order
    caught_up = [target(r) for r in new if r.args["n"] == 2]
    assert len(caught_up) == 2 and caught_up[1] - caught_up[0] == twenty_five
    assert now - timedelta(hours=1) < caught_up[0] < now - timedelta(minutes=34)
    assert "'stale': skipping its runs due from" in caplog.text
    assert not [r for r in new if r.args["n"] == 3]


@ONE_VARIANT
async def test_two_enqueuers_at_once_insert_each_target_time_once(
    driver: Driver, run_log: RunLog
) -> None:
    """Should two clients ever lead at once, the unique key on (id, target time) keeps each
    run single."""
    job = river.PeriodicJob(river.cron_schedule("@every 1s"), TickArgs, id="both")
    async with leading(enqueuer(driver, job), enqueuer(driver, job)):
        await asyncio.sleep(2.3)
    targets = [target(r) for r in await rows(driver)]
    assert len(targets) >= 2
    assert_gap_free(targets, SECOND)
    counts = [r.river_counts for r in run_log.runs("periodic_job_enqueuer")]  # type: ignore[attr-defined]
    assert (
        sum(c["duplicates"] for c in counts) == sum(c["inserted"] for c in counts) == len(targets)
    )


@ONE_VARIANT
async def test_a_leader_change_neither_skips_nor_repeats_a_run(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    """A 250 ms interval: the first leader stops, nobody leads for a second, another leader
    (its own bundle and clock) continues the same sequence, catching the gap up at once."""
    step = timedelta(milliseconds=250)

    def job() -> river.PeriodicJob:
        return river.PeriodicJob(river.interval_schedule(step), TickArgs, id="tick")

    async with leading(enqueuer(driver, job())):
        await asyncio.sleep(1.0)
    before_gap = len(await rows(driver))
    await asyncio.sleep(1.0)
    resumed_at = datetime.now(UTC)
    async with leading(enqueuer(driver, job())):
        await asyncio.sleep(1.0)

    found = await rows(driver)
    assert_gap_free([target(r) for r in found], step)
    late = [r for r in found[before_gap:] if target(r) < resumed_at]
    assert len(late) >= 3  # the gap, inserted by the second leader
    xmin = transaction_ids(sync_engine, schema)
    assert len({xmin[r.id] for r in late}) == 1


async def test_client_periodic_jobs_added_and_removed_at_runtime(
    driver: Driver,
) -> None:
    workers = river.Workers()
    workers.add(TickWorker())
    every = river.interval_schedule(timedelta(milliseconds=200))
    client = river.AsyncClient(
        driver,
        river.Config(
            queues={"default": river.QueueConfig(max_workers=5)},
            workers=workers,
            periodic_jobs=[river.PeriodicJob(every, lambda: TickArgs(0), id="configured")],
            reindexer_enabled=False,
            fetch_poll_interval=0.1,
        ),
    )
    hourly = river.interval_schedule(timedelta(hours=1))
    await client.start()
    try:
        handle = client.periodic_jobs.add(
            river.PeriodicJob(hourly, lambda: TickArgs(1), run_on_start=True, id="added")
        )
        assert isinstance(handle, int) and handle >= 1
        with pytest.raises(river.ValidationError, match="already added"):
            client.periodic_jobs.add(river.PeriodicJob(hourly, TickArgs, id="added"))
        await wait_for(lambda: by_n(client, 1), "the added job's run on start")
        await wait_for(lambda: by_n(client, 0, completed=True), "configured runs worked")

        assert client.periodic_jobs.remove_by_id("configured") is True
        assert client.periodic_jobs.remove_by_id("configured") is False
        await asyncio.sleep(0.3)
        configured = len(await by_n(client, 0))
        handles = client.periodic_jobs.add_many(
            [
                river.PeriodicJob(every, lambda: TickArgs(2)),
                river.PeriodicJob(every, lambda: TickArgs(3)),
            ]
        )
        assert handles == [handle + 1, handle + 2]
        await wait_for(lambda: by_n(client, 2), "an added job's runs")
        client.periodic_jobs.remove(handles[0])
        await asyncio.sleep(0.3)
        removed = len(await by_n(client, 2))
        await asyncio.sleep(0.5)
        assert len(await by_n(client, 2)) == removed
        assert len(await by_n(client, 0)) == configured
        assert len(await by_n(client, 1)) == 1
        assert await by_n(client, 3)
        client.periodic_jobs.clear()
        assert client.periodic_jobs.snapshot() == {}
        assert client.periodic_jobs.add(river.PeriodicJob(hourly, TickArgs)) == handle + 3
    finally:
        await client.stop()


async def by_n(client: river.AsyncClient, n: int, *, completed: bool = False) -> list[JobRow]:
    states = [JobState.COMPLETED] if completed else None
    found = await client.job_list(JobListParams(max=1000, states=states))
    return [r for r in found if r.args.get("n") == n]


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_sync_client_periodic_jobs_reach_its_background_runtime(
    sync_engine: sa.Engine, schema: str
) -> None:
    workers = river.Workers()
    workers.add(TickWorker())
    client = river.Client(
        PsycopgDriver(sync_engine, schema=schema),
        river.Config(queues={"default": river.QueueConfig()}, workers=workers),
    )
    client.start()
    try:
        hourly = river.interval_schedule(timedelta(hours=1))
        client.periodic_jobs.add(
            river.PeriodicJob(hourly, lambda: TickArgs(7), run_on_start=True, id="sync")
        )
        deadline = time.monotonic() + 5.0
        while not client.job_list():
            assert time.monotonic() < deadline, "the run on start was not inserted"
            time.sleep(0.02)
        (row,) = client.job_list()
        assert row.args == {"n": 7} and row.metadata["river:periodic_job_id"] == "sync"
    finally:
        client.stop()
