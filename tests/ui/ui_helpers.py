"""Helpers of the dashboard tests: seeding jobs in any state, reading pages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from river_core.driver import JobInsertParams, QueueCreateOrSetUpdatedAtParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.tables import river_job
from river_core.job import FINAL_STATES, JobRow, JobState

NOW = datetime.now(UTC)


def driver_url(url: str, driver: str) -> str:
    """`postgresql://...` -> `postgresql+<driver>://...`."""
    return url.replace("postgresql://", f"postgresql+{driver}://", 1)


class Seed:
    """Puts jobs and queues in the test schema, in any state, as a client and workers would."""

    def __init__(self, engine: sa.Engine, schema: str) -> None:
        self.engine = engine
        self.schema = schema

    def job(
        self,
        kind: str = "email",
        *,
        state: JobState = JobState.AVAILABLE,
        args: dict[str, Any] | None = None,
        queue: str = "default",
        priority: int = 1,
        tags: Sequence[str] = (),
        errors: Sequence[dict[str, Any]] = (),
        metadata: dict[str, Any] | None = None,
        at: datetime = NOW,
    ) -> JobRow:
        """A job in `state`, with the columns that state has (attempts, times, errors)."""
        params = JobInsertParams(
            kind=kind,
            encoded_args=json.dumps(args or {}).encode(),
            queue=queue,
            priority=priority,
            tags=tags,
            metadata=json.dumps(metadata or {}).encode(),
            scheduled_at=at + timedelta(hours=1) if state is JobState.SCHEDULED else at,
            created_at=at - timedelta(minutes=5),
        )
        with self.engine.begin() as conn:
            ex = SqlExecutor(conn, self.schema)
            (result,) = ex.job_insert_fast_many([params])
            values: dict[str, Any] = {"state": state.value}
            if state is not JobState.AVAILABLE and state is not JobState.SCHEDULED:
                values |= {"attempt": 1, "attempted_at": at - timedelta(minutes=1)}
            if state in FINAL_STATES:
                values["finalized_at"] = at
            if errors:
                texts = [json.dumps(e) for e in errors]
                values["errors"] = sa.cast(
                    sa.bindparam(None, texts, type_=pg.ARRAY(sa.Text)), pg.ARRAY(pg.JSONB)
                )
            conn.execute(
                sa.update(river_job).where(river_job.c.id == result.job.id).values(**values),
                execution_options={"schema_translate_map": {None: self.schema}},
            )
            job = ex.job_get_by_id(result.job.id)
        assert job is not None
        return job

    def queue(self, name: str, *, paused: bool = False) -> None:
        params = QueueCreateOrSetUpdatedAtParams(name, paused_at=NOW if paused else None)
        with self.engine.begin() as conn:
            SqlExecutor(conn, self.schema).queue_create_or_set_updated_at(params)

    def get(self, job_id: int) -> JobRow | None:
        with self.engine.begin() as conn:
            return SqlExecutor(conn, self.schema).job_get_by_id(job_id)

    def paused(self, queue: str) -> bool:
        with self.engine.begin() as conn:
            found = SqlExecutor(conn, self.schema).queue_get(queue)
        assert found is not None
        return found.paused_at is not None


def csrf_token_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)
