"""Work hooks, worker middleware and the error handler, on every async driver: River's order
(global, args type, worker), what each may change, and the outcomes they override."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from runtime_helpers import make_client, running, wait_for_job

import river_core as river
from river_core.driver import Driver
from river_core.job import JobRow, JobState

CALLS: list[str] = []  # what the hooks and middleware of the current test did, in order


class Hook:
    """Records `work_begin`/`work_end`; `end` may rewrite the error."""

    def __init__(
        self,
        name: str,
        *,
        refuse: bool = False,
        end: Callable[[BaseException | None], BaseException | None] | None = None,
    ) -> None:
        self.name, self.refuse, self.end = name, refuse, end

    def work_begin(self, job: river.Job[Any]) -> None:
        CALLS.append(f"{self.name}.begin")
        if self.refuse:
            raise RuntimeError(f"{self.name} refused")

    async def work_end(
        self, job: river.Job[Any], error: BaseException | None
    ) -> BaseException | None:
        CALLS.append(f"{self.name}.end:{type(error).__name__ if error else 'ok'}")
        return self.end(error) if self.end is not None else error


class Middleware:
    """Records around `do_inner`, and what it raised."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def work(self, job: river.Job[Any], do_inner: Callable[[], Awaitable[None]]) -> None:
        CALLS.append(f"{self.name}>")
        try:
            await do_inner()
        except Exception as exc:
            CALLS.append(f"<{self.name}:{type(exc).__name__}")
            raise
        CALLS.append(f"<{self.name}")


@dataclass
class HookedArgs:
    behaviour: str = "ok"  # ok | fail | sleep | sync
    kind: ClassVar[str] = "hooked"
    hooks: ClassVar[tuple[object, ...]] = (Hook("args"),)
    middleware: ClassVar[tuple[object, ...]] = (Middleware("args_mw"),)


@dataclass
class PlainArgs:
    kind: ClassVar[str] = "plain"


class HookedWorker(river.Worker[HookedArgs]):
    hooks = (Hook("worker"),)
    middleware = (Middleware("worker_mw"),)

    async def work(self, job: river.Job[HookedArgs]) -> None:
        CALLS.append("work")
        if job.args.behaviour == "fail":
            raise ValueError("worker failed")
        if job.args.behaviour == "sleep":
            await asyncio.sleep(5)


@dataclass
class SyncHookedArgs:
    kind: ClassVar[str] = "sync_hooked"


class SyncHookedWorker(river.Worker[SyncHookedArgs]):
    def work(self, job: river.Job[SyncHookedArgs]) -> None:
        CALLS.append("sync work")


class PlainWorker(river.Worker[PlainArgs]):
    def __init__(self, outcome: Callable[[], None]) -> None:
        self.outcome = outcome

    async def work(self, job: river.Job[PlainArgs]) -> None:
        self.outcome()


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def hooked_client(driver: Driver, *hooks: Hook, **config: Any) -> river.AsyncClient:
    return make_client(
        driver,
        HookedWorker(),
        SyncHookedWorker(),
        hooks=[Hook("global"), *hooks],
        middleware=[Middleware("global_mw")],
        **config,
    )


async def test_order_global_then_args_type_then_worker(driver: Driver) -> None:
    """River's order: the worker's middleware outermost, then the global, then the args
    type's; inside them the begin hooks (global, args type, worker), the worker, the end
    hooks in the same order; a sync worker runs in its thread inside the same chain."""
    client = hooked_client(driver)
    job_id = (await client.insert(HookedArgs())).job.id
    async with running(client):
        await wait_for_job(client, job_id, {JobState.COMPLETED})
        assert CALLS == [
            "worker_mw>",
            "global_mw>",
            "args_mw>",
            "global.begin",
            "args.begin",
            "worker.begin",
            "work",
            "global.end:ok",
            "args.end:ok",
            "worker.end:ok",
            "<args_mw",
            "<global_mw",
            "<worker_mw",
        ]
        CALLS.clear()
        sync_id = (await client.insert(SyncHookedArgs())).job.id
        await wait_for_job(client, sync_id, {JobState.COMPLETED})
    assert CALLS == [
        "global_mw>",
        "global.begin",
        "sync work",
        "global.end:ok",
        "<global_mw",
    ]


async def test_work_begin_error_fails_the_attempt_without_the_worker(driver: Driver) -> None:
    """A `work_begin` hook raising: the worker and the end hooks do not run, the middleware
    sees the error, the job fails with it (retried)."""
    client = hooked_client(driver, Hook("refusing", refuse=True))
    job_id = (await client.insert(HookedArgs())).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.RETRYABLE, JobState.AVAILABLE}, errors=1)
    assert "work" not in CALLS and not [c for c in CALLS if ".end" in c]
    assert CALLS[-3:] == [
        "<args_mw:RuntimeError",
        "<global_mw:RuntimeError",
        "<worker_mw:RuntimeError",
    ]
    (error,) = row.errors
    assert "refusing refused" in error.error


async def test_work_end_hooks_see_and_rewrite_the_error(driver: Driver) -> None:
    """Each `work_end` gets the previous one's result: one replacing the worker's error
    changes what is recorded; one returning None turns the failure into a completion."""
    replacing = Hook("replacing", end=lambda e: KeyError("replaced") if e else None)
    client = hooked_client(driver, replacing)
    failed_id = (await client.insert(HookedArgs("fail"))).job.id
    async with running(client):
        row = await wait_for_job(
            client, failed_id, {JobState.RETRYABLE, JobState.AVAILABLE}, errors=1
        )
    assert "replacing.end:ValueError" in CALLS
    assert "worker.end:KeyError" in CALLS  # after the replacing hook (global ones come first)
    assert "KeyError" in row.errors[0].error and "replaced" in row.errors[0].error

    CALLS.clear()
    swallowing = Hook("swallowing", end=lambda e: None)
    client = hooked_client(driver, swallowing)
    swallowed_id = (await client.insert(HookedArgs("fail"))).job.id
    async with running(client):
        row = await wait_for_job(client, swallowed_id, {JobState.COMPLETED})
    assert row.errors == []
    assert "args.end:ok" in CALLS and "<worker_mw" in CALLS


async def test_timeout_reaches_the_end_hooks_and_middleware_as_an_error(driver: Driver) -> None:
    """A job timing out inside the chain: the end hooks and the middleware see a
    `JobTimeoutError`, and the job fails with it."""
    client = hooked_client(driver, job_timeout=0.2)
    job_id = (await client.insert(HookedArgs("sleep"))).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.RETRYABLE, JobState.AVAILABLE}, errors=1)
    assert "global.end:JobTimeoutError" in CALLS
    assert "<worker_mw:JobTimeoutError" in CALLS
    (error,) = row.errors
    assert "timed out" in error.error and error.trace == ""


class Handler:
    def __init__(self, decide: Callable[[JobRow, BaseException], river.ErrorHandlerResult | None]):
        self.decide = decide
        self.seen: list[tuple[int, str]] = []

    def handle_error(self, job: JobRow, error: BaseException) -> river.ErrorHandlerResult | None:
        self.seen.append((job.id, type(error).__name__))
        return self.decide(job, error)


def raising(exc: BaseException) -> Callable[[], None]:
    def outcome() -> None:
        raise exc

    return outcome


async def test_error_handler_can_cancel(driver: Driver) -> None:
    """`set_cancelled`: the job is cancelled at once, its error recorded."""
    handler = Handler(lambda job, error: river.ErrorHandlerResult(set_cancelled=True))
    client = make_client(driver, PlainWorker(raising(ValueError("bad"))), error_handler=handler)
    job_id = (await client.insert(PlainArgs())).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.CANCELLED})
    assert handler.seen == [(job_id, "ValueError")]
    assert row.finalized_at is not None and "bad" in row.errors[0].error


async def test_error_handler_can_retry_later_even_on_the_last_attempt(driver: Driver) -> None:
    """`retry_at`: the job is retried then instead of being discarded."""
    at = datetime.now(UTC) + timedelta(hours=1)
    handler = Handler(lambda job, error: river.ErrorHandlerResult(retry_at=at))
    client = make_client(driver, PlainWorker(raising(ValueError("bad"))), error_handler=handler)
    job_id = (await client.insert(PlainArgs(), river.InsertOpts(max_attempts=1))).job.id
    async with running(client):
        row = await wait_for_job(client, job_id, {JobState.RETRYABLE})
    assert row.scheduled_at == at
    assert row.finalized_at is None and row.attempt == 1


async def test_error_handler_is_skipped_for_cancel_and_snooze_and_ignored_when_it_fails(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """Not called for `JobCancel`/`JobSnooze`; a handler raising is logged, and the default
    outcome applies (here: discarded on the last attempt)."""

    def decide(job: JobRow, error: BaseException) -> river.ErrorHandlerResult | None:
        raise RuntimeError("handler bug")

    handler = Handler(decide)
    outcomes = [raising(river.JobCancel("no")), raising(river.JobSnooze(600))]
    outcomes.append(raising(ValueError("bad")))
    client = make_client(
        driver, PlainWorker(lambda: outcomes.pop(0)()), error_handler=handler, max_workers=1
    )
    ids = [(await client.insert(PlainArgs(), river.InsertOpts(max_attempts=1))).job.id]
    ids += [(await client.insert(PlainArgs(), river.InsertOpts(max_attempts=1))).job.id]
    ids += [(await client.insert(PlainArgs(), river.InsertOpts(max_attempts=1))).job.id]
    with caplog.at_level(logging.ERROR, logger="river.executor"):
        async with running(client):
            states = [JobState.CANCELLED, JobState.SCHEDULED, JobState.DISCARDED]
            for job_id, state in zip(ids, states, strict=True):
                await wait_for_job(client, job_id, {state})
    assert handler.seen == [(ids[2], "ValueError")]
    assert "error handler failed" in caplog.text


async def test_extensions_that_are_not_hooks_or_middleware_are_refused() -> None:
    """Objects with no hook (middleware) method are refused when configured or registered."""
    with pytest.raises(river.ValidationError, match="hooks"):
        river.Config(hooks=[object()])
    with pytest.raises(river.ValidationError, match="middleware"):
        river.Config(middleware=[Hook("not middleware")])

    class BadWorker(river.Worker[PlainArgs]):
        middleware = ("not middleware",)

        async def work(self, job: river.Job[PlainArgs]) -> None:
            return None

    with pytest.raises(river.ValidationError, match=r"BadWorker\.middleware"):
        river.Workers().add(BadWorker())
