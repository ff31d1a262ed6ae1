"""One racer of the unique-insert race: inserts the same 1,000 unique jobs as its rivals.

    python unique_race.py URL SCHEMA DRIVER START_AT SEED

Connects, waits until `START_AT` (time.time()), then inserts jobs unique by args one at a
time (AsyncClient on asyncpg, or sync Client on psycopg), in an order shuffled by `SEED` so
that racers collide on the same keys at the same time, and prints one JSON line: how many it
inserted and how many were skipped as duplicates.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import sqlalchemy as sa
from fault_app import FaultArgs
from sqlalchemy.ext.asyncio import create_async_engine

import river_core as river
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

KEYS = 1_000
OPTS = river.InsertOpts(queue="unique", unique_opts=river.UniqueOpts(by_args=True))


def jobs(seed: int) -> list[FaultArgs]:
    keys = list(range(KEYS))
    random.Random(seed).shuffle(keys)
    return [FaultArgs(ms=key, ledger=False) for key in keys]


def wait_for_start(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


async def race_async(url: str, schema: str, start_at: float, seed: int) -> list[bool]:
    engine = create_async_engine(
        sa.engine.make_url(url).set(drivername="postgresql+asyncpg"), pool_size=1
    )
    client = river.AsyncClient(AsyncpgDriver(engine, schema=schema))
    try:
        await client.queue_list()  # connected before the start
        wait_for_start(start_at)
        return [(await client.insert(a, OPTS)).unique_skipped_as_duplicated for a in jobs(seed)]
    finally:
        await engine.dispose()


def race_sync(url: str, schema: str, start_at: float, seed: int) -> list[bool]:
    engine = sa.create_engine(
        sa.engine.make_url(url).set(drivername="postgresql+psycopg"), pool_size=1
    )
    client = river.Client(PsycopgDriver(engine, schema=schema))
    try:
        client.queue_list()  # connected before the start
        wait_for_start(start_at)
        return [client.insert(a, OPTS).unique_skipped_as_duplicated for a in jobs(seed)]
    finally:
        engine.dispose()


def main(url: str, schema: str, driver: str, start_at: str, seed: str) -> None:
    skipped = (
        asyncio.run(race_async(url, schema, float(start_at), int(seed)))
        if driver == "asyncpg"
        else race_sync(url, schema, float(start_at), int(seed))
    )
    print(json.dumps({"inserted": skipped.count(False), "skipped": skipped.count(True)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
