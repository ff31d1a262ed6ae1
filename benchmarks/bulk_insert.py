"""Bulk insert through `job_insert_fast_many_no_returning` (COPY) on every driver variant.

    python benchmarks/bulk_insert.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--rows 100000] [--runs 3]

Each run inserts `--rows` jobs in one committed transaction into a scratch schema (created,
migrated and dropped here), truncated between runs; prints the median rows/s of the runs. The
last lines time the shared SqlExecutor's `INSERT ... SELECT unnest(...)`, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from river_core import migrate
from river_core.driver import Executor, JobInsertParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.sqlalchemy_driver import SqlAlchemyDriver
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

Insert = Callable[[Executor, list[JobInsertParams]], int]


def copy_insert(executor: Executor, jobs: list[JobInsertParams]) -> int:
    """The driver's fast path: COPY."""
    return executor.job_insert_fast_many_no_returning(jobs)


def unnest_insert(executor: Executor, jobs: list[JobInsertParams]) -> int:
    """The shared SqlExecutor's `INSERT ... SELECT unnest(...)`, bypassing the COPY override."""
    assert isinstance(executor, SqlExecutor)
    return SqlExecutor.job_insert_fast_many_no_returning(executor, jobs)


def make_jobs(rows: int) -> list[JobInsertParams]:
    return [
        JobInsertParams(
            kind="bench_bulk",
            encoded_args=b'{"customer_id":%d,"email":"user%d@example.com"}' % (i, i),
            queue="bulk",
            tags=("bench",),
            metadata=b'{"source":"bench"}',
        )
        for i in range(rows)
    ]


async def insert_once(
    driver: SqlAlchemyDriver, insert: Insert, jobs: list[JobInsertParams]
) -> float:
    """Seconds to insert and commit `jobs` in one transaction."""
    started = time.perf_counter()
    if driver.is_async:
        async with driver.async_transaction() as async_executor:
            count = await async_executor.run(lambda ex: insert(ex, jobs))
    else:
        with driver.transaction() as executor:
            count = insert(executor, jobs)
    elapsed = time.perf_counter() - started
    assert count == len(jobs), count
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--url", default=default_url, help="libpq URL of the database")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    url = make_url(args.url)
    schema = f"river_bench_{os.getpid()}"
    sync_engine = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    psycopg_async = create_async_engine(url.set(drivername="postgresql+psycopg"))
    asyncpg_engine = create_async_engine(url.set(drivername="postgresql+asyncpg"))
    variants: list[tuple[str, SqlAlchemyDriver, Insert]] = [
        ("psycopg-sync (COPY)", PsycopgDriver(sync_engine, schema=schema), copy_insert),
        ("psycopg-async (COPY)", PsycopgDriver(psycopg_async, schema=schema), copy_insert),
        ("asyncpg (COPY)", AsyncpgDriver(asyncpg_engine, schema=schema), copy_insert),
        ("psycopg-sync (unnest INSERT)", PsycopgDriver(sync_engine, schema=schema), unnest_insert),
        ("asyncpg (unnest INSERT)", AsyncpgDriver(asyncpg_engine, schema=schema), unnest_insert),
    ]
    jobs = make_jobs(args.rows)
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    try:
        with sync_engine.connect() as conn:
            migrate.upgrade(conn, schema=schema)
        print(f"{args.rows:,} rows per run, median of {args.runs} runs")
        for name, driver, insert in variants:
            timings = []
            for _ in range(args.runs):
                timings.append(await insert_once(driver, insert, jobs))
                with sync_engine.begin() as conn:
                    conn.exec_driver_sql(f'TRUNCATE "{schema}".river_job')
            median = statistics.median(timings)
            print(f"{name:<30} {args.rows / median:>10,.0f} rows/s  ({median * 1000:,.0f} ms)")
    finally:
        with sync_engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        await psycopg_async.dispose()
        await asyncpg_engine.dispose()
        sync_engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
