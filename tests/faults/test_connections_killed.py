"""D1 scenario 5: connections killed, on each driver. `pg_terminate_backend` of a worker
process's listener, then of every connection it has (pool and listener) while jobs run: the
client recovers by itself (polling only every 60 s, so through its listener), loses nothing
and does not exit."""

from __future__ import annotations

import time

import psutil
import pytest
from fault_app import FaultArgs
from fault_env import FaultDb, Figures, Spawn, WorkerProcess
from fault_helpers import wait_for

import river_core as river
from river_driver_psycopg import PsycopgDriver

RUNNING = 10  # jobs running when every connection is killed


def backends_of(fault_db: FaultDb, worker: WorkerProcess) -> dict[int, str]:
    """The backends connected from `worker`'s process (by client port): pid -> last query."""
    ports = [
        c.laddr.port
        for c in psutil.Process(worker.proc.pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == fault_db.cluster.port
    ]
    rows = fault_db.rows(
        "SELECT pid, query FROM pg_stat_activity WHERE client_port = ANY(:ports)", ports=ports
    )
    return {int(pid): str(query) for pid, query in rows}


def listener_of(fault_db: FaultDb, worker: WorkerProcess) -> int | None:
    """The backend of `worker`'s listener: the one of its connections that only LISTENs and
    pings."""
    found = [
        pid
        for pid, query in backends_of(fault_db, worker).items()
        if query.startswith("LISTEN") or query == "SELECT 1"
    ]
    return found[0] if len(found) == 1 else None


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_killed_connections_recover_by_themselves(
    fault_db: FaultDb, spawn: Spawn, driver: str, figures: Figures
) -> None:
    worker = spawn(f"killed-{driver}", driver=driver, max_workers=RUNNING, fetch_poll_interval=60)
    worker.wait_started()
    client = river.Client(PsycopgDriver(fault_db.engine, schema=fault_db.schema))

    def started_within(seconds: float) -> float:
        job_id = client.insert(FaultArgs(ms=0, ledger=False)).job.id
        latency = wait_for(lambda: fault_db.start_latency(job_id), f"job {job_id} to start", 10)
        assert latency < seconds, f"job {job_id} started after {latency:.2f} s"
        return latency

    started_within(1.0)
    old_listener = wait_for(lambda: listener_of(fault_db, worker), "the listener", 10)
    assert fault_db.terminate("pid = :pid", pid=old_listener) == [old_listener]
    after_listener_kill = started_within(1.0)
    new_listener = wait_for(
        lambda: (pid := listener_of(fault_db, worker)) != old_listener and pid,
        "a new listener",
        10,
    )

    running = [r.job.id for r in client.insert_many([FaultArgs(ms=1500, ledger=False)] * RUNNING)]
    wait_for(lambda: fault_db.count("running") == RUNNING, "the jobs to run", 10)
    victims = list(backends_of(fault_db, worker))
    killed_at = time.monotonic()
    killed = fault_db.terminate("pid = ANY(:pids)", pids=victims)
    wait_for(lambda: fault_db.count("completed") == 2 + RUNNING, "the running jobs to complete", 30)
    recovered = time.monotonic() - killed_at
    after_all_killed = started_within(1.0)
    assert worker.alive()

    jobs = client.job_list(river.JobListParams(ids=running))
    figures(
        f"scenario 5 ({driver}): listener {old_listener} killed -> a job started in "
        f"{after_listener_kill * 1000:.0f} ms, new listener {new_listener}; all {len(killed)} "
        f"connections killed with {RUNNING} jobs of 1.5 s running -> all completed "
        f"{recovered:.2f} s later, a new job started in {after_all_killed * 1000:.0f} ms"
    )
    assert len(killed) == len(victims) >= 2
    assert {(j.state, j.attempt, len(j.errors)) for j in jobs} == {(river.JobState.COMPLETED, 1, 0)}
    wait_for(lambda: fault_db.count("completed") == 3 + RUNNING, "the last job to complete", 10)
    assert fault_db.states() == {"completed": 3 + RUNNING}
