"""Binary COPY of new jobs into `river_job`: River's `JobInsertFastManyCopyFrom`.

COPY has no ON CONFLICT: a row whose `unique_key` is already taken fails the whole COPY with a
unique violation, exactly like River's CopyFrom path.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

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
# Binary wire types of COLUMNS. An enum's binary input is its label, so `state` goes as text.
TYPES = (
    "jsonb",
    "timestamptz",
    "text",
    "int2",
    "jsonb",
    "int2",
    "text",
    "timestamptz",
    "text",
    "varchar[]",
    "bytea",
    "bit",
)

Row = tuple[Any, ...]


class _EncodedJsonbDumper(Dumper):
    """jsonb from JSON text that is already encoded (bytes), without re-serialising it."""

    format = Format.BINARY
    oid = pg_types["jsonb"].oid

    def dump(self, obj: bytes) -> bytes:
        return b"\x01" + obj


class _Bit8Dumper(Dumper):
    """bit(8) from an int 0..255 (River's unique-states byte, most significant bit first)."""

    format = Format.BINARY
    oid = pg_types["bit"].oid

    def dump(self, obj: int) -> bytes:
        return struct.pack("!iB", 8, obj)


def copy_rows(jobs: Sequence[JobInsertParams], now: datetime | None = None) -> list[Row]:
    """The COPY rows of `jobs`; a missing created_at/scheduled_at is `now` (UTC), as in River."""
    now = now or datetime.now(UTC)
    return [
        (
            job.encoded_args,
            job.created_at or now,
            job.kind,
            job.max_attempts,
            job.metadata or b"{}",
            job.priority,
            job.queue,
            job.scheduled_at or now,
            job.state,
            list(job.tags),
            job.unique_key,
            job.unique_states or None,
        )
        for job in jobs
    ]


def copy_statement(schema: str | None) -> sql.Composed:
    """`COPY [<schema>.]river_job (COLUMNS) FROM STDIN (FORMAT BINARY)`."""
    table = sql.Identifier(schema, "river_job") if schema else sql.Identifier("river_job")
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in COLUMNS)
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table, columns)


def _prepare(cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> None:
    cursor.adapters.register_dumper(None, _EncodedJsonbDumper)
    cursor.adapters.register_dumper(None, _Bit8Dumper)


def copy_jobs(
    conn: psycopg.Connection[Any], schema: str | None, jobs: Sequence[JobInsertParams]
) -> int:
    """COPY `jobs` on `conn`, in its current transaction; returns the number of rows."""
    if not jobs:
        return 0
    with conn.cursor() as cursor:
        _prepare(cursor)
        with cursor.copy(copy_statement(schema)) as copy:
            copy.set_types(TYPES)
            for row in copy_rows(jobs):
                copy.write_row(row)
        return cursor.rowcount


async def copy_jobs_async(
    conn: psycopg.AsyncConnection[Any], schema: str | None, jobs: Sequence[JobInsertParams]
) -> int:
    """`copy_jobs` on an async connection."""
    if not jobs:
        return 0
    async with conn.cursor() as cursor:
        _prepare(cursor)
        async with cursor.copy(copy_statement(schema)) as copy:
            copy.set_types(TYPES)
            for row in copy_rows(jobs):
                await copy.write_row(row)
        return cursor.rowcount
