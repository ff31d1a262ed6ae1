"""`river bench`: River's benchmark, burn-down (`-n N`) or continuous (`--duration D`)."""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import click

import river_core as river
from river_core.cli import database
from river_core.cli.migrate import _one_line_errors, _url
from river_core.runtime.db import run_in_tx

INSERT_CHUNK = 10_000
REPORT_EVERY = 2.0


@dataclass
class BenchArgs:
    """A no-op job."""

    kind: ClassVar[str] = "river_bench"


@dataclass
class Tally:
    """What the bench worker saw: jobs worked and pickup latencies (scheduled_at to start)."""

    worked: int = 0
    target: int = 0
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class BenchWorker(river.Worker[BenchArgs]):
    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def work(self, job: river.Job[BenchArgs]) -> None:
        tally = self.tally
        tally.latencies.append(time.time() - job.scheduled_at.timestamp())
        tally.worked += 1
        if tally.worked == tally.target:
            tally.done.set()


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Progress:
    """A line every 2 s; on a terminal, a live line in between."""

    def __init__(self, tally: Tally, quiet: bool) -> None:
        self.tally = tally
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet
        self.started = time.monotonic()
        self._last_worked = 0
        self._last_report = self.started

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.25 if self.live else REPORT_EVERY)
            now = time.monotonic()
            if now - self._last_report >= REPORT_EVERY:
                rate = (self.tally.worked - self._last_worked) / (now - self._last_report)
                self._last_worked, self._last_report = self.tally.worked, now
                self._print(
                    f"bench: {now - self.started:6.1f}s  worked {self.tally.worked:>9,}"
                    f"  {rate:>9,.0f} jobs/s",
                    final=True,
                )
            elif self.live:
                self._print(
                    f"bench: {now - self.started:6.1f}s  worked {self.tally.worked:>9,}",
                    final=False,
                )

    def _print(self, text: str, *, final: bool) -> None:
        if self.quiet:
            return
        if self.live:
            sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


async def _insert_chunks(client: river.AsyncClient, count: int) -> None:
    for start in range(0, count, INSERT_CHUNK):
        await client.insert_many_fast([BenchArgs()] * min(INSERT_CHUNK, count - start))


async def _feed(
    client: river.AsyncClient, tally: Tally, rate: float | None, backlog: int, done: asyncio.Event
) -> None:
    """Continuous mode: keep `backlog` jobs queued, or insert at a fixed `rate` per second,
    until `done` is set (never cancelled mid-insert: a cancelled COPY spoils its connection)."""
    inserted = 0
    started = time.monotonic()
    while not done.is_set():
        if rate is None:
            missing = backlog - (inserted - tally.worked)
            if missing > 0:
                await _insert_chunks(client, missing)
                inserted += missing
            await asyncio.sleep(0.01)
        else:
            due = int((time.monotonic() - started) * rate) - inserted
            if due > 0:
                await _insert_chunks(client, due)
                inserted += due
            await asyncio.sleep(min(0.01, 1 / rate))


async def _bench(
    driver: Any,
    *,
    count: int | None,
    duration: float | None,
    rate: float | None,
    max_workers: int,
    fetch_cooldown: float,
    fetch_poll_interval: float,
    truncate: bool,
    quiet: bool,
) -> dict[str, Any]:
    tally = Tally()
    workers = river.Workers()
    workers.add(BenchWorker(tally))
    client = river.AsyncClient(
        driver,
        river.Config(
            queues={"default": river.QueueConfig(max_workers=max_workers)},
            workers=workers,
            fetch_cooldown=fetch_cooldown,
            fetch_poll_interval=fetch_poll_interval,
        ),
    )
    existing = await run_in_tx(driver, lambda ex: sum(ex.job_count_by_all_states().values()))
    if existing and not truncate:
        raise click.ClickException(
            f"the database holds {existing:,} jobs; bench truncates river_job: "
            "pass --truncate to allow it"
        )
    await run_in_tx(driver, lambda ex: ex.table_truncate(["river_job"]))
    mode = "burn_down" if count is not None else "continuous"
    if count is not None:
        await _insert_chunks(client, count)
        tally.target = count
    progress = Progress(tally, quiet)
    reporter = asyncio.create_task(progress.run())
    started = time.monotonic()
    await client.start()
    feeder = None
    feeding_done = asyncio.Event()
    try:
        if count is not None:
            await tally.done.wait()
        else:
            feeder = asyncio.create_task(_feed(client, tally, rate, max_workers * 4, feeding_done))
            await asyncio.sleep(duration or 0)
    finally:
        if feeder is not None:
            feeding_done.set()
            await asyncio.gather(feeder, return_exceptions=True)
        await client.stop()
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
    elapsed = time.monotonic() - started
    return {
        "mode": mode,
        "jobs": tally.worked,
        "seconds": round(elapsed, 3),
        "jobs_per_s": round(tally.worked / elapsed, 1),
        "latency_p50_ms": round(_percentile(tally.latencies, 50) * 1000, 2),
        "latency_p90_ms": round(_percentile(tally.latencies, 90) * 1000, 2),
        "latency_p99_ms": round(_percentile(tally.latencies, 99) * 1000, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "max_workers": max_workers,
        "rate": rate,
        "started_at": datetime.now(UTC).isoformat(),
    }


async def _run_bench(
    url: str, driver_name: str | None, schema: str | None, **kw: Any
) -> dict[str, Any]:
    driver = database.async_driver(url, driver_name, schema)
    try:
        result = await _bench(driver, **kw)
    finally:
        await driver.engine.dispose()
    result["driver"] = driver_name or driver.engine.dialect.driver
    return result


@click.command()
@click.option(
    "--database-url", envvar="DATABASE_URL", help="postgresql:// URL [env: DATABASE_URL]."
)
@click.option("--schema", default="", help="Schema of River's tables.")
@click.option(
    "--driver",
    "driver_name",
    type=click.Choice(["asyncpg", "psycopg"]),
    default=None,
    help="Driver (default: psycopg if installed, else asyncpg).",
)
@click.option(
    "-n",
    "--num-total-jobs",
    "count",
    type=click.IntRange(min=1),
    default=None,
    help="Burn-down: insert N jobs, then work them.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Continuous: work for D seconds, keeping the queue topped up.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Continuous: insert R jobs/s instead of saturating.",
)
@click.option("--max-workers", type=click.IntRange(1, 10_000), default=2_000, show_default=True)
@click.option("--fetch-cooldown", type=float, default=0.002, show_default=True)
@click.option("--fetch-poll-interval", type=float, default=0.02, show_default=True)
@click.option("--truncate", is_flag=True, help="Allow truncating a river_job that holds jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, no progress.")
@_one_line_errors
def bench(
    database_url: str | None,
    schema: str,
    driver_name: str | None,
    count: int | None,
    duration: float | None,
    rate: float | None,
    max_workers: int,
    fetch_cooldown: float,
    fetch_poll_interval: float,
    truncate: bool,
    as_json: bool,
) -> None:
    """Benchmark inserting and working no-op jobs (it truncates river_job)."""
    if (count is None) == (duration is None):
        raise click.UsageError("give exactly one of -n (burn-down) or --duration (continuous)")
    if rate is not None and duration is None:
        raise click.UsageError("--rate goes with --duration")
    result = asyncio.run(
        _run_bench(
            _url(database_url),
            driver_name,
            schema or None,
            count=count,
            duration=duration,
            rate=rate,
            max_workers=max_workers,
            fetch_cooldown=fetch_cooldown,
            fetch_poll_interval=fetch_poll_interval,
            truncate=truncate,
            quiet=as_json,
        )
    )
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(
        f"bench: {result['mode']}: {result['jobs']:,} jobs in {result['seconds']:.2f}s = "
        f"{result['jobs_per_s']:,.0f} jobs/s; pickup latency "
        f"p50 {result['latency_p50_ms']:.1f} ms, p90 {result['latency_p90_ms']:.1f} ms, "
        f"p99 {result['latency_p99_ms']:.1f} ms; "
        f"peak RSS {result['peak_rss_mb']:.0f} MB ({result['driver']})"
    )
