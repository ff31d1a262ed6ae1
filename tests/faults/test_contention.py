"""D1 scenario 8: many clients contending. Eight worker processes of 8 workers each (half on
asyncpg, half on psycopg) work 20,000 jobs of 0-5 ms: every job runs exactly once (attempt 1,
one `attempted_by` entry, one run in the ledger). Eight processes racing 1,000 identical
unique inserts leave exactly one row per unique key, each reported inserted by one racer."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

from fault_app import FaultArgs
from fault_env import HERE, FaultDb, Figures, Spawn
from fault_helpers import wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

PROCESSES = 8
WORKERS = 8
JOBS = 20_000
KEYS = 1_000


def test_eight_processes_work_every_job_exactly_once(
    fault_db: FaultDb, spawn: Spawn, figures: Figures
) -> None:
    workers = [
        spawn(
            f"busy-{n}",
            driver="asyncpg" if n % 2 == 0 else "psycopg",
            max_workers=WORKERS,
            # River's 100 ms cooldown after a fetch that filled every slot would cap each
            # process at 80 jobs/s: contention needs processes that come back for more at once.
            fetch_cooldown=0.01,
        )
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.wait_started()
    rng = random.Random()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    client.insert_many_fast([FaultArgs(ms=rng.randrange(0, 6)) for _ in range(JOBS)])
    began = time.monotonic()
    wait_for(
        lambda: fault_db.count("completed") == JOBS, "every job to complete", 180, interval=0.2
    )
    took = time.monotonic() - began

    summary = fault_db.rows(
        "SELECT attempt, array_length(attempted_by, 1), state::text, count(*) "
        "FROM {s}.river_job GROUP BY 1, 2, 3"
    )
    runs = fault_db.rows(
        "SELECT runs, count(*) FROM (SELECT count(*) AS runs FROM {s}.fault_ledger "
        "GROUP BY job_id) r GROUP BY 1"
    )
    share: dict[str, int] = {
        str(client): int(count)
        for client, count in fault_db.rows(
            "SELECT attempted_by[1], count(*) FROM {s}.river_job GROUP BY 1 ORDER BY 1"
        )
    }
    figures(
        f"scenario 8: {PROCESSES} processes x {WORKERS} workers worked {JOBS} jobs in "
        f"{took:.1f} s ({JOBS / took:.0f} jobs/s); (attempt, attempted_by entries, state, "
        f"jobs): {summary}; (runs, jobs): {runs}; "
        f"jobs per process: {sorted(share.values())}"
    )
    assert summary == [(1, 1, "completed", JOBS)]
    assert runs == [(1, JOBS)]
    assert len(share) == PROCESSES
    assert all(worker.alive() for worker in workers)


def test_eight_processes_racing_unique_inserts_leave_one_row_per_key(
    fault_db: FaultDb, figures: Figures
) -> None:
    start_at = time.time() + 5.0  # every racer imported, connected and waiting
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "unique_race.py",
                fault_db.url,
                fault_db.schema,
                "asyncpg" if n % 2 == 0 else "psycopg",
                str(start_at),
                str(n),
            ],
            cwd=HERE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    results = []
    for racer in racers:
        out, _ = racer.communicate(timeout=120)
        assert racer.returncode == 0
        results.append(json.loads(out))
    rows, keys = fault_db.rows(
        "SELECT count(*), count(DISTINCT unique_key) FROM {s}.river_job WHERE queue = 'unique'"
    )[0]
    inserted = [r["inserted"] for r in results]
    figures(
        f"scenario 8: {PROCESSES} racers x {KEYS} unique inserts -> {rows} rows, {keys} "
        f"unique keys; inserted per racer {inserted} (sum {sum(inserted)}), skipped "
        f"{[r['skipped'] for r in results]}"
    )
    assert rows == keys == KEYS
    assert sum(inserted) == KEYS
    assert all(r["inserted"] + r["skipped"] == KEYS for r in results)
