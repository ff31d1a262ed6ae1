"""`river demo`: a zero-setup tour: embedded PostgreSQL, migrations, a mix of jobs, live states."""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import click

import river_core as river
from river_core import migrate
from river_core.cli import database
from river_core.cli.migrate import _one_line_errors

QUEUE = "demo"
FINAL = {river.JobState.COMPLETED, river.JobState.CANCELLED, river.JobState.DISCARDED}


@dataclass
class EmailArgs:
    """Sends (pretends to send) an email."""

    to: str
    kind: ClassVar[str] = "demo_email"


@dataclass
class FlakyArgs:
    """Fails on its first attempts, then succeeds."""

    fail_times: int
    kind: ClassVar[str] = "demo_flaky"


@dataclass
class ReportArgs:
    """Waits for its data once (snoozes), then completes."""

    name: str
    kind: ClassVar[str] = "demo_report"


@dataclass
class HeartbeatArgs:
    """A periodic job: inserted by the leader every two seconds."""

    kind: ClassVar[str] = "demo_heartbeat"


@dataclass
class RefundArgs:
    """Cancels itself: the order it refunds does not exist."""

    order_id: int
    kind: ClassVar[str] = "demo_refund"


class EmailWorker(river.Worker[EmailArgs]):
    async def work(self, job: river.Job[EmailArgs]) -> None:
        await asyncio.sleep(random.uniform(0.05, 0.3))


class FlakyWorker(river.Worker[FlakyArgs]):
    def next_retry(self, job: river.Job[FlakyArgs]) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=1)

    async def work(self, job: river.Job[FlakyArgs]) -> None:
        if job.attempt <= job.args.fail_times:
            raise RuntimeError(f"upstream unavailable (attempt {job.attempt})")


class ReportWorker(river.Worker[ReportArgs]):
    def work(self, job: river.Job[ReportArgs]) -> None:  # a sync worker, run in a thread
        if not job.metadata.get("snoozes"):
            raise river.JobSnooze(2)
        time.sleep(0.1)


class HeartbeatWorker(river.Worker[HeartbeatArgs]):
    async def work(self, job: river.Job[HeartbeatArgs]) -> None:
        return None


class RefundWorker(river.Worker[RefundArgs]):
    async def work(self, job: river.Job[RefundArgs]) -> None:
        raise river.JobCancel(f"order {job.args.order_id} does not exist")


def _workers() -> river.Workers:
    workers = river.Workers()
    for worker in (EmailWorker(), FlakyWorker(), ReportWorker(), RefundWorker(), HeartbeatWorker()):
        workers.add(worker)
    return workers


def _jobs() -> list[river.InsertManyParams]:
    soon = datetime.now(UTC) + timedelta(seconds=4)
    params = [river.InsertManyParams(EmailArgs(to=f"user{i}@example.com")) for i in range(20)]
    params += [river.InsertManyParams(FlakyArgs(fail_times=n)) for n in (1, 2)]
    params.append(river.InsertManyParams(FlakyArgs(fail_times=5), river.InsertOpts(max_attempts=2)))
    params.append(river.InsertManyParams(ReportArgs(name="weekly")))
    params.append(river.InsertManyParams(RefundArgs(order_id=404)))
    params.append(
        river.InsertManyParams(
            EmailArgs(to="later@example.com"), river.InsertOpts(scheduled_at=soon)
        )
    )
    return [river.InsertManyParams(p.args, _in_queue(p.insert_opts)) for p in params]


def _in_queue(opts: river.InsertOpts | None) -> river.InsertOpts:
    if opts is None:
        return river.InsertOpts(queue=QUEUE)
    return river.InsertOpts(
        queue=QUEUE, max_attempts=opts.max_attempts, scheduled_at=opts.scheduled_at
    )


@contextmanager
def _embedded_postgres(keep: bool) -> Iterator[str]:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # pgserver's platformdirs
    try:
        import pgserver  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise click.ClickException(
            "no --database-url and no embedded PostgreSQL: pip install 'river-queue[embedded]'"
        ) from None
    directory = tempfile.mkdtemp(prefix="river-demo-")
    click.echo(f"demo: starting an embedded PostgreSQL in {directory} ...")
    server = pgserver.get_server(  # type: ignore[attr-defined,unused-ignore]
        directory, cleanup_mode=None if keep else "stop"
    )
    try:
        yield str(server.get_uri())
    finally:
        if not keep:
            server.cleanup()


def _state_line(counts: dict[river.JobState, int], elapsed: float) -> str:
    shown = ", ".join(f"{s.value} {counts.get(s, 0)}" for s in river.JobState if counts.get(s))
    return f"demo: {elapsed:5.1f}s  {shown}"


async def _run_demo(url: str, timeout: float) -> dict[river.JobState, int]:
    driver = database.async_driver(url)
    try:
        async with driver.engine.connect() as conn:
            applied = await conn.run_sync(lambda c: migrate.upgrade(c))
        click.echo(f"demo: migrated River's schema ({len(applied)} migrations applied)")
        client = river.AsyncClient(
            driver,
            river.Config(
                queues={QUEUE: river.QueueConfig(max_workers=10)},
                workers=_workers(),
                scheduler_interval=1.0,
                periodic_jobs=[
                    river.PeriodicJob(
                        river.interval_schedule(timedelta(seconds=2)),
                        lambda: (HeartbeatArgs(), river.InsertOpts(queue=QUEUE)),
                        run_on_start=True,
                        id="demo_heartbeat",
                    )
                ],
            ),
        )
        await client._run(
            lambda ex: ex.job_delete_many(river.JobListParams(queues=[QUEUE], max=10_000))
        )
        inserted = await client.insert_many(_jobs())
        ids = [r.job.id for r in inserted]
        click.echo(f"demo: inserted {len(ids)} jobs into queue {QUEUE!r}; working them")
        await client.start()
        started = time.monotonic()
        live = sys.stdout.isatty()
        counts: dict[river.JobState, int] = {}
        try:
            while time.monotonic() - started < timeout:
                await asyncio.sleep(0.5)
                rows = await client.job_list(river.JobListParams(ids=ids, max=len(ids)))
                counts = {}
                for row in rows:
                    counts[row.state] = counts.get(row.state, 0) + 1
                line = _state_line(counts, time.monotonic() - started)
                click.echo(("\r\033[K" + line) if live else line, nl=not live)
                if all(row.state in FINAL for row in rows):
                    break
        finally:
            if live:
                click.echo()
            await client.stop()
        beats = await client.job_list(river.JobListParams(kinds=[HeartbeatArgs.kind], max=1000))
        done = sum(1 for b in beats if b.state is river.JobState.COMPLETED)
        click.echo(f"demo: periodic job demo_heartbeat (every 2 s): {done} runs completed")
        rows = await client.job_list(river.JobListParams(ids=ids, max=len(ids)))
        for row in rows:
            if (
                row.errors
                or row.state is not river.JobState.COMPLETED
                or row.metadata.get("snoozes")
            ):
                detail = row.errors[-1].error if row.errors else ""
                extra = f" snoozes={row.metadata['snoozes']}" if row.metadata.get("snoozes") else ""
                click.echo(
                    f"demo: job {row.id} {row.kind}: {row.state.value} after "
                    f"{row.attempt} attempt(s){extra} {detail}".rstrip()
                )
        return counts
    finally:
        await driver.engine.dispose()


@click.command()
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="Use this database instead of an embedded one [env: DATABASE_URL].",
)
@click.option("--keep", is_flag=True, help="Leave the embedded PostgreSQL running; print its URL.")
@click.option(
    "--timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Give up waiting for jobs after this many seconds.",
)
@_one_line_errors
def demo(database_url: str | None, keep: bool, timeout: float) -> None:
    """Insert a mix of jobs (successes, retries, a snooze, a cancel, a scheduled job) and
    work them, showing jobs per state live."""
    if database_url:
        counts = asyncio.run(_run_demo(database_url, timeout))
    else:
        with _embedded_postgres(keep) as url:
            counts = asyncio.run(_run_demo(url, timeout))
            if keep:
                click.echo(f"demo: the embedded PostgreSQL keeps running at {url}")
    summary = ", ".join(f"{state.value}: {n}" for state, n in sorted(counts.items()))
    click.echo(f"demo: done. {summary}")
