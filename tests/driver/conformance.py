"""The uniform handle the driver-conformance tests use, whatever the driver variant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from psycopg import sql

from river_core.driver import Driver, Executor, JobInsertParams
from river_core.driver.tables import river_job
from river_core.job import JobRow

T = TypeVar("T")

PAST = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@dataclass
class DriverHandle:
    """A driver of one variant on one schema, with a way to run executor code in it."""

    variant: str
    schema: str
    driver: Driver
    loop: asyncio.AbstractEventLoop
    setup_engine: sa.Engine  # for test setup that no operation does (arbitrary column values)

    def run(self, fn: Callable[[Executor], T]) -> T:
        """Run `fn` in a new transaction, committed when it returns."""
        if not self.driver.is_async:
            with self.driver.transaction() as executor:
                return fn(executor)

        async def in_transaction() -> T:
            async with self.driver.async_transaction() as async_executor:
                return await async_executor.run(fn)

        return self.loop.run_until_complete(in_transaction())

    def insert(self, **fields: Any) -> JobRow:
        """Insert one job (JobInsertParams fields; kind and args default) and return it."""
        fields.setdefault("kind", "test_kind")
        fields.setdefault("encoded_args", b"{}")
        (result,) = self.run(lambda ex: ex.job_insert_fast_many([JobInsertParams(**fields)]))
        return result.job

    def set_columns(self, job_id: int, **values: Any) -> JobRow:
        """Force column values of a job (setup only), returning the row as the driver reads it."""
        with self.setup_engine.begin() as conn:
            conn.execute(
                sa.update(river_job).where(river_job.c.id == job_id).values(**values),
                execution_options={"schema_translate_map": {None: self.schema}},
            )
        job = self.run(lambda ex: ex.job_get_by_id(job_id))
        assert job is not None
        return job


class Listening:
    """A plain psycopg LISTEN connection collecting notifications of some channels."""

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        self.conn = conn

    def listen(self, schema: str, topic: str) -> None:
        self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(f"{schema}.{topic}")))

    def received(self, expected: int) -> list[tuple[str, str]]:
        """(channel, payload) of notifications: `expected` of them, or all within 2 s if fewer.

        With `expected=0`, whatever arrives within 0.2 s (committed notifications come at once).
        """
        timeout = 2.0 if expected else 0.2
        notifies = self.conn.notifies(timeout=timeout, stop_after=expected or None)
        return [(n.channel, n.payload) for n in notifies]
