"""Shared pieces of the maintenance tests: job setup by column values, run-log capture."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa

import river_core as river
from river_core.driver import Driver, JobInsertParams
from river_core.driver.tables import river_job, river_queue
from river_core.job import JobRow

DriverFactory = Callable[..., Driver]  # the `make_driver` fixture


@dataclass
class SlowArgs:
    """Args of the jobs the maintenance tests make stuck."""

    kind: ClassVar[str] = "slow"


class SlowWorker(river.Worker[SlowArgs]):
    """Returns at once; `timeout` and `retry_at` as given."""

    def __init__(self, timeout: float | None = None, retry_at: datetime | None = None) -> None:
        self.timeout = timeout
        self.retry_at = retry_at

    async def work(self, job: river.Job[SlowArgs]) -> None:
        return None

    def next_retry(self, job: river.Job[SlowArgs]) -> datetime | None:
        return self.retry_at


def workers(*registered: river.Worker[Any]) -> river.Workers:
    registry = river.Workers()
    for worker in registered:
        registry.add(worker)
    return registry


async def insert_job(driver: Driver, **fields: Any) -> JobRow:
    """Insert one job (JobInsertParams fields; kind and args default)."""
    fields.setdefault("kind", SlowArgs.kind)
    fields.setdefault("encoded_args", b"{}")
    params = JobInsertParams(**fields)
    async with driver.async_transaction() as ex:
        (result,) = await ex.run(lambda e: e.job_insert_fast_many([params]))
    return result.job


def set_columns(engine: sa.Engine, schema: str, job_id: int, **values: Any) -> None:
    """Force column values of a job (setup only)."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(river_job).where(river_job.c.id == job_id).values(**values),
            execution_options={"schema_translate_map": {None: schema}},
        )


def set_queue_updated_at(engine: sa.Engine, schema: str, name: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(river_queue).where(river_queue.c.name == name).values(updated_at=at),
            execution_options={"schema_translate_map": {None: schema}},
        )


async def get_job(driver: Driver, job_id: int) -> JobRow:
    async with driver.async_transaction() as ex:
        row = await ex.run(lambda e: e.job_get_by_id(job_id))
    assert row is not None
    return row


class RunLog(logging.Handler):
    """Collects the maintenance services' run lines (start, end, counts)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "river_service"):
            self.records.append(record)

    def runs(self, service: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.river_service == service]  # type: ignore[attr-defined]
