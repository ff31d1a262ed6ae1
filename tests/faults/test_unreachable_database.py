"""D1 scenario 6: the database unreachable through a fault proxy for 10 s (open connections
reset, new ones refused) while jobs are finishing and an insert is made. Two worker processes
(asyncpg, psycopg) connect through the proxy: their completions are retried until they land
(every job `completed` on attempt 1, no error). Inserts through the proxy (AsyncClient on
asyncpg, Client on psycopg) raise ConnectionLostError at once, with no hidden retry; the
test's own retry after the outage inserts each job once. Then, with 200 ms added to every
chunk of traffic, jobs still complete on attempt 1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
import sqlalchemy as sa
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn
from fault_helpers import wait_for
from fault_proxy import FaultProxy
from sqlalchemy.ext.asyncio import create_async_engine

import river_core as river
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

OUTAGE = 10.0
JOBS_PER_WORKER = 5


def done(fault_db: FaultDb, ids: list[int]) -> bool:
    """Every job of `ids` is completed."""
    return fault_db.count_of(ids, "completed") == len(ids)


@pytest.fixture
def proxy(fault_db: FaultDb) -> Iterator[FaultProxy]:
    proxy = FaultProxy(fault_db.cluster.port).start()
    yield proxy
    proxy.close()


async def test_outage_completions_retried_inserts_raise(
    fault_db: FaultDb, spawn: Spawn, proxy: FaultProxy, figures: Figures
) -> None:
    via_proxy = fault_db.cluster.url(port=proxy.port)
    workers = [
        spawn(f"proxied-{driver}", driver=driver, max_workers=JOBS_PER_WORKER, url=via_proxy)
        for driver in ("asyncpg", "psycopg")
    ]
    for worker in workers:
        worker.wait_started()
    direct = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    async_engine = create_async_engine(
        sa.engine.make_url(via_proxy).set(drivername="postgresql+asyncpg"), pool_size=1
    )
    sync_engine = sa.create_engine(
        sa.engine.make_url(via_proxy).set(drivername="postgresql+psycopg"), pool_size=1
    )
    async_client = river.AsyncClient(AsyncpgDriver(async_engine, schema=fault_db.schema))
    sync_client = river.Client(PsycopgDriver(sync_engine, schema=fault_db.schema))
    try:
        await async_client.insert(FaultArgs(ledger=False))  # pooled connections to reset
        sync_client.insert(FaultArgs(ledger=False))
        wait_for(lambda: fault_db.count("completed") == 2, "the first two jobs", 10)
        jobs = [
            r.job.id
            for r in direct.insert_many([FaultArgs(ms=3000, ledger=False)] * 2 * JOBS_PER_WORKER)
        ]
        wait_for(lambda: fault_db.count("running") == len(jobs), "every job to run", 10)

        proxy.down()
        down_at = time.monotonic()
        failures: list[tuple[str, str, str]] = []
        inserts: list[tuple[str, Callable[[], Awaitable[river.InsertResult]]]] = [
            ("AsyncClient", lambda: async_client.insert(FaultArgs(ms=1, ledger=False))),
            (
                "Client",
                lambda: asyncio.to_thread(sync_client.insert, FaultArgs(ms=2, ledger=False)),
            ),
        ]
        for name, insert in inserts:
            asked = time.monotonic()
            with pytest.raises(river.ConnectionLostError) as raised:
                await asyncio.wait_for(insert(), 5)
            failures.append(
                (name, type(raised.value).__name__, f"{(time.monotonic() - asked) * 1000:.0f} ms")
            )
        await asyncio.sleep(max(0.0, down_at + OUTAGE - time.monotonic()))
        assert fault_db.count("completed") == 2  # nothing landed during the outage
        proxy.up()
        up_at = time.monotonic()

        retried = [
            (await async_client.insert(FaultArgs(ms=1, ledger=False))).job.id,
            (await asyncio.to_thread(sync_client.insert, FaultArgs(ms=2, ledger=False))).job.id,
        ]
        wait_for(lambda: done(fault_db, jobs), "the completions to land", 30)
        landed = time.monotonic() - up_at

        proxy.delay = 0.2
        slow = [r.job.id for r in direct.insert_many([FaultArgs(ms=100, ledger=False)] * 4)]
        wait_for(lambda: fault_db.count("completed") == 2 + len(jobs) + 2 + 4, "slow jobs", 30)
        proxy.delay = 0.0
    finally:
        await async_engine.dispose()
        sync_engine.dispose()

    rows = direct.job_list(river.JobListParams(ids=jobs + slow))
    by_client = {w.id: sum(w.id in r.attempted_by for r in rows if r.id in jobs) for w in workers}
    inserted_once = fault_db.scalar(
        "SELECT count(*) FROM {s}.river_job WHERE args->>'ms' IN ('1', '2')"
    )
    figures(
        f"scenario 6: {OUTAGE:.0f} s outage with {len(jobs)} jobs finishing {by_client}; "
        f"inserts during it raised {failures}; all completions landed {landed:.2f} s after the "
        f"proxy came back; retried inserts {retried} -> {inserted_once} rows; 4 jobs with "
        f"200 ms of added latency completed"
    )
    assert {(r.state, r.attempt, len(r.errors)) for r in rows} == {(river.JobState.COMPLETED, 1, 0)}
    assert all(count > 0 for count in by_client.values())
    assert inserted_once == 2
    assert all(worker.alive() for worker in workers)
