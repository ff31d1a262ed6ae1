"""D1 scenario 2: repeated SIGKILL under load. Four worker processes (two on asyncpg, two on
psycopg) work 5,000 jobs of 50-200 ms; every 5 s a random one is killed and a new process
takes its place, 10 times. No job is lost, no job runs on two workers at once (the ledger's
runs of a job never overlap), and every job run twice was rescued or interrupted."""

from __future__ import annotations

import random
import time
from datetime import datetime

from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn, WorkerProcess
from fault_helpers import Run, overlapping_runs, wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

JOBS = 5_000
PROCESSES = 4
KILLS = 10
KILL_EVERY = 5.0
# Jobs are short: a 2 s timeout lets the rescuer take a killed worker's jobs after 3 s.
TIMINGS = {
    "job_timeout": 2.0,
    "rescue_stuck_jobs_after": 3.0,
    "rescuer_interval": 0.5,
    "scheduler_interval": 0.5,
    "leader_elect_interval": 0.5,
    "leader_ttl_padding": 1.0,
    "fetch_poll_interval": 0.5,
    "retry_seconds": 0.5,
    # River's 100 ms cooldown after a fetch that filled every free slot (here, nearly every
    # fetch: slots free up one by one) would idle a 3-slot worker for much of a 125 ms job.
    "fetch_cooldown": 0.02,
}


def test_sigkill_every_5s_loses_nothing_and_never_runs_a_job_twice_at_once(
    fault_db: FaultDb, spawn: Spawn, figures: Figures
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)

    def start(slot: int, generation: int) -> WorkerProcess:
        driver = "asyncpg" if slot % 2 == 0 else "psycopg"
        return spawn(f"w{slot}-{generation}", driver=driver, max_workers=3, **TIMINGS)

    workers = [start(slot, 0) for slot in range(PROCESSES)]
    for worker in workers:
        worker.wait_started()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    client.insert_many_fast([FaultArgs(ms=rng.randrange(50, 201)) for _ in range(JOBS)])
    started = time.monotonic()

    killed_at: dict[str, datetime] = {}
    busy_at_kill: list[int] = []
    for kill in range(1, KILLS + 1):
        time.sleep(max(0.0, started + kill * KILL_EVERY - time.monotonic()))
        slot = rng.randrange(PROCESSES)
        victim = workers[slot]
        busy_at_kill.append(
            fault_db.scalar(
                "SELECT count(*) FROM {s}.river_job WHERE state = 'running' "
                "AND attempted_by[array_length(attempted_by, 1)] = :id",
                id=victim.id,
            )
        )
        victim.kill()
        killed_at[victim.id] = fault_db.scalar("SELECT clock_timestamp()")
        workers[slot] = start(slot, kill)
    last_kill = time.monotonic()

    wait_for(
        lambda: fault_db.count("completed") == JOBS, "every job to complete", 120, interval=0.2
    )
    drained = time.monotonic() - last_kill
    assert all(worker.alive() for worker in workers)

    runs: list[Run] = [
        (int(job_id), str(client_id), started_at, ended_at)
        for job_id, client_id, started_at, ended_at in fault_db.rows(
            "SELECT job_id, client, started_at, ended_at FROM {s}.fault_ledger ORDER BY id"
        )
    ]
    runs_by_job: dict[int, int] = {}
    for job_id, *_ in runs:
        runs_by_job[job_id] = runs_by_job.get(job_id, 0) + 1
    twice = [job_id for job_id, count in runs_by_job.items() if count > 1]
    explained = {
        int(job_id)
        for (job_id,) in fault_db.rows(
            "SELECT id FROM {s}.river_job WHERE id = ANY(:ids) AND ("
            "COALESCE((metadata->>'river:rescue_count')::int, 0) >= 1 OR EXISTS ("
            "SELECT 1 FROM {s}.fault_ledger l WHERE l.job_id = river_job.id "
            "AND l.ended_at IS NULL))",
            ids=twice,
        )
    }
    rescued = fault_db.scalar(
        "SELECT count(*) FROM {s}.river_job WHERE metadata ? 'river:rescue_count'"
    )
    figures(
        f"scenario 2 (seed {seed}): {JOBS} jobs, {KILLS} kills (running jobs of the victim: "
        f"{busy_at_kill}), {len(runs)} runs, {len(twice)} jobs run more than once, "
        f"{rescued} rescued, all completed {drained:.1f} s after the last kill"
    )
    assert fault_db.states() == {"completed": JOBS}  # nothing lost
    assert len(runs_by_job) == JOBS  # every job ran
    assert overlapping_runs(runs, killed_at) == []
    assert sorted(explained) == sorted(twice), "a job ran twice without a rescue or interruption"
    unfinished = fault_db.scalar(
        "SELECT count(DISTINCT job_id) FROM {s}.fault_ledger l WHERE NOT EXISTS ("
        "SELECT 1 FROM {s}.fault_ledger f WHERE f.job_id = l.job_id AND f.ended_at IS NOT NULL)"
    )
    assert unfinished == 0, "a completed job has no run that finished"
