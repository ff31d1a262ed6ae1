"""Helpers for users' tests (River's `rivertest`): assert which jobs were inserted, and work
one job in-process.

The `require_*` functions take a client, a driver or an open transaction (a `Connection` or
`Session`; async: `AsyncConnection` or `AsyncSession`, whose schema is `opts.schema`), and
raise `AssertionError` with River's wording when the expectation fails. `expected` is an args
object or an args class: only its kind is compared, options are checked when given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from river_core.client import AsyncClient, Client
from river_core.driver import Driver, Executor
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.sqlalchemy_driver import SqlAsyncExecutor
from river_core.driver.tables import JOB_STATE, river_job
from river_core.events import EventKind
from river_core.identifiers import validate_schema
from river_core.insert_opts import InsertOpts
from river_core.job import JobRow, JobState
from river_core.job_args import args_kind
from river_core.retry_policy import DefaultRetryPolicy
from river_core.runtime.job_events import KIND_OF_REASON
from river_core.runtime.job_executor import Execution, ExecutorSettings, ThreadRunner, execute
from river_core.worker import Job, decode_args, kind_of

__all__ = [
    "ExpectedJob",
    "RequireInsertedOpts",
    "WorkResult",
    "require_inserted",
    "require_inserted_async",
    "require_many_inserted",
    "require_many_inserted_async",
    "require_not_inserted",
    "require_not_inserted_async",
    "work_job",
]

T = TypeVar("T")
SyncTarget = Client | Driver | sa.Connection | Session
AsyncTarget = AsyncClient | Driver | AsyncConnection | AsyncSession


@dataclass(frozen=True, slots=True)
class RequireInsertedOpts:
    """Properties the job must have (None, or no tags: not checked); `schema` is where to
    look when the target is a bare transaction (default: the search path)."""

    max_attempts: int | None = None
    priority: int | None = None
    queue: str | None = None
    scheduled_at: datetime | None = None
    state: JobState | None = None
    tags: Sequence[str] | None = None
    schema: str | None = None


@dataclass(frozen=True, slots=True)
class ExpectedJob:
    """One job of `require_many_inserted`."""

    args: Any
    opts: RequireInsertedOpts | None = None


# -- require_* ---------------------------------------------------------------------------------


def require_inserted(
    db: SyncTarget, expected: Any, opts: RequireInsertedOpts | None = None
) -> Job[Any]:
    """The one job of `expected`'s kind, with its args decoded; fails if there is none or
    more than one, or if it does not match `opts`."""
    return _inserted(_sync_run(db, opts, _by_kinds([_kind(expected)])), expected, opts)


async def require_inserted_async(
    db: AsyncTarget, expected: Any, opts: RequireInsertedOpts | None = None
) -> Job[Any]:
    """`require_inserted` on an async client, driver or transaction."""
    rows = await _async_run(db, opts, _by_kinds([_kind(expected)]))
    return _inserted(rows, expected, opts)


def require_not_inserted(
    db: SyncTarget, expected: Any, opts: RequireInsertedOpts | None = None
) -> None:
    """Fails if a job of `expected`'s kind exists (with `opts`: one matching every option)."""
    _not_inserted(_sync_run(db, opts, _by_kinds([_kind(expected)])), expected, opts)


async def require_not_inserted_async(
    db: AsyncTarget, expected: Any, opts: RequireInsertedOpts | None = None
) -> None:
    """`require_not_inserted` on an async client, driver or transaction."""
    rows = await _async_run(db, opts, _by_kinds([_kind(expected)]))
    _not_inserted(rows, expected, opts)


def require_many_inserted(db: SyncTarget, expected: Sequence[ExpectedJob]) -> list[JobRow]:
    """The jobs of the expected kinds, which must be exactly those kinds in that order (by id),
    each matching its options."""
    opts = expected[0].opts if expected else None
    kinds = [_kind(e.args) for e in expected]
    return _many_inserted(_sync_run(db, opts, _by_kinds(kinds)), expected, kinds)


async def require_many_inserted_async(
    db: AsyncTarget, expected: Sequence[ExpectedJob]
) -> list[JobRow]:
    """`require_many_inserted` on an async client, driver or transaction."""
    opts = expected[0].opts if expected else None
    kinds = [_kind(e.args) for e in expected]
    return _many_inserted(await _async_run(db, opts, _by_kinds(kinds)), expected, kinds)


def _kind(expected: Any) -> str:
    return kind_of(expected) if isinstance(expected, type) else args_kind(expected)


def _by_kinds(kinds: list[str]) -> Callable[[Executor], list[JobRow]]:
    return lambda ex: ex.job_get_by_kind_many(sorted(set(kinds)))


def _sync_run(db: SyncTarget, opts: RequireInsertedOpts | None, fn: Callable[[Executor], T]) -> T:
    if isinstance(db, Client):
        db = db.driver
    if isinstance(db, Driver):
        with db.transaction() as ex:
            return fn(ex)
    conn = db.connection() if isinstance(db, Session) else db
    return fn(SqlExecutor(conn, validate_schema(opts.schema if opts else None)))


async def _async_run(
    db: AsyncTarget, opts: RequireInsertedOpts | None, fn: Callable[[Executor], T]
) -> T:
    if isinstance(db, AsyncClient):
        db = db.driver
    if isinstance(db, Driver):
        async with db.async_transaction() as ex:
            return await ex.run(fn)
    schema = validate_schema(opts.schema if opts else None)
    return await SqlAsyncExecutor(db, schema, SqlExecutor).run(fn)


def _fail(message: str) -> AssertionError:
    return AssertionError(f"River assertion failure: {message}")


def _inserted(rows: list[JobRow], expected: Any, opts: RequireInsertedOpts | None) -> Job[Any]:
    kind = _kind(expected)
    if not rows:
        raise _fail(f"no jobs found with kind: {kind}")
    if len(rows) > 1:
        raise _fail(
            f"more than one job found with kind: {kind} "
            "(you might want require_many_inserted instead)"
        )
    row = rows[0]
    if opts is not None:
        failures = _differences(row, opts)
        if failures:
            raise _fail(f"job with kind {kind!r} {', '.join(failures)}")
    args_type = expected if isinstance(expected, type) else type(expected)
    return Job(row=row, args=decode_args(args_type, row.args))


def _not_inserted(rows: list[JobRow], expected: Any, opts: RequireInsertedOpts | None) -> None:
    kind = _kind(expected)
    if rows and opts is None:
        raise _fail(f"{len(rows)} jobs found with kind, but expected to find none: {kind}")
    for row in rows:
        assert opts is not None
        checked = _checked(row, opts)
        if checked and all(equal for _, equal, _ in checked):
            excluded = ", ".join(
                f"{name} equal to excluded {value!r}" for name, _, value in checked
            )
            raise _fail(f"job with kind {kind!r} {excluded}")


def _many_inserted(
    rows: list[JobRow], expected: Sequence[ExpectedJob], kinds: list[str]
) -> list[JobRow]:
    actual = [row.kind for row in rows]
    if actual != kinds:
        raise _fail(f"inserted jobs didn't match expectation; expected: {kinds}, actual: {actual}")
    for i, (row, job) in enumerate(zip(rows, expected, strict=True)):
        if job.opts is not None:
            failures = _differences(row, job.opts)
            if failures:
                raise _fail(
                    f"job with kind {row.kind!r} (expected job index {i}) {', '.join(failures)}"
                )
    return rows


def _checked(row: JobRow, opts: RequireInsertedOpts) -> list[tuple[str, bool, Any]]:
    """(property, whether the row has the expected value, expected value) of each option set."""
    expectations: list[tuple[str, Any, Any]] = [
        ("max attempts", opts.max_attempts, row.max_attempts),
        ("priority", opts.priority, row.priority),
        ("queue", opts.queue, row.queue),
        ("scheduled at", opts.scheduled_at, row.scheduled_at),
        ("state", opts.state, row.state),
        ("tags", list(opts.tags) if opts.tags else None, row.tags),
    ]
    return [(name, want == have, want) for name, want, have in expectations if want is not None]


def _differences(row: JobRow, opts: RequireInsertedOpts) -> list[str]:
    found = {"max attempts": row.max_attempts, "priority": row.priority, "queue": row.queue}
    found |= {"scheduled at": row.scheduled_at, "state": row.state, "tags": row.tags}
    return [
        f"{name} {found[name]!r} not equal to expected {want!r}"
        for name, equal, want in _checked(row, opts)
        if not equal
    ]


# -- work_job ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkResult:
    """How the attempt ended (`job_completed`, `job_failed`, `job_cancelled`, `job_snoozed`)
    and the job as persisted after it."""

    kind: EventKind
    job: JobRow


async def work_job(
    client: Client | AsyncClient, args: Any, insert_opts: InsertOpts | None = None
) -> WorkResult:
    """Insert a job with `client` (its insert hooks and middleware run), lock it as a fetch
    would, work it once through its worker with the client's middleware, hooks, error handler
    and timeout, and write the outcome: in this process, without starting the client. From a
    sync test: `asyncio.run(work_job(client, args))`."""
    config, driver = client.config, client.driver
    if isinstance(client, AsyncClient):
        inserted = await client.insert(args, insert_opts)
    else:
        inserted = client.insert(args, insert_opts)
    job_id = inserted.job.id
    row = await _run_in_tx(driver, lambda ex: _lock_for_work(ex, job_id, config.id))
    policy = config.retry_policy or DefaultRetryPolicy()
    settings = ExecutorSettings(
        workers=config.workers,
        job_timeout=config.job_timeout,
        scheduler_interval=config.scheduler_interval,
        next_retry=lambda r: policy.next_retry(r, datetime.now(UTC)),
        hooks=config.hooks,
        middleware=config.middleware,
        error_handler=config.error_handler,
        driver=driver,
    )
    execution = Execution(row)
    try:
        execution.task = asyncio.ensure_future(execute(execution, settings, ThreadRunner(1)))
        outcome = await execution.task
    finally:
        settings.deadlines.close()
    assert outcome is not None  # only a hard stop abandons a job
    written = await _run_in_tx(driver, lambda ex: ex.job_set_state_if_running_many([outcome]))
    return WorkResult(kind=KIND_OF_REASON[outcome.reason], job=written[0])


async def _run_in_tx(driver: Driver, fn: Callable[[Executor], T]) -> T:
    if driver.is_async:
        async with driver.async_transaction() as ex:
            return await ex.run(fn)
    with driver.transaction() as sync_ex:
        return fn(sync_ex)


def _lock_for_work(ex: Executor, job_id: int, client_id: str) -> JobRow:
    """Mark the job running for its next attempt, as `job_get_available` does."""
    if not isinstance(ex, SqlExecutor):
        raise TypeError(f"work_job needs a SQLAlchemy driver, not {type(ex).__name__}")
    j = river_job.c
    ex.conn.execute(
        sa.update(river_job)
        .where(j.id == job_id)
        .values(
            state=sa.cast(sa.literal(JobState.RUNNING.value, sa.Text), JOB_STATE),
            attempt=j.attempt + 1,
            attempted_at=sa.func.now(),
            attempted_by=sa.func.array_append(j.attempted_by, client_id, type_=j.attempted_by.type),
        ),
        execution_options={"schema_translate_map": {None: ex.schema}},
    )
    row = ex.job_get_by_id(job_id)
    assert row is not None
    return row
