"""D1 scenario 1: transactional enqueue. 500 `insert_tx` (AsyncClient on asyncpg and sync
Client on psycopg, alternately), each committed or rolled back at random, while a worker
process runs: the jobs worked are exactly the jobs committed, none starts before its commit
(PostgreSQL's commit timestamps), and no NOTIFY escapes a rolled-back transaction."""

from __future__ import annotations

import asyncio
import random
import time

import psycopg
import sqlalchemy as sa
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn
from fault_helpers import wait_for
from sqlalchemy.ext.asyncio import create_async_engine

import river_core as river
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

TRANSACTIONS = 500
XID = sa.text("SELECT pg_current_xact_id()::text")


async def test_jobs_worked_are_exactly_the_committed_ones(
    fault_db: FaultDb, spawn: Spawn, figures: Figures
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    worker = spawn("tx-worker", max_workers=20)
    worker.wait_started()

    listen = psycopg.connect(fault_db.url, autocommit=True)
    listen.execute(f'LISTEN "{fault_db.schema}.river_insert"')
    async_engine = create_async_engine(
        sa.engine.make_url(fault_db.url).set(drivername="postgresql+asyncpg"), pool_size=2
    )
    async_client = river.AsyncClient(AsyncpgDriver(async_engine, schema=fault_db.schema))
    sync_client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    committed: dict[int, str] = {}  # job id -> xid
    rolled_back: list[int] = []
    try:
        for i in range(TRANSACTIONS):
            commit = rng.random() < 0.5
            hold = rng.uniform(0, 0.01)  # the transaction stays open after its insert
            args = FaultArgs(ms=rng.randrange(0, 5))
            if i % 2:
                async with async_engine.connect() as aconn:
                    xid = (await aconn.execute(XID)).scalar_one()
                    job_id = (await async_client.insert_tx(aconn, args)).job.id
                    await asyncio.sleep(hold)
                    await (aconn.commit() if commit else aconn.rollback())
            else:
                with fault_db.engine.connect() as conn:
                    xid = conn.execute(XID).scalar_one()
                    job_id = sync_client.insert_tx(conn, args).job.id
                    time.sleep(hold)
                    conn.commit() if commit else conn.rollback()
            if commit:
                committed[job_id] = xid
            else:
                rolled_back.append(job_id)

        wait_for(
            lambda: fault_db.count("completed") == len(committed),
            f"the {len(committed)} committed jobs to complete",
            60,
        )
        time.sleep(0.5)  # a job that should not exist would have run by now
        notifications = list(listen.notifies(timeout=0.5))
    finally:
        listen.close()
        await async_engine.dispose()

    runs = fault_db.rows(
        "SELECT l.job_id, l.started_at, pg_xact_commit_timestamp(xid(x.xid::xid8)) "
        "FROM {s}.fault_ledger l "
        "JOIN unnest(CAST(:ids AS bigint[]), CAST(:xids AS text[])) AS x(job_id, xid) "
        "USING (job_id)",
        ids=list(committed),
        xids=list(committed.values()),
    )
    worked = fault_db.rows("SELECT job_id FROM {s}.fault_ledger")
    leads = [(started - committed_at).total_seconds() for _, started, committed_at in runs]
    figures(
        f"scenario 1 (seed {seed}): {len(committed)} committed, {len(rolled_back)} rolled back, "
        f"{len(worked)} runs, {len(notifications)} notifications; start after commit: "
        f"min {min(leads) * 1000:.1f} ms, median {sorted(leads)[len(leads) // 2] * 1000:.1f} ms"
    )
    assert sorted(job_id for (job_id,) in worked) == sorted(
        committed
    )  # each committed job ran once
    assert fault_db.scalar("SELECT count(*) FROM {s}.river_job") == len(committed)
    assert len(runs) == len(committed)
    assert min(leads) >= 0, "a job started before its transaction committed"
    assert len(notifications) == len(committed), "one NOTIFY per committed transaction, no more"
    assert {n.payload for n in notifications} == {'{"queue":"default"}'}
    assert worker.alive()
