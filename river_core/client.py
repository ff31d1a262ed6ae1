"""`Client` (sync: insert and admin) and `AsyncClient` (async: insert, admin, and working jobs)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from river_core import admin
from river_core.config import Config, QueueConfig
from river_core.driver import (
    Driver,
    Executor,
    JobInsertParams,
    JobInsertResult,
    JobListParams,
    Queue,
)
from river_core.errors import RiverError, SchemaVersionError, ValidationError
from river_core.events import DEFAULT_SUBSCRIPTION_SIZE, EventKind, Subscription, Subscriptions
from river_core.insert_chain import InsertChain
from river_core.insert_opts import InsertOpts
from river_core.insert_params import InsertManyParams, build_insert_params_many
from river_core.job import JobRow
from river_core.periodic_job import PeriodicJobBundle
from river_core.retry_policy import DefaultRetryPolicy
from river_core.runtime.engine import Engine
from river_core.schema_version import LATEST_VERSION
from river_core.validation import validate_metadata, validate_queue

if TYPE_CHECKING:
    from river_core.sync_runtime import BackgroundRuntime

T = TypeVar("T")
log = logging.getLogger("river.client")

InsertResult = JobInsertResult
ManyArgs = Sequence[Any | InsertManyParams]
Metadata = Mapping[str, Any] | str | bytes


def _queue_metadata(metadata: Metadata | None) -> bytes | None:
    """Queue metadata as Go-encoded JSON object bytes, validated before anything is sent."""
    return None if metadata is None else validate_metadata(metadata)


@contextmanager
def _mapped_errors(driver: Driver) -> Iterator[None]:
    """Re-raise a DBAPI error as river_core's (`Driver.map_error`); ours pass through."""
    try:
        yield
    except RiverError:
        raise
    except Exception as exc:
        mapped = driver.map_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


InsertOp = Callable[[Executor, list[JobInsertParams]], T]


class _ClientBase:
    def __init__(self, driver: Driver, config: Config | None = None) -> None:
        self.driver = driver
        self.config = config if config is not None else Config()
        self._insert_chain = InsertChain(self.config.hooks, self.config.middleware)
        self._periodic_jobs = PeriodicJobBundle(self.config.periodic_jobs)

    @property
    def periodic_jobs(self) -> PeriodicJobBundle:
        """The periodic jobs this client inserts while it leads (`Config.periodic_jobs` and
        those added since): add, remove or clear them at any time (River's `PeriodicJobs()`)."""
        return self._periodic_jobs

    def _one(
        self, args: Any, insert_opts: InsertOpts | None
    ) -> tuple[Callable[[Executor], InsertResult], bool]:
        """Insert one job: see `_prepare`."""
        return self._prepare([(args, insert_opts)], lambda ex, ps: admin.insert_many(ex, ps)[0])

    def _many(self, items: ManyArgs, op: InsertOp[T]) -> tuple[Callable[[Executor], T], bool]:
        """Insert a batch with `op`: see `_prepare`."""
        if not items:
            raise ValidationError("args", "insert_many needs at least one job")
        return self._prepare(
            (
                (item.args, item.insert_opts)
                if isinstance(item, InsertManyParams)
                else (item, None)
                for item in items
            ),
            op,
        )

    def _prepare(
        self, items: Iterable[tuple[Any, InsertOpts | None]], op: InsertOp[T]
    ) -> tuple[Callable[[Executor], T], bool]:
        """Validate and encode the jobs (typed errors before anything is sent), and return the
        Executor callable inserting them with `op` through the insert hooks and middleware,
        and whether it is a single statement (then fine in autocommit: with middleware it is
        not, since a middleware failing after the insert must roll it back)."""
        args_types: dict[str, type[Any]] = {}
        params = build_insert_params_many(items, self.config, args_types)
        runner = self._insert_chain.runner(args_types)
        if runner is None:
            return (lambda ex: op(ex, params)), True
        return (lambda ex: runner(params, lambda chained: op(ex, chained))), False


class Client(_ClientBase):
    """The sync client: inserts and admin operations, no event loop needed; `start()` works
    jobs in a background thread."""

    def __init__(self, driver: Driver, config: Config | None = None) -> None:
        super().__init__(driver, config)
        self._background: BackgroundRuntime | None = None

    def _run(self, fn: Any, *, one_statement: bool = False) -> Any:
        """Run `fn` on a new connection, in a transaction (committed when it returns) or, for
        an operation of one statement, in autocommit: one round trip instead of three."""
        with _mapped_errors(self.driver):
            connection = self.driver.autocommit() if one_statement else self.driver.transaction()
            with connection as ex:
                return fn(ex)

    def _run_tx(self, tx: Any, fn: Any) -> Any:
        with _mapped_errors(self.driver):
            ex: Executor = self.driver.executor(tx)
            return fn(ex)

    def insert(self, args: Any, insert_opts: InsertOpts | None = None) -> InsertResult:
        fn, one_statement = self._one(args, insert_opts)
        result: InsertResult = self._run(fn, one_statement=one_statement)
        return result

    def insert_tx(self, tx: Any, args: Any, insert_opts: InsertOpts | None = None) -> InsertResult:
        fn, _ = self._one(args, insert_opts)
        result: InsertResult = self._run_tx(tx, fn)
        return result

    def insert_many(self, items: ManyArgs) -> list[InsertResult]:
        fn, one_statement = self._many(items, admin.insert_many)
        results: list[InsertResult] = self._run(fn, one_statement=one_statement)
        return results

    def insert_many_tx(self, tx: Any, items: ManyArgs) -> list[InsertResult]:
        fn, _ = self._many(items, admin.insert_many)
        results: list[InsertResult] = self._run_tx(tx, fn)
        return results

    def insert_many_fast(self, items: ManyArgs) -> int:
        fn, _ = self._many(items, admin.insert_many_fast)
        count: int = self._run(fn)
        return count

    def insert_many_fast_tx(self, tx: Any, items: ManyArgs) -> int:
        fn, _ = self._many(items, admin.insert_many_fast)
        count: int = self._run_tx(tx, fn)
        return count

    def job_get(self, job_id: int) -> JobRow:
        row: JobRow = self._run(lambda ex: admin.job_get(ex, job_id), one_statement=True)
        return row

    def job_list(self, params: JobListParams | None = None) -> list[JobRow]:
        rows: list[JobRow] = self._run(
            lambda ex: admin.job_list(ex, params or JobListParams()), one_statement=True
        )
        return rows

    def job_cancel(self, job_id: int) -> JobRow:
        row: JobRow = self._run(lambda ex: admin.job_cancel(ex, job_id))
        return row

    def job_retry(self, job_id: int) -> JobRow:
        row: JobRow = self._run(lambda ex: admin.job_retry(ex, job_id))
        return row

    def job_delete(self, job_id: int) -> JobRow:
        row: JobRow = self._run(lambda ex: admin.job_delete(ex, job_id))
        return row

    def job_delete_many(self, params: JobListParams) -> list[JobRow]:
        rows: list[JobRow] = self._run(lambda ex: admin.job_delete_many(ex, params))
        return rows

    def queue_get(self, name: str) -> Queue:
        queue: Queue = self._run(lambda ex: admin.queue_get(ex, name), one_statement=True)
        return queue

    def queue_list(self, max: int = 100) -> list[Queue]:
        queues: list[Queue] = self._run(lambda ex: admin.queue_list(ex, max), one_statement=True)
        return queues

    def queue_pause(self, name: str) -> None:
        self._run(lambda ex: admin.queue_pause(ex, name))

    def queue_resume(self, name: str) -> None:
        self._run(lambda ex: admin.queue_resume(ex, name))

    def queue_update(self, name: str, metadata: Metadata | None = None) -> Queue:
        """Replace a queue's metadata (a JSON object); None changes nothing."""
        encoded = _queue_metadata(metadata)
        queue: Queue = self._run(lambda ex: admin.queue_update(ex, name, encoded))
        return queue

    # -- runtime ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._background is not None

    def start(self) -> None:
        """Work the configured queues in a background thread running the async runtime (with
        its own async engine, built from this client's engine URL and DBAPI). Returns once
        started; raises what starting raised."""
        from river_core.sync_runtime import BackgroundRuntime

        if self._background is not None:
            raise RiverError("client is already started")
        if not self.config.workers:
            raise RiverError("a client that works jobs needs at least one registered worker")
        background = BackgroundRuntime(self)
        background.start()
        self._background = background

    def stop(self) -> None:
        """Soft stop: let running jobs finish (up to `soft_stop_timeout`), write every
        outcome, then dispose of the background runtime's engine."""
        self._stop(hard=False)

    def stop_and_cancel(self) -> None:
        """Hard stop: cancel running jobs (they go back to `available`), then stop."""
        self._stop(hard=True)

    def _stop(self, *, hard: bool) -> None:
        background, self._background = self._background, None
        if background is not None:
            background.stop(hard=hard)


class AsyncClient(_ClientBase):
    """The async client: inserts, admin operations, and the worker runtime (`start`/`stop`)."""

    def __init__(self, driver: Driver, config: Config | None = None) -> None:
        super().__init__(driver, config)
        policy = self.config.retry_policy or DefaultRetryPolicy()
        self._next_retry = lambda row: policy.next_retry(row, datetime.now(UTC))
        self._engine: Engine | None = None
        self._events = Subscriptions()
        self._stopping: asyncio.Future[None] | None = None  # the stop under way, if any
        self._stopping_engine: Engine | None = None
        self._owner_stop: asyncio.Task[None] | None = None

    async def _run(self, fn: Any, *, one_statement: bool = False) -> Any:
        """`Client._run` on an async connection."""
        with _mapped_errors(self.driver):
            if one_statement:
                async with self.driver.async_autocommit() as ex:
                    return await ex.run(fn)
            async with self.driver.async_transaction() as ex:
                return await ex.run(fn)

    async def _run_tx(self, tx: Any, fn: Any) -> Any:
        with _mapped_errors(self.driver):
            return await self.driver.async_executor(tx).run(fn)

    # -- inserts ---------------------------------------------------------------------------
    async def insert(self, args: Any, insert_opts: InsertOpts | None = None) -> InsertResult:
        fn, one_statement = self._one(args, insert_opts)
        result: InsertResult = await self._run(fn, one_statement=one_statement)
        return result

    async def insert_tx(
        self, tx: Any, args: Any, insert_opts: InsertOpts | None = None
    ) -> InsertResult:
        fn, _ = self._one(args, insert_opts)
        result: InsertResult = await self._run_tx(tx, fn)
        return result

    async def insert_many(self, items: ManyArgs) -> list[InsertResult]:
        fn, one_statement = self._many(items, admin.insert_many)
        results: list[InsertResult] = await self._run(fn, one_statement=one_statement)
        return results

    async def insert_many_tx(self, tx: Any, items: ManyArgs) -> list[InsertResult]:
        fn, _ = self._many(items, admin.insert_many)
        results: list[InsertResult] = await self._run_tx(tx, fn)
        return results

    async def insert_many_fast(self, items: ManyArgs) -> int:
        fn, _ = self._many(items, admin.insert_many_fast)
        count: int = await self._run(fn)
        return count

    async def insert_many_fast_tx(self, tx: Any, items: ManyArgs) -> int:
        fn, _ = self._many(items, admin.insert_many_fast)
        count: int = await self._run_tx(tx, fn)
        return count

    # -- admin -----------------------------------------------------------------------------
    async def job_get(self, job_id: int) -> JobRow:
        row: JobRow = await self._run(lambda ex: admin.job_get(ex, job_id), one_statement=True)
        return row

    async def job_list(self, params: JobListParams | None = None) -> list[JobRow]:
        rows: list[JobRow] = await self._run(
            lambda ex: admin.job_list(ex, params or JobListParams()), one_statement=True
        )
        return rows

    async def job_cancel(self, job_id: int) -> JobRow:
        row: JobRow = await self._run(lambda ex: admin.job_cancel(ex, job_id))
        if self._engine is not None:
            self._engine.cancel_running_job(job_id)
        return row

    async def job_retry(self, job_id: int) -> JobRow:
        row: JobRow = await self._run(lambda ex: admin.job_retry(ex, job_id))
        return row

    async def job_delete(self, job_id: int) -> JobRow:
        row: JobRow = await self._run(lambda ex: admin.job_delete(ex, job_id))
        return row

    async def job_delete_many(self, params: JobListParams) -> list[JobRow]:
        rows: list[JobRow] = await self._run(lambda ex: admin.job_delete_many(ex, params))
        return rows

    async def queue_get(self, name: str) -> Queue:
        queue: Queue = await self._run(lambda ex: admin.queue_get(ex, name), one_statement=True)
        return queue

    async def queue_list(self, max: int = 100) -> list[Queue]:
        queues: list[Queue] = await self._run(
            lambda ex: admin.queue_list(ex, max), one_statement=True
        )
        return queues

    async def queue_pause(self, name: str) -> None:
        await self._run(lambda ex: admin.queue_pause(ex, name))
        self._follow_pause(name, paused=True)

    async def queue_resume(self, name: str) -> None:
        await self._run(lambda ex: admin.queue_resume(ex, name))
        self._follow_pause(name, paused=False)

    async def queue_update(self, name: str, metadata: Metadata | None = None) -> Queue:
        """Replace a queue's metadata (a JSON object); None changes nothing."""
        encoded = _queue_metadata(metadata)
        queue: Queue = await self._run(lambda ex: admin.queue_update(ex, name, encoded))
        return queue

    def _follow_pause(self, name: str, *, paused: bool) -> None:
        """Apply a pause/resume to this client's own producers without waiting for NOTIFY."""
        if self._engine is None:
            return
        for queue, producer in self._engine.producers.items():
            if name in ("*", queue):
                self._engine.set_paused(producer, paused=paused)

    # -- events ----------------------------------------------------------------------------
    def subscribe(
        self, kinds: Iterable[EventKind | str], *, size: int = DEFAULT_SUBSCRIPTION_SIZE
    ) -> Subscription:
        """Receive the events of `kinds` (River's `Subscribe`), at most `size` buffered.

        Events of jobs are emitted after their outcome is written; a full buffer drops events
        (counted in `Subscription.dropped`, logged) rather than slow the client down. The
        subscription ends when this client stops, or on `close()`:

            with client.subscribe([EventKind.JOB_COMPLETED]) as events:
                async for event in events: ...
        """
        return self._events.subscribe(kinds, size)

    # -- runtime ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._engine is not None

    async def start(self) -> None:
        """Check the schema version, then start working the configured queues.

        Cancelling the task that called `start` stops the client (softly).
        """
        if self._engine is not None:
            raise RiverError("client is already started")
        if not self.config.workers:
            raise RiverError("a client that works jobs needs at least one registered worker")
        version = await self._run(lambda ex: ex.schema_version())
        if version < LATEST_VERSION:
            raise SchemaVersionError(version, LATEST_VERSION)
        engine = Engine(
            self.driver,
            self.config,
            self._next_retry,
            events=self._events,
            periodic_jobs=self._periodic_jobs,
        )
        self._engine = engine
        try:
            await engine.start()
        except BaseException:
            self._engine = None
            await engine.stop(hard=True, soft_timeout=None)
            raise
        if self.config.gc_freeze_on_start:
            gc.freeze()
        owner = asyncio.current_task()
        if owner is not None:
            owner.add_done_callback(self._owner_done)

    def _owner_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() and self._engine is not None:
            self._owner_stop = asyncio.ensure_future(self.stop())

    async def add_queue(self, name: str, max_workers: int = 100) -> None:
        """Start working another queue while running."""
        validate_queue(name)
        config = QueueConfig(max_workers=max_workers)
        self.config.queues[name] = config
        if self._engine is not None:
            await self._engine.add_queue(name, config.max_workers)

    async def remove_queue(self, name: str) -> None:
        """Stop working a queue; its running jobs finish first."""
        self.config.queues.pop(name, None)
        if self._engine is not None:
            await self._engine.remove_queue(name)

    async def stop(self) -> None:
        """Soft stop: stop fetching, let running jobs finish (up to `soft_stop_timeout`),
        write every outcome."""
        await self._stop(hard=False)

    async def stop_and_cancel(self) -> None:
        """Hard stop: cancel running jobs (they go back to `available`), then stop."""
        await self._stop(hard=True)

    async def _stop(self, *, hard: bool) -> None:
        """Stop, or wait for the stop under way (a hard stop escalates a soft one). The stop
        runs to its end even if the caller is cancelled."""
        engine, self._engine = self._engine, None
        if engine is not None:
            self._stopping_engine = engine
            self._stopping = asyncio.ensure_future(
                engine.stop(hard=hard, soft_timeout=self.config.soft_stop_timeout)
            )
        elif self._stopping is None or self._stopping.done():
            return
        elif hard and self._stopping_engine is not None:
            for producer in self._stopping_engine.producers.values():
                producer.stop_running_jobs()
        await asyncio.shield(self._stopping)
        self._events.close_all()  # every outcome is written and its event emitted
