"""The client that fault-suite worker processes run: `river worker fault_app:client`.

Configured by environment variables (set by `conftest.FaultCluster.spawn`):
FAULT_URL (libpq URL), FAULT_SCHEMA, FAULT_DRIVER (asyncpg | psycopg), FAULT_ID (client id,
also the connections' application_name), FAULT_POOL ("size,overflow"), FAULT_MAX_WORKERS and
FAULT_CONFIG (JSON of `river.Config` fields: timings, soft_stop_timeout...).

One job kind, `fault_job`: it sleeps, and with `ledger` it records each run in the schema's
`fault_ledger` table (a row at its start, `ended_at` at its end, both on the database clock),
which is how the tests prove what ran where and when.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import river_core as river
from river_core.driver import Driver


@dataclass
class FaultArgs:
    """`ms` of sleep (`first_run_ms` on the job's first run, if set); `ledger`: record runs."""

    ms: int = 0
    first_run_ms: int | None = None
    ledger: bool = True
    kind: ClassVar[str] = "fault_job"


class FixedRetry:
    """Retry failed (and rescued) jobs after `seconds`: keeps the suite's tail short."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def next_retry(self, job: river.JobRow, now: datetime) -> datetime:
        return now.astimezone(UTC) + timedelta(seconds=self.seconds)


LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.fault_ledger (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL,
    attempt int NOT NULL,
    client text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at timestamptz
);
CREATE INDEX IF NOT EXISTS fault_ledger_job_id ON {schema}.fault_ledger (job_id);
"""


class FaultWorker(river.Worker[FaultArgs]):
    """Sleeps `ms`, recording the run in the ledger when asked."""

    def __init__(self, engine: AsyncEngine, schema: str, client_id: str) -> None:
        self._engine = engine
        self._client_id = client_id
        self._start = sa.text(
            f"INSERT INTO {schema}.fault_ledger (job_id, attempt, client) "
            "VALUES (:job, :attempt, :client) "
            f"RETURNING id, (SELECT count(*) FROM {schema}.fault_ledger WHERE job_id = :job)"
        )
        self._end = sa.text(
            f"UPDATE {schema}.fault_ledger SET ended_at = clock_timestamp() WHERE id = :id"
        )

    async def work(self, job: river.Job[FaultArgs]) -> None:
        ms = job.args.ms
        if not job.args.ledger:
            await asyncio.sleep(ms / 1000)
            return
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            params = {"job": job.id, "attempt": job.attempt, "client": self._client_id}
            run_id, earlier_runs = (await autocommit.execute(self._start, params)).one()
        if job.args.first_run_ms is not None and earlier_runs == 0:
            ms = job.args.first_run_ms
        await asyncio.sleep(ms / 1000)
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(self._end, {"id": run_id})


def _driver(engine: AsyncEngine, kind: str, schema: str) -> Driver:
    if kind == "asyncpg":
        from river_driver_asyncpg import AsyncpgDriver

        return AsyncpgDriver(engine, schema=schema)
    from river_driver_psycopg import PsycopgDriver

    return PsycopgDriver(engine, schema=schema)


def build_client(env: dict[str, str]) -> river.AsyncClient:
    """The client that the environment `env` describes."""
    kind, schema, client_id = env["FAULT_DRIVER"], env["FAULT_SCHEMA"], env["FAULT_ID"]
    size, overflow = (int(n) for n in env.get("FAULT_POOL", "3,3").split(","))
    connect_args: dict[str, Any] = (
        {"server_settings": {"application_name": client_id}}
        if kind == "asyncpg"
        else {"application_name": client_id}
    )
    engine = create_async_engine(
        make_url(env["FAULT_URL"]).set(drivername=f"postgresql+{kind}"),
        pool_size=size,
        max_overflow=overflow,
        connect_args=connect_args,
    )
    workers = river.Workers()
    workers.add(FaultWorker(engine, schema, client_id))
    overrides: dict[str, Any] = json.loads(env.get("FAULT_CONFIG", "{}"))
    retry = overrides.pop("retry_seconds", None)
    return river.AsyncClient(
        _driver(engine, kind, schema),
        river.Config(
            id=client_id,
            queues={"default": river.QueueConfig(max_workers=int(env["FAULT_MAX_WORKERS"]))},
            workers=workers,
            reindexer_enabled=False,
            gc_freeze_on_start=False,
            retry_policy=None if retry is None else FixedRetry(float(retry)),
            **overrides,
        ),
    )


client = build_client(dict(os.environ)) if "FAULT_URL" in os.environ else None
