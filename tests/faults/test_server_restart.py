"""D1 scenario 4: PostgreSQL restarted under load, fast and immediate (a crash). Two worker
processes (asyncpg, psycopg) poll only every 60 s, so they depend on their listeners: no
process exits, every job completes within the restart's duration + 30 s, and afterwards a job
inserted with that 60 s poll interval starts within 1 s (notifications work again)."""

from __future__ import annotations

import random
import time

import pytest
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn
from fault_helpers import wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

JOBS = 2_000
RECOVERY_BOUND = 30.0
# A fetch whose result the crash swallowed (committed, never received) leaves its jobs
# `running` until the rescuer takes them: after 10 s here (River's default is an hour).
TIMINGS = {
    "fetch_poll_interval": 60.0,
    "job_timeout": 5.0,
    "rescue_stuck_jobs_after": 10.0,
    "rescuer_interval": 1.0,
}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_under_load_loses_nothing_and_notifications_resume(
    fault_db: FaultDb, spawn: Spawn, mode: str, figures: Figures
) -> None:
    workers = [
        spawn(f"restart-{mode}-{driver}", driver=driver, max_workers=10, **TIMINGS)
        for driver in ("asyncpg", "psycopg")
    ]
    for worker in workers:
        worker.wait_started()
    rng = random.Random()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    client.insert_many_fast(
        [FaultArgs(ms=rng.randrange(20, 101), ledger=False) for _ in range(JOBS)]
    )
    wait_for(lambda: fault_db.count("completed") >= JOBS // 4, "a quarter of the jobs", 30)

    restart_began = time.monotonic()
    left_at_restart = JOBS - fault_db.count("completed")
    restart_took = fault_db.cluster.restart(mode)
    completed_at_restart = fault_db.count("completed")
    wait_for(
        lambda: fault_db.count("completed") > completed_at_restart,
        "a job to complete after the restart",
        RECOVERY_BOUND,
        interval=0.02,
    )
    resumed = time.monotonic() - restart_began - restart_took
    deadline = restart_began + restart_took + RECOVERY_BOUND
    wait_for(
        lambda: fault_db.count("completed") == JOBS,
        "every job to complete",
        deadline - time.monotonic(),
        interval=0.1,
    )
    all_done = time.monotonic() - restart_began
    assert all_done <= restart_took + RECOVERY_BOUND
    assert all(worker.alive() for worker in workers), "a worker process exited"

    rescued = fault_db.scalar(
        "SELECT count(*) FROM {s}.river_job WHERE metadata ? 'river:rescue_count'"
    )
    probe = client.insert(FaultArgs(ms=0, ledger=False)).job.id
    latency = wait_for(lambda: fault_db.start_latency(probe), "the probe job to start", 10)
    figures(
        f"scenario 4 ({mode}): restart took {restart_took:.2f} s with {left_at_restart} of "
        f"{JOBS} jobs left; completions resumed {resumed:.2f} s after the server was back, "
        f"all completed {all_done:.2f} s after the restart began ({rescued} rescued); a job "
        f"inserted afterwards started in {latency * 1000:.0f} ms (poll 60 s)"
    )
    wait_for(lambda: fault_db.count("completed") == JOBS + 1, "the probe job to complete", 10)
    assert fault_db.states() == {"completed": JOBS + 1}
    assert latency < 1.0
