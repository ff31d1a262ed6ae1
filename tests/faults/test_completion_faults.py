"""D1 scenario 7: completion faults, on each driver. A trigger raises a serialization failure
once on running -> completed, then another session holds a job's row lock for 3 s while the
job finishes: the completer retries the one and waits out the other, and every job completes
on attempt 1 with no error."""

from __future__ import annotations

import time

import pytest
from conftest import FaultDb, Spawn
from fault_app import FaultArgs
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
    fault_db: FaultDb, spawn: Spawn, driver: str
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
    print(
        f"\nscenario 7 ({driver}): the trigger fired {fired} times (once failing), completer "
        f"warnings: {len(retried)}; a row lock held {LOCK_HELD:.0f} s -> the job completed "
        f"{after_release * 1000:.0f} ms after the release"
    )
    assert fired > JOBS  # the failing call, then every job's completion
    assert retried, "the completer did not report the serialization failure it retried"
    assert {(r.state, r.attempt, len(r.errors)) for r in rows} == {(river.JobState.COMPLETED, 1, 0)}
