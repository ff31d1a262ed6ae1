"""Insert throughput of river-queue next to pgqueuer's, measured in the same run.

    .venv/bin/python benchmarks/insert_bench.py [--reps 3] [--bulk 100000] [--chunk 10000]
                                                [--single 5000] [--peers "..."]

(a) bulk: `--bulk` no-op jobs inserted with `insert_many_fast`, `--chunk` per call (COPY, one
transaction per call); pgqueuer: its list-form `Queries.enqueue`, the same chunks.
(b) single: `--single` sequential `insert` calls, one transaction each; pgqueuer: scalar
`Queries.enqueue` (one autocommit statement each).

River runs as psycopg-sync (`Client` over an Engine), psycopg (`AsyncClient`) and asyncpg;
pgqueuer through `../shared/bench/peer_pgqueuer.py` in the bench venv (`bash
../shared/bench/setup_env.sh` once) with psycopg and asyncpg. Every measurement is a fresh
process that checkpoints and waits for a quiet machine first, exactly as the shared harness
does (`common.py`); peers run interleaved and the start order rotates each repetition. Prints
the median [min-max] per peer and the ratios of the targets; raw JSON lines go to `--out`.

Subcommands `setup`, `bulk` and `single` are one river measurement each (used by `run`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

BENCH_DIR = Path(
    os.environ.get("RIVER_PEER_BENCH_DIR", Path(__file__).parents[2] / "shared" / "bench")
)
BENCH_PY = (
    Path(os.environ.get("BENCH_VENV", Path.home() / ".cache/river-bench/venv")) / "bin/python"
)
sys.path.insert(0, str(BENCH_DIR))
import common  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

import river_core as river  # noqa: E402
from river_core import migrate  # noqa: E402

DB = os.environ.get("BENCH_DB_RIVER_INSERT", "bench_river_insert")
RIVER_DRIVERS = ("psycopg-sync", "psycopg", "asyncpg")
DEFAULT_PEERS = "river-psycopg-sync river-psycopg river-asyncpg pgqueuer-psycopg pgqueuer-asyncpg"


@dataclass
class NoopArgs:
    kind: ClassVar[str] = "noop"


# -- one river measurement per process -----------------------------------------------------


def sa_url(dbapi: str) -> str:
    return f"postgresql+{dbapi}://" + common.dsn(DB).split("://", 1)[1]


def make_client(driver: str) -> tuple[Any, river.Client | river.AsyncClient]:
    """(engine, client) of one variant on the benchmark database."""
    if driver == "psycopg-sync":
        from river_driver_psycopg import PsycopgDriver

        engine = sa.create_engine(sa_url("psycopg"))
        return engine, river.Client(PsycopgDriver(engine))
    engine = create_async_engine(sa_url(driver))
    if driver == "asyncpg":
        from river_driver_asyncpg import AsyncpgDriver

        return engine, river.AsyncClient(AsyncpgDriver(engine))
    from river_driver_psycopg import PsycopgDriver

    return engine, river.AsyncClient(PsycopgDriver(engine))


async def call(result: Any) -> Any:
    """Await `result` if the client is async."""
    return await result if asyncio.iscoroutine(result) else result


def count_jobs() -> int:
    return int(
        common.admin_sql(DB, "SELECT count(*) FROM river_job WHERE state = 'available'")[0][0]
    )


def reset() -> None:
    common.admin_sql(DB, "TRUNCATE river_job RESTART IDENTITY")
    common.quiesce(DB, ["river_job"])


def record(args: argparse.Namespace, metric: str, res: dict[str, Any]) -> dict[str, Any]:
    return {
        "peer": f"river-{args.driver}",
        "driver": args.driver,
        "metric": metric,
        "n": args.n,
        "rep": args.rep,
        **res,
        "jobs_per_s": args.n / res["wall_s"],
    }


async def cmd_bulk(args: argparse.Namespace) -> None:
    engine, client = make_client(args.driver)
    await call(client.insert(NoopArgs()))  # connect first, as pgqueuer's peer does
    reset()
    quiet = common.wait_quiet()
    meter = common.CpuMeter(DB).start()
    for i in range(0, args.n, args.chunk):
        jobs = [NoopArgs() for _ in range(min(args.chunk, args.n - i))]
        await call(client.insert_many_fast(jobs))
    res = meter.stop()
    await call(engine.dispose())
    assert count_jobs() == args.n
    common.emit(record(args, "bulk_enqueue", res) | {"chunk": args.chunk, "pre_busy_pct": quiet})


async def cmd_single(args: argparse.Namespace) -> None:
    engine, client = make_client(args.driver)
    await call(client.insert(NoopArgs()))  # warm-up, not timed (as pgqueuer's peer)
    reset()
    quiet = common.wait_quiet()
    meter = common.CpuMeter(DB).start()
    for _ in range(args.n):
        await call(client.insert(NoopArgs()))
    res = meter.stop()
    await call(engine.dispose())
    assert count_jobs() == args.n
    common.emit(record(args, "single_enqueue", res) | {"pre_busy_pct": quiet})


def cmd_setup(args: argparse.Namespace) -> None:
    """Create the benchmark database if needed and migrate River's schema afresh."""
    if not common.admin_sql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DB}'"):
        common.admin_sql("postgres", f'CREATE DATABASE "{DB}"')
    common.admin_sql(DB, "DROP SCHEMA IF EXISTS public CASCADE", "CREATE SCHEMA public")
    engine = sa.create_engine(sa_url("psycopg"))
    with engine.connect() as conn:
        migrate.upgrade(conn)
    engine.dispose()


# -- the interleaved run -------------------------------------------------------------------


def peer_command(peer: str, metric: str, args: argparse.Namespace, rep: int) -> list[str]:
    """The command measuring `metric` ("bulk" or "single") for `peer`."""
    n = args.bulk if metric == "bulk" else args.single
    common_args = ["--n", str(n), "--rep", str(rep)]
    if metric == "bulk":
        common_args += ["--chunk", str(args.chunk)]
    if peer.startswith("river-"):
        driver = peer.removeprefix("river-")
        return [sys.executable, __file__, metric, "--driver", driver, *common_args]
    driver = peer.removeprefix("pgqueuer-")
    script = str(BENCH_DIR / "peer_pgqueuer.py")
    return [str(BENCH_PY), script, metric, "--driver", driver, *common_args]


def reset_command(peer: str) -> list[str] | None:
    if peer.startswith("pgqueuer-"):
        return [str(BENCH_PY), str(BENCH_DIR / "peer_pgqueuer.py"), "reset"]
    return None  # river measurements truncate their own table


def run(args: argparse.Namespace) -> None:
    peers = args.peers.split()
    out = Path(
        args.out
        or Path.home() / ".cache/river-bench/results" / time.strftime("insert-%Y%m%dT%H%M%S.jsonl")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    common.log(f"raw results -> {out}")
    subprocess.run([sys.executable, __file__, "setup"], check=True)
    if any(p.startswith("pgqueuer-") for p in peers):
        subprocess.run([str(BENCH_PY), str(BENCH_DIR / "peer_pgqueuer.py"), "setup"], check=True)
    results: list[dict[str, Any]] = []
    for rep in range(1, args.reps + 1):
        order = peers[rep - 1 :] + peers[: rep - 1]
        for metric in ("bulk", "single"):
            for peer in order:
                reset = reset_command(peer)
                if reset:
                    subprocess.run(reset, check=True, capture_output=True)
                done = subprocess.run(
                    peer_command(peer, metric, args, rep), capture_output=True, text=True
                )
                if done.returncode != 0:
                    common.log(f"{peer} {metric} rep={rep} FAILED:\n{done.stderr[-2000:]}")
                    continue
                line = json.loads(done.stdout.strip().splitlines()[-1]) | {"peer": peer}
                results.append(line)
                with out.open("a") as fh:
                    fh.write(json.dumps(line) + "\n")
                common.log(
                    f"rep {rep} {metric:<6} {peer:<20} {line['jobs_per_s']:>10,.0f} jobs/s"
                    f"  (machine busy before: {line.get('pre_busy_pct')}%)"
                )
    summarise(results, args)


def summarise(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    by: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in results:
        by[(r["metric"], r["peer"])].append(r["jobs_per_s"])
    medians = {key: statistics.median(values) for key, values in by.items()}
    print(f"\nmedian [min-max] jobs/s of {args.reps} interleaved runs")
    for metric, label in (
        ("bulk_enqueue", f"(a) bulk {args.bulk:,} in chunks of {args.chunk:,}"),
        ("single_enqueue", f"(b) single, {args.single:,} one per transaction"),
    ):
        print(label)
        for (m, peer), values in sorted(by.items()):
            if m == metric:
                spread = f"[{min(values):,.0f}-{max(values):,.0f}]"
                print(f"  {peer:<20} {medians[m, peer]:>10,.0f}  {spread}")
    base_bulk = medians.get(("bulk_enqueue", "pgqueuer-psycopg"))
    base_single = medians.get(("single_enqueue", "pgqueuer-psycopg"))
    if base_bulk and base_single:
        print("ratios to pgqueuer-psycopg (targets: bulk >= 2.0, single >= 1.0)")
        for (m, peer), median in sorted(medians.items()):
            if peer.startswith("river-"):
                base = base_bulk if m == "bulk_enqueue" else base_single
                print(f"  {m:<15} {peer:<20} {median / base:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("cmd", nargs="?", default="run", choices=["run", "setup", "bulk", "single"])
    parser.add_argument("--driver", choices=RIVER_DRIVERS, default="psycopg")
    parser.add_argument("--n", type=int, default=0, help="jobs of one measurement")
    parser.add_argument("--rep", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=5_000)
    parser.add_argument("--peers", default=DEFAULT_PEERS)
    parser.add_argument("--out", default=None, help="raw JSON lines (default: a new file)")
    args = parser.parse_args()
    if args.cmd == "run":
        run(args)
    elif args.cmd == "setup":
        cmd_setup(args)
    else:
        asyncio.run(globals()[f"cmd_{args.cmd}"](args))


if __name__ == "__main__":
    main()
