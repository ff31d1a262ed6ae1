"""Failover time after the leader is killed (SIGKILL): three client processes elect a leader,
the leader is killed, and the time until another one leads is measured.

    python benchmarks/failover.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                  [--runs 5] [--intervals short|river]

`short`: a 1.5 s lease renewed every 0.5 s (the tests' intervals); `river`: River's defaults, a
15 s lease renewed every 5 s. The clients are tests/maintenance/maintenance_process.py, in a
scratch schema (created, migrated and dropped here). Prints each run and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from river_core import migrate

CLIENT = Path(__file__).parent.parent / "tests" / "maintenance" / "maintenance_process.py"


def events(log: Path, kind: str) -> list[dict[str, Any]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [e for e in (json.loads(x) for x in lines if x.endswith("}")) if e["event"] == kind]


def wait(check: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)
    return result


def one_run(url: str, schema: str, intervals: str, workdir: Path, run: int) -> float:
    """Seconds from the leader's SIGKILL to another client's election."""
    logs = [workdir / f"run{run}-c{i}.jsonl" for i in range(3)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(CLIENT),
                "--url",
                url,
                "--schema",
                schema,
                "--id",
                f"run{run}-c{i}",
                "--log",
                str(log),
                "--intervals",
                intervals,
            ]
        )
        for i, log in enumerate(logs)
    ]
    try:
        for log in logs:
            wait(lambda log=log: events(log, "ready"), "ready", 60)
        leader = wait(
            lambda: [i for i, log in enumerate(logs) if events(log, "gained")], "a leader", 60
        )[0]
        time.sleep(1.0)
        killed_at = time.time()
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait()
        others = [log for i, log in enumerate(logs) if i != leader]
        gained = wait(
            lambda: next(
                (events(log, "gained")[0]["at"] for log in others if events(log, "gained")), None
            ),
            "a new leader",
            120,
        )
        return float(gained - killed_at)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--intervals", choices=("short", "river"), default="short")
    args = parser.parse_args()

    engine = sa.create_engine(make_url(args.url).set(drivername="postgresql+psycopg"))
    schema = "bench_failover_" + uuid.uuid4().hex[:8]
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    try:
        with engine.connect() as conn:
            migrate.upgrade(conn, schema=schema)
        times = []
        with tempfile.TemporaryDirectory() as workdir:
            for run in range(args.runs):
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'TRUNCATE "{schema}".river_leader')
                seconds = one_run(args.url, schema, args.intervals, Path(workdir), run)
                times.append(seconds)
                print(f"run {run + 1}: failover {seconds:.2f}s", flush=True)
        print(
            f"{args.intervals} intervals: median failover {statistics.median(times):.2f}s "
            f"over {len(times)} run(s)"
        )
    finally:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


if __name__ == "__main__":
    main()
