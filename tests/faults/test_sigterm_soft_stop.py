"""D1 scenario 3: graceful SIGTERM with a soft-stop timeout (2 s), on each driver. Short jobs
running at the signal complete on attempt 1; long ones go back to `available` with their
attempt restored and no error, and a later worker completes them once; the process exits 0
within the timeout + 1 s, leaving no row `running` for that client."""

from __future__ import annotations

import time

import pytest
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn
from fault_helpers import wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

SOFT_STOP_TIMEOUT = 2.0
SHORT, LONG = 3, 3


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_sigterm_finishes_short_jobs_and_returns_long_ones(
    fault_db: FaultDb, spawn: Spawn, driver: str, figures: Figures
) -> None:
    worker = spawn(
        f"soft-{driver}", driver=driver, max_workers=10, soft_stop_timeout=SOFT_STOP_TIMEOUT
    )
    worker.wait_started()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    short = [r.job.id for r in client.insert_many([FaultArgs(ms=800)] * SHORT)]
    long = [r.job.id for r in client.insert_many([FaultArgs(ms=0, first_run_ms=60_000)] * LONG)]
    wait_for(
        lambda: fault_db.scalar("SELECT count(*) FROM {s}.fault_ledger") == SHORT + LONG,
        "every job to start",
        10,
    )

    asked = time.monotonic()
    worker.terminate()
    code = worker.proc.wait(SOFT_STOP_TIMEOUT + 10)
    exited_after = time.monotonic() - asked

    jobs = {job.id: job for job in client.job_list(river.JobListParams(ids=short + long))}
    stuck = fault_db.scalar(
        "SELECT count(*) FROM {s}.river_job WHERE state = 'running' AND :id = ANY(attempted_by)",
        id=worker.id,
    )
    figures(
        f"scenario 3 ({driver}): exit code {code} {exited_after:.2f} s after SIGTERM "
        f"(soft-stop timeout {SOFT_STOP_TIMEOUT} s); short jobs "
        f"{[(jobs[i].state.value, jobs[i].attempt) for i in short]}, long jobs "
        f"{[(jobs[i].state.value, jobs[i].attempt, len(jobs[i].errors)) for i in long]}"
    )
    assert code == 0
    assert exited_after < SOFT_STOP_TIMEOUT + 1
    assert stuck == 0
    for job_id in short:
        assert (jobs[job_id].state, jobs[job_id].attempt) == (river.JobState.COMPLETED, 1)
        assert jobs[job_id].errors == []
    for job_id in long:
        assert (jobs[job_id].state, jobs[job_id].attempt) == (river.JobState.AVAILABLE, 0)
        assert jobs[job_id].errors == []

    later = spawn(f"later-{driver}", driver=driver, max_workers=10)
    later.wait_started()
    wait_for(lambda: fault_db.count("completed") == SHORT + LONG, "the long jobs to complete", 10)
    for job in client.job_list(river.JobListParams(ids=long)):
        assert (job.state, job.attempt, job.errors) == (river.JobState.COMPLETED, 1, [])
        finished = fault_db.scalar(
            "SELECT count(*) FROM {s}.fault_ledger WHERE job_id = :id AND ended_at IS NOT NULL",
            id=job.id,
        )
        assert finished == 1
