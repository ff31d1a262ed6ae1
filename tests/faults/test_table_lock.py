"""D1 scenario 9: `LOCK TABLE river_job IN ACCESS EXCLUSIVE MODE` held for 15 s while two
worker processes (asyncpg, psycopg; 1 s poll interval) have jobs finishing and more waiting.
Their fetches and completions time out with warnings instead of hanging on the lock; work
resumes within one poll interval of the release; every job completes on attempt 1; and the
leader's maintenance, whose calls outlasted the lease they started with, lives on (a job
scheduled afterwards runs)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn
from fault_helpers import wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

LOCK_HELD = 15.0
POLL = 1.0
SLOTS = 4
FIRST, THEN = 2 * SLOTS, 20
# A short lease (3 s) and scheduler interval: every maintenance call of the leader outlasts
# the lease it started with while the table is locked.
TIMINGS = {"leader_elect_interval": 1.0, "leader_ttl_padding": 2.0, "scheduler_interval": 1.0}


def test_table_lock_calls_time_out_and_work_resumes(
    fault_db: FaultDb, spawn: Spawn, figures: Figures
) -> None:
    workers = [
        spawn(
            f"locked-{driver}",
            driver=driver,
            max_workers=SLOTS,
            fetch_poll_interval=POLL,
            **TIMINGS,
        )
        for driver in ("asyncpg", "psycopg")
    ]
    for worker in workers:
        worker.wait_started()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    client.insert_many([FaultArgs(ms=1500)] * FIRST)
    wait_for(
        lambda: fault_db.scalar("SELECT count(*) FROM {s}.fault_ledger") == FIRST,
        "the first jobs to start",
        10,
    )
    client.insert_many([FaultArgs(ms=200)] * THEN)

    waiting: list[int] = []
    with fault_db.engine.connect() as conn:
        conn.execute(sa.text(f"LOCK TABLE {fault_db.schema}.river_job IN ACCESS EXCLUSIVE MODE"))
        locked_at = time.monotonic()
        while time.monotonic() < locked_at + LOCK_HELD:
            waiting.append(
                fault_db.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
            time.sleep(0.5)
        released_at = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        conn.commit()

    wait_for(lambda: fault_db.count("completed") == FIRST + THEN, "every job to complete", 30)
    # The leader's maintenance lives on: the scheduler makes a job due in 1 s available.
    due = datetime.now(UTC) + timedelta(seconds=1)
    scheduled = client.insert(FaultArgs(ms=0), river.InsertOpts(scheduled_at=due)).job.id
    wait_for(
        lambda: fault_db.count_of([scheduled], "completed"),
        "the scheduled job to complete",
        10,
    )
    scheduled_late = fault_db.scalar(
        "SELECT extract(epoch FROM attempted_at - scheduled_at) FROM {s}.river_job WHERE id = :id",
        id=scheduled,
    )
    resumed = fault_db.scalar(
        "SELECT extract(epoch FROM min(started_at) - :at) FROM {s}.fault_ledger "
        "WHERE started_at > :at",
        at=released_at,
    )
    timeouts = {w.id: [line.split(": ", 1)[1] for line in w.warnings("timed out")] for w in workers}
    rows = client.job_list(river.JobListParams(max=FIRST + THEN + 1))
    figures(
        f"scenario 9: lock held {LOCK_HELD:.0f} s; backends waiting on it (sampled every "
        f"0.5 s): max {max(waiting)}, last {waiting[-1]}; timeout warnings per process "
        f"{ {k: len(v) for k, v in timeouts.items()} } e.g. {next(iter(timeouts.values()))[:2]}; "
        f"work resumed {float(resumed) * 1000:.0f} ms after the release (poll {POLL:.0f} s); a job "
        f"scheduled afterwards started {float(scheduled_late):.2f} s after its time"
    )
    assert all(timeouts.values()), "a process did not warn that its calls timed out"
    assert float(resumed) < POLL
    assert {(r.state, r.attempt, len(r.errors)) for r in rows} == {(river.JobState.COMPLETED, 1, 0)}
    assert all(worker.alive() for worker in workers)
