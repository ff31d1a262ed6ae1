"""The fault suite's environment: a throwaway PostgreSQL cluster, schemas on it, and worker
processes (`river worker fault_app:client`) to crash, stop and starve (the fixtures of
conftest.py build them).

Every fault test runs against its own cluster (`pg_createcluster 15 faults_<pid>`, on a free
port), never the shared server: the scenarios restart it, kill its backends, lock its tables,
and run dozens of connections. The cluster is created once per session and dropped at the
end; clusters left behind by an earlier run that died are dropped first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fault_app import LEDGER_DDL
from fault_helpers import wait_for

from river_core import migrate

HERE = Path(__file__).parent
PG_VERSION = os.environ.get("RIVER_FAULTS_PG_VERSION", "15")
CLUSTER_PREFIX = "faults_"
STARTUP = 60.0  # bound on a worker process reaching "started" (imports, connections)
CLUSTER_SETTINGS = {
    "max_connections": "400",
    # A crashed server keeps what its processes wrote to the OS, so fsync may be off; but
    # not synchronous_commit: an asynchronous commit acknowledged just before a crash is lost,
    # and with it (rightly) a completion the client believes written.
    "fsync": "off",
    "full_page_writes": "off",
    "track_commit_timestamp": "on",  # "no job runs before its commit" is checked with it
    "shared_buffers": "64MB",
    "log_min_messages": "fatal",
}


def _run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clusters() -> list[tuple[str, int]]:
    """(name, port) of the clusters of PG_VERSION."""
    out = _run("pg_lsclusters", "--no-header", check=False).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == PG_VERSION:
            found.append((parts[1], int(parts[2])))
    return found


def drop_stale_clusters() -> None:
    """Drop `faults_<pid>` clusters whose test session is gone (a run that was killed)."""
    for name, _ in _clusters():
        match = re.fullmatch(rf"{CLUSTER_PREFIX}(\d+)", name)
        if match and not _alive(int(match.group(1))):
            _run("pg_dropcluster", "--stop", PG_VERSION, name, check=False)


def free_port(taken: set[int]) -> int:
    for port in range(5433, 5533):
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in 5433..5532 for the fault cluster")


@dataclass
class FaultCluster:
    """A PostgreSQL cluster the fault tests may restart, crash and starve."""

    name: str
    port: int

    def url(self, database: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    def ctl(self, action: str, *options: str) -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, self.name, action, *options)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            probe = ("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port))
            return _run(*probe, check=False).returncode == 0

        wait_for(ready, f"cluster {self.name} to accept connections", timeout, interval=0.05)

    def restart(self, mode: str) -> float:
        """Restart with pg_ctl's `mode` (fast, immediate); returns how long it took (s)."""
        started = time.monotonic()
        self.ctl("restart", "-m", mode)
        self.wait_ready()
        return time.monotonic() - started

    def drop(self) -> None:
        _run("pg_dropcluster", "--stop", PG_VERSION, self.name, check=False)


def create_cluster() -> FaultCluster:
    """A new cluster for this session, started (stale ones dropped first)."""
    for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_lsclusters"):
        assert shutil.which(tool), f"the fault suite needs {tool} (postgresql-common)"
    drop_stale_clusters()
    name = f"{CLUSTER_PREFIX}{os.getpid()}"
    _run("pg_dropcluster", "--stop", PG_VERSION, name, check=False)
    port = free_port({p for _, p in _clusters()})
    options = [arg for k, v in CLUSTER_SETTINGS.items() for arg in ("-o", f"{k}={v}")]
    _run(
        "pg_createcluster",
        PG_VERSION,
        name,
        "--port",
        str(port),
        "--start-conf",
        "manual",
        *options,
        "--",
        "-A",
        "trust",
    )
    cluster = FaultCluster(name, port)
    try:
        cluster.ctl("start")
        cluster.wait_ready()
    except BaseException:
        cluster.drop()
        raise
    return cluster


@dataclass
class FaultDb:
    """A schema migrated to River's latest version (plus the job ledger) on the cluster."""

    cluster: FaultCluster
    url: str
    schema: str
    engine: sa.Engine

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql.format(s=self.schema)), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql.format(s=self.schema)), params)]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql.format(s=self.schema)), params)

    def states(self) -> dict[str, int]:
        """How many jobs are in each state."""
        found = self.rows("SELECT state::text, count(*) FROM {s}.river_job GROUP BY 1")
        return {str(state): int(count) for state, count in found}

    def count(self, state: str) -> int:
        return self.states().get(state, 0)

    def count_of(self, ids: list[int], state: str) -> int:
        """How many of the jobs `ids` are in `state`."""
        return int(
            self.scalar(
                "SELECT count(*) FROM {s}.river_job WHERE id = ANY(:ids) AND state = :state",
                ids=ids,
                state=state,
            )
        )

    def start_latency(self, job_id: int) -> float | None:
        """Seconds from a job's insert to its (last) fetch, on the database clock; None if not
        fetched yet."""
        seconds = self.scalar(
            "SELECT extract(epoch FROM attempted_at - created_at) FROM {s}.river_job "
            "WHERE id = :id",
            id=job_id,
        )
        return None if seconds is None else float(seconds)

    def terminate(self, where: str, **params: Any) -> list[int]:
        """`pg_terminate_backend` of this database's backends matching `where`; their pids."""
        return [
            int(pid)
            for pid, done in self.rows(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = current_database() AND pid <> pg_backend_pid() AND ({where})",
                **params,
            )
            if done
        ]

    def drop(self) -> None:
        self.cluster.wait_ready()
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {self.schema} CASCADE"))
        self.engine.dispose()


def create_db(cluster: FaultCluster) -> FaultDb:
    """A fresh schema migrated to River's latest version, with the job ledger."""
    schema = "f_" + uuid.uuid4().hex[:10]
    url = cluster.url()
    engine = sa.create_engine(
        sa.engine.make_url(url).set(drivername="postgresql+psycopg"),
        pool_size=3,
        max_overflow=5,
        pool_pre_ping=True,
    )
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    with engine.connect() as conn:
        migrate.upgrade(conn, schema=schema)
    with engine.begin() as conn:
        conn.execute(sa.text(LEDGER_DDL.format(schema=schema)))
    return FaultDb(cluster, url, schema, engine)


@dataclass
class WorkerProcess:
    """One `river worker fault_app:client` process; its stderr (the log) goes to `log`."""

    id: str
    log: Path
    proc: subprocess.Popen[bytes]

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def wait_started(self, timeout: float = STARTUP) -> None:
        def started() -> bool:
            assert self.proc.poll() is None, f"{self.id} exited: {self.lines()[-20:]}"
            return any("river worker: started" in line for line in self.lines())

        wait_for(started, f"{self.id} to start", timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def warnings(self, text: str) -> list[str]:
        return [line for line in self.lines() if " WARNING " in line and text in line]


Spawn = Callable[..., WorkerProcess]
Figures = Callable[[str], None]
"""Records a line of a scenario's measured figures (printed in the session's summary)."""


def start_worker(
    fault_db: FaultDb,
    log_dir: Path,
    client_id: str,
    *,
    driver: str = "asyncpg",
    max_workers: int = 5,
    pool: tuple[int, int] | None = None,
    url: str | None = None,
    **config: Any,
) -> WorkerProcess:
    """Start a worker process (not waited for: call `wait_started`) on `fault_db`'s schema,
    or through `url`; `config` goes to `river.Config`."""
    log = log_dir / f"{client_id}.log"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "FAULT_URL": url or fault_db.url,
        "FAULT_SCHEMA": fault_db.schema,
        "FAULT_DRIVER": driver,
        "FAULT_ID": client_id,
        # A connection per worker (the ledger) plus the fetch, the completer and the
        # leader's: overflow connections are opened and closed again for each use.
        "FAULT_POOL": "{},{}".format(*(pool or (max_workers + 3, 2))),
        "FAULT_MAX_WORKERS": str(max_workers),
        "FAULT_CONFIG": json.dumps(config),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "river_core.cli", "worker", "fault_app:client"],
            cwd=HERE,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    return WorkerProcess(client_id, log, proc)
