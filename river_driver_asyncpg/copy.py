"""COPY of new jobs into `river_job` with asyncpg: River's `JobInsertFastManyCopyFrom`.

COPY has no ON CONFLICT: a row whose `unique_key` is already taken fails the whole COPY with a
unique violation, exactly like River's CopyFrom path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from river_core.driver import JobInsertParams

# River's river_job_copyfrom.sql columns, in its order.
COLUMNS = (
    "args",
    "created_at",
    "kind",
    "max_attempts",
    "metadata",
    "priority",
    "queue",
    "scheduled_at",
    "state",
    "tags",
    "unique_key",
    "unique_states",
)

Row = tuple[Any, ...]


def copy_rows(jobs: Sequence[JobInsertParams], now: datetime | None = None) -> list[Row]:
    """The COPY records of `jobs`; a missing created_at/scheduled_at is `now` (UTC), as in River.

    jsonb goes as text (asyncpg's and SQLAlchemy's jsonb codecs both take `str`); the
    unique-states byte as a `BitString`, most significant bit first.
    """
    now = now or datetime.now(UTC)
    return [
        (
            job.encoded_args.decode(),
            job.created_at or now,
            job.kind,
            job.max_attempts,
            (job.metadata or b"{}").decode(),
            job.priority,
            job.queue,
            job.scheduled_at or now,
            job.state.value,
            list(job.tags),
            job.unique_key,
            asyncpg.BitString.from_int(job.unique_states, 8) if job.unique_states else None,
        )
        for job in jobs
    ]


async def copy_jobs(
    conn: asyncpg.Connection, schema: str | None, jobs: Sequence[JobInsertParams]
) -> int:
    """COPY `jobs` on `conn`, in its current transaction; returns the number of rows."""
    if not jobs:
        return 0
    status = await conn.copy_records_to_table(
        "river_job", records=copy_rows(jobs), columns=COLUMNS, schema_name=schema
    )
    return int(status.split()[-1])  # "COPY <n>"
