"""Leadership and rescue across real client processes (maintenance_process.py), with short
intervals: a 1.5 s lease renewed every 0.5 s, services every 0.1 s, rescue after 1 s."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from river_core.driver.tables import river_job

SCRIPT = Path(__file__).with_name("maintenance_process.py")
STARTUP = 30.0  # bound on a process reaching `ready` (imports, connections)
# The short intervals of maintenance_process.py: elect every 0.5 s (+0.1 s jitter), TTL 1.5 s.
ELECT_INTERVAL, ELECT_JITTER, SHORT_LEASE = 0.5, 0.1, 1.5
RESCUE_AFTER, RESCUER_INTERVAL = 1.0, 0.1


@dataclass
class Client:
    """One client process and its event log."""

    id: str
    log: Path
    proc: subprocess.Popen[bytes]
    killed_at: float | None = None
    _events: list[dict[str, Any]] = field(default_factory=list)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        complete = [json.loads(line) for line in lines if line.endswith("}")]
        return [e for e in complete if kind is None or e["event"] == kind]

    def kill(self) -> None:
        self.killed_at = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> float:
        """A clean stop (SIGTERM); returns when it was asked."""
        asked = time.time()
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(20) == 0
        return asked

    def terms(self) -> list[tuple[float, float]]:
        """Leadership intervals: gained to stopped (or to the kill, or to now)."""
        gained = [e["at"] for e in self.events("gained")]
        stopped = [e["at"] for e in self.events("stopped")]
        end = self.killed_at or time.time()
        return [(g, stopped[i] if i < len(stopped) else end) for i, g in enumerate(gained)]


@pytest.fixture
def spawn(database_url: str, schema: str, tmp_path: Path) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def start(client_id: str, *extra: str) -> Client:
        log = tmp_path / f"{client_id}.jsonl"
        proc = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPT),
                "--url",
                database_url,
                "--schema",
                schema,
                "--id",
                client_id,
                "--log",
                str(log),
                *extra,
            ],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        client = Client(client_id, log, proc)
        clients.append(client)
        return client

    yield start
    for client in clients:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait(10)


def wait_for(check: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def ready(*clients: Client) -> None:
    for c in clients:
        wait_for(lambda c=c: c.events("ready"), f"{c.id} ready", STARTUP)


def leader(clients: list[Client]) -> Client:
    """The client leading now (its last event of leadership is a gain)."""

    def current() -> Client | None:
        leading = [
            c
            for c in clients
            if c.proc.poll() is None and len(c.events("gained")) > len(c.events("stopped"))
        ]
        return leading[0] if len(leading) == 1 else None

    return wait_for(current, "one leader", 10)


def assert_no_overlap(clients: list[Client]) -> int:
    """Leadership terms and maintenance runs of different clients never overlap; every run
    falls within its client's term. Returns the number of runs checked."""
    runs = {c.id: [(e["start"], e["end"]) for e in c.events("run")] for c in clients}
    terms = {c.id: c.terms() for c in clients}
    for cid, spans in runs.items():
        for start, end in spans:
            assert any(t0 <= start and end <= t1 for t0, t1 in terms[cid]), (cid, start, end)
    for a, b in itertools.combinations(clients, 2):
        for (s1, e1), (s2, e2) in itertools.product(
            terms[a.id] + runs[a.id], terms[b.id] + runs[b.id]
        ):
            assert e1 <= s2 or e2 <= s1, f"{a.id} {(s1, e1)} overlaps {b.id} {(s2, e2)}"
    return sum(len(spans) for spans in runs.values())


def test_leader_sigkill_a_new_leader_within_lease_and_interval_never_two(
    spawn: Callable[..., Client],
) -> None:
    clients = [spawn(f"p{i}") for i in range(3)]
    ready(*clients)
    old = leader(clients)
    time.sleep(1.0)  # maintenance runs on the first leader
    old.kill()
    survivors = [c for c in clients if c is not old]
    new = wait_for(
        lambda: next((c for c in survivors if c.events("gained")), None), "a new leader", 10
    )
    failover = new.events("gained")[0]["at"] - old.killed_at  # type: ignore[operator]
    time.sleep(1.0)  # maintenance runs on the new leader
    for c in survivors:
        c.stop()

    assert failover <= SHORT_LEASE + ELECT_INTERVAL + ELECT_JITTER + 0.5, failover
    assert old.events("run") and new.events("run")
    assert assert_no_overlap(clients) > 20
    print(f"failover after SIGKILL of the leader: {failover:.2f}s")


def test_clean_stop_of_the_leader_hands_over_within_a_second(
    spawn: Callable[..., Client],
) -> None:
    """River's 5 s election interval: only the resignation's notification can explain it."""
    first = spawn("first", "--elect-interval", "5")
    ready(first)
    leader([first])
    second = spawn("second", "--elect-interval", "5")
    ready(second)
    time.sleep(0.3)
    asked = first.stop()
    gained = wait_for(lambda: second.events("gained"), "second leads", 3)[0]["at"]

    assert gained - asked < 1.0, gained - asked
    assert first.events("stopped")[-1]["at"] <= gained
    second.stop()
    assert_no_overlap([first, second])


def test_worker_sigkill_mid_job_rescued_once_and_completed_by_a_survivor(
    spawn: Callable[..., Client], sync_engine: sa.Engine, schema: str
) -> None:
    boss = spawn("boss")  # leads; works only `default`
    ready(boss)
    leader([boss])
    workers = [spawn(f"w{i}", "--queues", "slow") for i in range(2)]
    ready(*workers)
    with sync_engine.begin() as conn:
        job_id = conn.execute(
            sa.insert(river_job)
            .values(kind="hang", args={}, queue="slow", max_attempts=5)
            .returning(river_job.c.id),
            execution_options={"schema_translate_map": {None: schema}},
        ).scalar_one()

    victim = wait_for(
        lambda: next((w for w in workers if w.events("job_started")), None), "the job", 5
    )
    started = victim.events("job_started")[0]["at"]
    victim.kill()
    survivor = next(w for w in workers if w is not victim)
    wait_for(lambda: survivor.events("job_done"), "the survivor to finish the job", 10)

    rescues = [
        e for e in boss.events("run") if e["service"] == "rescuer" and e["counts"]["rescued"]
    ]
    assert [e["counts"]["rescued"] for e in rescues] == [1]
    assert rescues[0]["end"] - started <= RESCUE_AFTER + RESCUER_INTERVAL + 0.5

    def completed() -> Any:
        with sync_engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    river_job.c.state,
                    river_job.c.attempt,
                    river_job.c.metadata,
                    river_job.c.errors,
                    river_job.c.attempted_by,
                ).where(river_job.c.id == job_id),
                execution_options={"schema_translate_map": {None: schema}},
            ).one()
        return row if row.state == "completed" else None

    row = wait_for(completed, "the job completed", 5)
    assert row.attempt == 2
    assert row.metadata["river:rescue_count"] == 1
    assert [e["error"] for e in row.errors] == ["Stuck job rescued by JobRescuer"]
    assert row.attempted_by == [victim.id, survivor.id]
    for c in (boss, survivor):
        c.stop()
    assert_no_overlap([boss, *workers])
