"""river-queue as a peer of the shared job-queue benchmark (../shared/bench), public API only.

Subcommands print one JSON line each (see ../shared/bench/common.py):
  setup                 create the database if needed, drop and re-migrate River's schema
  reset                 truncate river_job, CHECKPOINT
  bulk    --n N --chunk C   insert N no-op jobs with insert_many_fast, C per call
  single  --n N             N sequential `insert` calls (one transaction each)
  process --n N             burn down N queued jobs with one AsyncClient; checks every job
                            is completed with attempt 1 and one attempted_by entry
  latency --n N --rate R    idle listening worker; a producer subprocess inserts N jobs at
                            R jobs/s (one per transaction); insert -> work start percentiles
  produce --n N --rate R    (internal: the producer for `latency`)

--driver asyncpg|psycopg. Worker settings: --max-workers (default 2,000), --fetch-cooldown
(default 0.002 s) and --fetch-poll-interval (default 0.02 s): River's own bench settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

DEFAULT_BENCH_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench"
BENCH_DIR = Path(os.environ.get("RIVER_PEER_BENCH_DIR", DEFAULT_BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR))
import common  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

import river_core as river  # noqa: E402
from river_core import migrate  # noqa: E402

PEER = "river"
DB = os.environ.get("BENCH_DB_RIVER", "bench_river")
LATENCIES: list[float] = []


@dataclass
class NoopArgs:
    kind: ClassVar[str] = "noop"


@dataclass
class ProbeArgs:
    sent_at: float
    kind: ClassVar[str] = "probe"


class NoopWorker(river.Worker[NoopArgs]):
    def __init__(self, target: int = 0) -> None:
        self.target = target
        self.count = 0
        self.done = asyncio.Event()

    async def work(self, job: river.Job[NoopArgs]) -> None:
        self.count += 1
        if self.count == self.target:
            self.done.set()


class ProbeWorker(river.Worker[ProbeArgs]):
    def __init__(self, target: int) -> None:
        self.target = target
        self.done = asyncio.Event()

    async def work(self, job: river.Job[ProbeArgs]) -> None:
        LATENCIES.append(time.time() - job.args.sent_at)
        if len(LATENCIES) >= self.target:
            self.done.set()


def sa_url(driver: str) -> str:
    return "postgresql+" + driver + "://" + common.dsn(DB).split("://", 1)[1]


def make_async_driver(args: argparse.Namespace) -> tuple[AsyncEngine, Any]:
    engine = create_async_engine(sa_url(args.driver), pool_size=10, max_overflow=5)
    if args.driver == "asyncpg":
        from river_driver_asyncpg import AsyncpgDriver

        return engine, AsyncpgDriver(engine)
    from river_driver_psycopg import PsycopgDriver

    return engine, PsycopgDriver(engine)


def worker_config(args: argparse.Namespace, workers: river.Workers) -> river.Config:
    return river.Config(
        queues={"default": river.QueueConfig(max_workers=args.max_workers)},
        workers=workers,
        fetch_cooldown=args.fetch_cooldown,
        fetch_poll_interval=args.fetch_poll_interval,
    )


def peer_name(args: argparse.Namespace) -> str:
    return f"{PEER}-{args.driver}"


def base_record(args: argparse.Namespace, metric: str) -> dict[str, Any]:
    return {
        "peer": peer_name(args),
        "peer_version": "0.1.0",
        "driver": args.driver,
        "metric": metric,
        "n": args.n,
        "rep": args.rep,
    }


def count_jobs(where: str = "") -> int:
    return int(common.admin_sql(DB, f"SELECT count(*) FROM river_job {where}")[0][0])


def cmd_setup(args: argparse.Namespace) -> None:
    admin = common.dsn("postgres")
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB}"')
    common.admin_sql(DB, "DROP SCHEMA IF EXISTS public CASCADE", "CREATE SCHEMA public")
    engine = sa.create_engine(sa_url("psycopg"))
    with engine.connect() as conn:
        migrate.upgrade(conn)
    engine.dispose()
    common.log(f"{PEER}: schema migrated")


def cmd_reset(args: argparse.Namespace) -> None:
    common.admin_sql(DB, "TRUNCATE river_job RESTART IDENTITY")
    common.quiesce(DB, ["river_job"])


async def cmd_bulk(args: argparse.Namespace) -> None:
    engine, driver = make_async_driver(args)
    client = river.AsyncClient(driver)
    await client.insert(NoopArgs())  # warm-up: connection and statement caches
    common.admin_sql(DB, "TRUNCATE river_job RESTART IDENTITY")
    common.quiesce(DB, ["river_job"])
    quiet = common.wait_quiet()
    meter = common.CpuMeter(DB).start()
    for i in range(0, args.n, args.chunk):
        await client.insert_many_fast([NoopArgs() for _ in range(min(args.chunk, args.n - i))])
    res = meter.stop()
    await engine.dispose()
    assert count_jobs("WHERE state = 'available'") == args.n
    common.emit(
        base_record(args, "bulk_enqueue")
        | res
        | {"chunk": args.chunk, "jobs_per_s": args.n / res["wall_s"], "pre_busy_pct": quiet}
    )


async def cmd_single(args: argparse.Namespace) -> None:
    engine, driver = make_async_driver(args)
    client = river.AsyncClient(driver)
    await client.insert(NoopArgs())
    common.admin_sql(DB, "TRUNCATE river_job RESTART IDENTITY")
    common.quiesce(DB, ["river_job"])
    quiet = common.wait_quiet()
    meter = common.CpuMeter(DB).start()
    for _ in range(args.n):
        await client.insert(NoopArgs())
    res = meter.stop()
    await engine.dispose()
    assert count_jobs() == args.n
    common.emit(
        base_record(args, "single_enqueue")
        | res
        | {"jobs_per_s": args.n / res["wall_s"], "pre_busy_pct": quiet}
    )


async def cmd_process(args: argparse.Namespace) -> None:
    assert count_jobs("WHERE state = 'available'") == args.n, "run bulk first"
    engine, driver = make_async_driver(args)
    noop = NoopWorker(args.n)
    workers = river.Workers()
    workers.add(noop)
    client = river.AsyncClient(driver, worker_config(args, workers))
    common.quiesce(DB, ["river_job"], analyze=True)
    quiet = common.wait_quiet()
    rss_before = common.current_rss_mb()
    meter = common.CpuMeter(DB).start()
    await client.start()
    await noop.done.wait()
    await client.stop()  # a soft stop writes every outcome: part of the timed phase
    res = meter.stop()
    await engine.dispose()
    done = count_jobs("WHERE state = 'completed' AND attempt = 1 AND cardinality(attempted_by) = 1")
    assert done == args.n, f"{done} of {args.n} jobs completed once with attempt 1"
    common.emit(
        base_record(args, "process")
        | res
        | {
            "jobs_per_s": args.n / res["wall_s"],
            "max_workers": args.max_workers,
            "fetch_cooldown": args.fetch_cooldown,
            "rss_before_mb": round(rss_before, 1),
            "peak_rss_mb": round(common.peak_rss_mb(), 1),
            "pre_busy_pct": quiet,
        }
    )


async def cmd_latency(args: argparse.Namespace) -> None:
    engine, driver = make_async_driver(args)
    probe = ProbeWorker(args.n)
    workers = river.Workers()
    workers.add(probe)
    config = river.Config(
        queues={"default": river.QueueConfig(max_workers=args.max_workers)}, workers=workers
    )
    client = river.AsyncClient(driver, config)
    await client.start()
    await asyncio.sleep(2.0)  # worker up, idle on LISTEN
    producer = await asyncio.create_subprocess_exec(
        sys.executable,
        os.path.abspath(__file__),
        "produce",
        "--driver",
        args.driver,
        "--n",
        str(args.n),
        "--rate",
        str(args.rate),
    )
    try:
        await asyncio.wait_for(probe.done.wait(), timeout=args.n / args.rate + 60)
    finally:
        await producer.wait()
        await client.stop()
        await engine.dispose()
    lat = sorted(LATENCIES)
    common.emit(
        base_record(args, "latency")
        | {
            "rate": args.rate,
            "samples": len(lat),
            "p50_ms": common.percentile(lat, 50) * 1000,
            "p90_ms": common.percentile(lat, 90) * 1000,
            "p99_ms": common.percentile(lat, 99) * 1000,
            "max_ms": lat[-1] * 1000,
        }
    )


async def cmd_produce(args: argparse.Namespace) -> None:
    engine, driver = make_async_driver(args)
    client = river.AsyncClient(driver)
    t0 = time.monotonic()
    for i in range(args.n):
        delay = t0 + i / args.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await client.insert(ProbeArgs(sent_at=time.time()))
    await engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "cmd", choices=["setup", "reset", "bulk", "single", "process", "latency", "produce"]
    )
    ap.add_argument("--driver", choices=["asyncpg", "psycopg"], default="asyncpg")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--rep", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=20, help="accepted for the harness")
    ap.add_argument("--max-workers", type=int, default=2_000)
    ap.add_argument("--fetch-cooldown", type=float, default=0.002)
    ap.add_argument("--fetch-poll-interval", type=float, default=0.02)
    ap.add_argument("--rate", type=float, default=50.0)
    args = ap.parse_args()
    if args.cmd in ("setup", "reset"):
        globals()[f"cmd_{args.cmd}"](args)
        return
    asyncio.run(globals()[f"cmd_{args.cmd}"](args))


if __name__ == "__main__":
    main()
