"""The job executor: runs one job through its worker and turns the result into an outcome."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from river_core.driver import Driver, JobSetStateIfRunningParams, JobSetStateReason
from river_core.error_handler import ErrorHandler, ErrorHandlerResult
from river_core.errors import UnknownJobKindError
from river_core.job import JobRow, JobState
from river_core.runtime.deadlines import Deadlines
from river_core.runtime.work_plan import WorkPlan, WorkPlans
from river_core.snooze import next_snooze_count
from river_core.worker import (
    Job,
    JobCancel,
    JobCancelledRemotelyError,
    JobSnooze,
    JobTimeoutError,
    Worker,
    Workers,
    decode_args,
)

log = logging.getLogger("river.executor")


class StopReason:
    TIMEOUT = "timeout"
    REMOTE_CANCEL = "remote_cancel"
    CLIENT_STOP = "client_stop"


class JobTimings(NamedTuple):
    """When a job waited and ran (seconds), and when its outcome was ready (monotonic)."""

    queue_wait: float
    run: float
    ended: float


@dataclass(slots=True)
class ExecutorSettings:
    workers: Workers
    job_timeout: float
    scheduler_interval: float
    next_retry: Callable[[JobRow], datetime]
    hooks: Sequence[object] = ()
    middleware: Sequence[object] = ()
    error_handler: ErrorHandler | None = None
    driver: Driver | None = None  # handed to each `Job` (for `complete_tx`)
    deadlines: Deadlines = field(default_factory=lambda: Deadlines(expire, still_working))
    # Each outcome's timings by job id, recorded only while someone listens for job events.
    timings: dict[int, JobTimings] | None = None
    plans: WorkPlans = field(init=False)

    def __post_init__(self) -> None:
        self.plans = WorkPlans(self.workers, self.hooks, self.middleware)


def still_working(item: object) -> bool:
    assert isinstance(item, Execution)
    return not item.done_working and item.stop_reason is None


def expire(item: object) -> None:
    """A job's timeout passed: stop it (async jobs are cancelled, sync jobs are told)."""
    assert isinstance(item, Execution)
    if not still_working(item):
        return
    item.request_stop(StopReason.TIMEOUT)
    if item.in_thread and item.job is not None:
        log.warning(
            "sync job %d (%s) exceeded its timeout; told to stop, waiting for it to return",
            item.job.id,
            item.job.kind,
        )


class Execution:
    """One job in flight: its task, its stop reason, and its `Job` handed to the worker."""

    def __init__(self, row: JobRow) -> None:
        self.row = row
        self.job: Job[Any] | None = None
        self.stop_reason: str | None = None
        self.task: asyncio.Task[JobSetStateIfRunningParams | None] | None = None
        self.in_thread = False
        # Its task has entered `execute`. A task cancelled before its first step never runs
        # its `finally` (the slot would leak): until then a stop is only recorded.
        self.started = False
        self.done_working = False
        self.hard_stopped = False  # a hard stop asked it to stop (maybe after another reason)

    @property
    def abandoned_on_stop(self) -> bool:
        """A sync job told to stop by a hard stop: nobody waits for its thread, even when
        its timeout or a remote cancel told it to stop first."""
        return self.in_thread and self.hard_stopped

    def request_stop(self, reason: str) -> None:
        """Ask the job to stop: async jobs are cancelled, sync jobs see `should_stop()`."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if reason == StopReason.CLIENT_STOP:
            self.hard_stopped = True
        if self.job is not None:
            self.job._request_stop()
        if self.task is not None and self.started and not self.in_thread and not self.done_working:
            self.task.cancel()


class ThreadRunner:
    """Runs sync `work` in bounded daemon threads: a hard stop never waits for them."""

    def __init__(self, max_threads: int) -> None:
        self._slots = asyncio.Semaphore(max_threads)

    async def run(
        self, fn: Callable[[], object], on_start: Callable[[], None] | None = None
    ) -> object:
        """Run `fn` in a thread once one is free; `on_start` is called as it gets one."""
        async with self._slots:
            if on_start is not None:
                on_start()
            loop = asyncio.get_running_loop()
            future: asyncio.Future[object] = loop.create_future()

            def target() -> None:
                try:
                    result = fn()
                except BaseException as exc:
                    loop.call_soon_threadsafe(_set_exception, future, exc)
                else:
                    loop.call_soon_threadsafe(_set_result, future, result)

            threading.Thread(target=target, name="river-sync-worker", daemon=True).start()
            return await asyncio.shield(future)


def _set_result(future: asyncio.Future[object], value: object) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[object], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _attempt_error(at: datetime, attempt: int, error: str, trace: str) -> bytes:
    at_text = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"at": at_text, "attempt": attempt, "error": error, "trace": trace}, separators=(",", ":")
    ).encode()


def _metadata_bytes(updates: dict[str, Any]) -> bytes | None:
    return json.dumps(updates, separators=(",", ":")).encode() if updates else None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, JobCancel):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def execute(
    execution: Execution, settings: ExecutorSettings, threads: ThreadRunner
) -> JobSetStateIfRunningParams | None:
    """Run the job; return its outcome, or None when a hard stop abandons a sync job."""
    execution.started = True
    row = execution.row
    started = datetime.now(UTC)
    plan = settings.plans.by_kind.get(row.kind) or settings.plans.build(row.kind)
    worker = plan.worker if plan is not None else None
    metadata_updates: dict[str, Any] = {}
    job: Job[Any] | None = None
    outcome: JobSetStateIfRunningParams | None
    try:
        if plan is None or worker is None:
            raise UnknownJobKindError(row.kind)
        args = decode_args(worker.args_type, row.args)
        job = Job(row=row, args=args, metadata_updates=metadata_updates, _driver=settings.driver)
        execution.job = job
        if execution.stop_reason is not None:  # stopped before it ran: it does not run
            job._request_stop()
            raise asyncio.CancelledError
        timeout = worker.timeout_seconds()
        if timeout is None:
            timeout = settings.job_timeout
        limit = timeout if timeout > 0 else None
        if plan.plain:
            await _run_worker(execution, plan, job, limit, threads, settings.deadlines)
        else:
            await _Chain(execution, plan, job, limit, threads, settings).run()
        outcome = JobSetStateIfRunningParams(
            id=row.id,
            state=JobState.COMPLETED,
            reason=JobSetStateReason.COMPLETED,
            finalized_at=datetime.now(UTC),
            metadata_updates=_metadata_bytes(metadata_updates),
        )
    except asyncio.CancelledError:
        reason = execution.stop_reason
        if reason is None:
            raise
        if reason == StopReason.CLIENT_STOP:
            outcome = _interrupted(row, metadata_updates)
        else:
            error = _stop_error(reason, worker, settings)
            outcome = _outcome_for_error(
                row, error, "", started, settings, worker, job, metadata_updates
            )
    except Exception as exc:
        if execution.stop_reason == StopReason.CLIENT_STOP and execution.in_thread:
            outcome = _interrupted(row, metadata_updates)
        elif execution.stop_reason == StopReason.REMOTE_CANCEL:
            # As River: any error of a job cancelled remotely becomes the cancellation.
            error = _stop_error(StopReason.REMOTE_CANCEL, worker, settings)
            outcome = _outcome_for_error(
                row, error, "", started, settings, worker, job, metadata_updates
            )
        else:
            quiet = isinstance(exc, JobSnooze | JobCancel | JobTimeoutError)
            trace = "" if quiet else traceback.format_exc()
            outcome = _outcome_for_error(
                row, exc, trace, started, settings, worker, job, metadata_updates
            )
    if settings.timings is not None:
        ended = datetime.now(UTC)
        settings.timings[row.id] = JobTimings(
            max((started - row.scheduled_at).total_seconds(), 0.0),
            (ended - started).total_seconds(),
            time.monotonic(),
        )
    return outcome


def _stop_error(reason: str, worker: Worker[Any] | None, settings: ExecutorSettings) -> Exception:
    """The error a job stopped by its timeout or a remote cancel ends with."""
    if reason == StopReason.REMOTE_CANCEL:
        return JobCancel(JobCancelledRemotelyError())
    return JobTimeoutError(_timeout_of(worker, settings))


def _timeout_of(worker: Worker[Any] | None, settings: ExecutorSettings) -> float:
    own = worker.timeout_seconds() if worker is not None else None
    return settings.job_timeout if own is None else own


async def _run_worker(
    execution: Execution,
    plan: WorkPlan,
    job: Job[Any],
    timeout: float | None,
    threads: ThreadRunner,
    deadlines: Deadlines,
) -> None:
    """Run `work` under the job's timeout (async on the loop, sync in a thread)."""
    worker = plan.worker
    if plan.is_async:
        if timeout is not None:
            deadlines.add(execution, timeout)
        await worker.work(job)  # type: ignore[misc]
        return
    execution.in_thread = True

    def began() -> None:
        # The timeout counts from the thread's start, not while the job waits for a thread.
        if timeout is not None:
            deadlines.add(execution, timeout)

    await threads.run(lambda: worker.work(job), on_start=began)


class _Chain:
    """One attempt of a job whose kind has middleware or hooks."""

    __slots__ = ("execution", "job", "plan", "settings", "threads", "timeout")

    def __init__(
        self,
        execution: Execution,
        plan: WorkPlan,
        job: Job[Any],
        timeout: float | None,
        threads: ThreadRunner,
        settings: ExecutorSettings,
    ) -> None:
        self.execution = execution
        self.plan = plan
        self.job = job
        self.timeout = timeout
        self.threads = threads
        self.settings = settings

    async def run(self) -> None:
        """The middleware (outermost first) around the hooks around the worker."""
        call: Callable[[], Awaitable[None]] = self._hooked
        for middleware in reversed(self.plan.middleware):
            call = _bind_work(middleware, self.job, call)
        await call()

    async def _hooked(self) -> None:
        job, plan = self.job, self.plan
        for hook in plan.work_begin:
            result = hook.work_begin(job)
            if inspect.isawaitable(result):
                await result
        error: BaseException | None = None
        try:
            await _run_worker(
                self.execution, plan, job, self.timeout, self.threads, self.settings.deadlines
            )
        except asyncio.CancelledError:
            reason = self.execution.stop_reason
            if reason is None or reason == StopReason.CLIENT_STOP:
                raise
            # A timeout or a remote cancel: the hooks and middleware see it as an error.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            error = _stop_error(reason, plan.worker, self.settings)
        except Exception as exc:
            error = exc
        for hook in plan.work_end:
            result = hook.work_end(job, error)
            error = await result if inspect.isawaitable(result) else result
        if error is not None:
            raise error


def _bind_work(
    middleware: Any, job: Job[Any], inner: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    return lambda: middleware.work(job, inner)


def _interrupted(row: JobRow, metadata_updates: dict[str, Any]) -> JobSetStateIfRunningParams:
    return JobSetStateIfRunningParams(
        id=row.id,
        state=JobState.AVAILABLE,
        reason=JobSetStateReason.INTERRUPTED,
        attempt=max(row.attempt - 1, 0),
        scheduled_at=datetime.now(UTC),
        metadata_updates=_metadata_bytes(metadata_updates),
    )


def _outcome_for_error(
    row: JobRow,
    exc: BaseException,
    trace: str,
    started: datetime,
    settings: ExecutorSettings,
    worker: Worker[Any] | None,
    job: Job[Any] | None,
    metadata_updates: dict[str, Any],
) -> JobSetStateIfRunningParams:
    now = datetime.now(UTC)
    if isinstance(exc, JobSnooze):
        metadata_updates["snoozes"] = next_snooze_count(row.metadata)
        at = now + timedelta(seconds=exc.seconds)
        soon = exc.seconds <= settings.scheduler_interval
        return JobSetStateIfRunningParams(
            id=row.id,
            state=JobState.AVAILABLE if soon else JobState.SCHEDULED,
            reason=JobSetStateReason.SNOOZED,
            attempt=row.attempt - 1,
            scheduled_at=at,
            metadata_updates=_metadata_bytes(metadata_updates),
        )
    cancel = isinstance(exc, JobCancel)
    handled = None
    if not cancel and settings.error_handler is not None:
        handled = _handle_error(settings.error_handler, row, exc)
    forced_retry_at: datetime | None = None
    if handled is not None:
        cancel = handled.set_cancelled
        forced_retry_at = handled.retry_at
    error = _attempt_error(started, row.attempt, _error_text(exc), trace)
    metadata = _metadata_bytes(metadata_updates)
    if cancel:
        return JobSetStateIfRunningParams(
            id=row.id,
            state=JobState.CANCELLED,
            reason=JobSetStateReason.CANCELLED,
            error=error,
            finalized_at=now,
            metadata_updates=metadata,
        )
    retry_at: datetime | None = forced_retry_at
    if retry_at is None and row.attempt >= row.max_attempts:
        return JobSetStateIfRunningParams(
            id=row.id,
            state=JobState.DISCARDED,
            reason=JobSetStateReason.FAILED,
            error=error,
            finalized_at=now,
            metadata_updates=metadata,
        )
    if retry_at is None:
        retry_at = worker.next_retry(job) if worker is not None and job is not None else None
        if retry_at is None or retry_at < now:
            retry_at = settings.next_retry(row)
    soon = (retry_at - now).total_seconds() <= settings.scheduler_interval
    return JobSetStateIfRunningParams(
        id=row.id,
        state=JobState.AVAILABLE if soon else JobState.RETRYABLE,
        reason=JobSetStateReason.FAILED,
        error=error,
        scheduled_at=retry_at,
        metadata_updates=metadata,
    )


def _handle_error(
    handler: ErrorHandler, row: JobRow, exc: BaseException
) -> ErrorHandlerResult | None:
    """The error handler's verdict; None when it has none or fails (logged)."""
    try:
        return handler.handle_error(row, exc)
    except Exception:
        log.exception("error handler failed for job %d (%s); ignoring it", row.id, row.kind)
        return None
