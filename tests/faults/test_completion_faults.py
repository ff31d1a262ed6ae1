"""D1 scenario 7: completion faults, on each driver. A trigger raises a serialization failure
once on running -> completed, then another session holds a job's row lock for 3 s while the
job finishes: the completer retries the one and waits out the other, and every job completes
on attempt 1 with no error."""

from __future__ import annotations

import time

import pytest
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn
from fault_helpers import wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

JOBS = 20
LOCK_HELD = 3.0

TRIGGER = """
CREATE SEQUENCE {s}.fault_once;
CREATE FUNCTION {s}.fault_serialization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('{s}.fault_once') = 1 THEN
        RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fault_serialization BEFORE UPDATE ON {s}.river_job FOR EACH ROW
    WHEN (OLD.state = 'running' AND NEW.state = 'completed')
    EXECUTE FUNCTION {s}.fault_serialization();
"""


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_serialization_failure_and_row_lock_on_completion(
    fault_db: FaultDb, spawn: Spawn, driver: str, figures: Figures
) -> None:
    fault_db.execute(TRIGGER)
    worker = spawn(f"completion-{driver}", driver=driver, max_workers=JOBS)
    worker.wait_started()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))

    jobs = [r.job.id for r in client.insert_many([FaultArgs(ms=50)] * JOBS)]
    wait_for(lambda: fault_db.count("completed") == JOBS, "the jobs to complete", 15)
    fired = fault_db.scalar("SELECT last_value FROM {s}.fault_once")
    retried = worker.warnings("injected serialization failure")

    locked = client.insert(FaultArgs(ms=300)).job.id
    wait_for(lambda: fault_db.count("running") == 1, "the job to run", 10)
    with fault_db.engine.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT 1 FROM {fault_db.schema}.river_job WHERE id = %(id)s FOR UPDATE",
            {"id": locked},
        )
        time.sleep(LOCK_HELD)
        assert fault_db.count("running") == 1  # its outcome waits for the lock
        conn.commit()
        released = time.monotonic()
    wait_for(lambda: fault_db.count("completed") == JOBS + 1, "the locked job to complete", 10)
    after_release = time.monotonic() - released

    rows = client.job_list(river.JobListParams(ids=[*jobs, locked]))
    figures(
        f"scenario 7 ({driver}): the trigger fired {fired} times (once failing), completer "
        f"warnings: {len(retried)}; a row lock held {LOCK_HELD:.0f} s -> the job completed "
        f"{after_release * 1000:.0f} ms after the release"
    )
    assert fired > JOBS  # the failing call, then every job's completion
    assert retried, "the completer did not report the serialization failure it retried"
    assert {(r.state, r.attempt, len(r.errors)) for r in rows} == {(river.JobState.COMPLETED, 1, 0)}


def test_a_completion_held_past_the_rescue_horizon_is_not_rescued(
    fault_db: FaultDb, spawn: Spawn, figures: Figures
) -> None:
    """A job's completion blocked by a row lock past `rescue_stuck_jobs_after`: the rescuer
    takes it for stuck and its write waits behind the completer's on the same lock; once
    released, the rescuer's re-check at write time sees the job completed and leaves it."""
    worker = spawn(
        "recheck",
        max_workers=2,
        job_timeout=0.5,
        rescue_stuck_jobs_after=1.0,
        rescuer_interval=0.2,
        leader_elect_interval=0.5,
        leader_ttl_padding=5.0,  # the rescuer's blocked write outlives the lock
    )
    worker.wait_started()
    wait_for(lambda: fault_db.scalar("SELECT count(*) FROM {s}.river_leader"), "a leader", 10)
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))
    job_id = client.insert(FaultArgs(ms=200)).job.id
    wait_for(lambda: fault_db.count("running") == 1, "the job to run", 10)
    writers: list[int] = []
    with fault_db.engine.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT 1 FROM {fault_db.schema}.river_job WHERE id = %(id)s FOR UPDATE",
            {"id": job_id},
        )
        held_until = time.monotonic() + LOCK_HELD
        while time.monotonic() < held_until:
            writers.append(
                fault_db.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
            time.sleep(0.1)
        conn.commit()
    wait_for(lambda: fault_db.count("completed") == 1, "the job to complete", 10)
    time.sleep(1.0)  # time for a rescue that should not happen

    job = client.job_get(job_id)
    runs = fault_db.scalar("SELECT count(*) FROM {s}.fault_ledger WHERE job_id = :id", id=job_id)
    figures(
        f"scenario 7 (rescuer re-check): writes waiting on the lock: {writers[-1]} at its "
        f"release; "
        f"job {job.state.value}, attempt {job.attempt}, {len(job.errors)} errors, "
        f"metadata {job.metadata}, {runs} run(s)"
    )
    assert writers[-1] == 2  # the completer's and the rescuer's
    assert (job.state, job.attempt, job.errors, runs) == (river.JobState.COMPLETED, 1, [], 1)
    assert "river:rescue_count" not in job.metadata
