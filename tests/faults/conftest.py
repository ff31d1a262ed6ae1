"""Fault-suite fixtures (see fault_env.py): the session's throwaway cluster, a migrated schema
per test, worker processes killed at the end of their test, and the scenarios' measured
figures, printed in the session's summary (so that CI logs show them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_env import (
    FaultCluster,
    FaultDb,
    Figures,
    Spawn,
    WorkerProcess,
    create_cluster,
    create_db,
    start_worker,
)


@pytest.fixture(scope="session")
def fault_cluster() -> Iterator[FaultCluster]:
    """The session's throwaway cluster, dropped at the end."""
    cluster = create_cluster()
    try:
        yield cluster
    finally:
        cluster.drop()


@pytest.fixture
def fault_db(fault_cluster: FaultCluster) -> Iterator[FaultDb]:
    """A fresh migrated schema on the fault cluster, dropped after the test."""
    db = create_db(fault_cluster)
    yield db
    db.drop()


@pytest.fixture
def spawn(fault_db: FaultDb, tmp_path: Path) -> Iterator[Spawn]:
    """`spawn(client_id, driver=..., max_workers=..., pool=(size, overflow), url=..., **config)`
    starts a worker process (`fault_env.start_worker`); all are killed at the end."""
    processes: list[WorkerProcess] = []

    def start(client_id: str, **options: Any) -> WorkerProcess:
        process = start_worker(fault_db, tmp_path, client_id, **options)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.alive():
            process.kill()


FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """`figures(line)`: a measured figure of this test, for the session's summary."""
    lines = request.config.stash.setdefault(FIGURES, [])
    return lambda line: lines.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("fault suite: measured figures")
        for line in lines:
            terminalreporter.write_line(line)
