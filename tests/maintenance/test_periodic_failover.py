"""Periodic jobs across leader changes between real client processes (maintenance_process.py
with `--periodic-interval`): a SIGKILLed leader, then a clean stop of the next one. The short
intervals of test_processes.py: a 1.5 s lease renewed every 0.5 s."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from test_processes import Client, leader, ready, spawn, wait_for

from river_core.driver.tables import river_job
from river_core.maintenance.periodic import PERIODIC_TARGET_AT_KEY

__all__ = ["spawn"]  # test_processes.py's fixture, used here

STEP = timedelta(milliseconds=200)


def tick_rows(sync_engine: sa.Engine, schema: str) -> list[sa.Row[tuple[datetime, datetime]]]:
    """(target time, created_at) of every `tick` run."""
    with sync_engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(
                    river_job.c.metadata[PERIODIC_TARGET_AT_KEY].astext.cast(
                        sa.DateTime(timezone=True)
                    ),
                    river_job.c.created_at,
                ).where(river_job.c.kind == "tick"),
                execution_options={"schema_translate_map": {None: schema}},
            )
        )


def test_each_run_is_inserted_once_across_a_leader_sigkill_and_a_handover(
    spawn: Callable[..., Client], sync_engine: sa.Engine, schema: str
) -> None:
    clients = [spawn(f"p{i}", "--periodic-interval", str(STEP.total_seconds())) for i in range(3)]
    ready(*clients)
    old = leader(clients)
    wait_for(lambda: len(tick_rows(sync_engine, schema)) >= 5, "runs by the first leader", 10)
    old.kill()
    killed = old.killed_at
    assert killed is not None
    survivors = [c for c in clients if c is not old]
    new = wait_for(
        lambda: next((c for c in survivors if c.events("gained")), None), "a new leader", 10
    )
    gained = new.events("gained")[0]["at"]
    time.sleep(1.0)
    new.stop()  # a clean handover to the last client
    last = next(c for c in survivors if c is not new)
    wait_for(lambda: last.events("gained"), "the last client leads", 10)
    time.sleep(1.0)
    last.stop()

    found = sorted(tick_rows(sync_engine, schema))
    targets = [t for t, _ in found]
    assert len(set(targets)) == len(targets), "a run was inserted twice"
    assert [b - a for a, b in itertools.pairwise(targets)] == [STEP] * (len(targets) - 1)
    assert targets[0].timestamp() < killed < gained < targets[-1].timestamp() - 1.0
    # The runs due while nobody led: none lost, inserted late by the new leader.
    late = [(t, created) for t, created in found if killed < t.timestamp() < gained]
    assert len(late) >= 3, late
    assert all(created.timestamp() >= gained - 0.05 for _, created in late)
    terms = sorted(term for c in clients for term in c.terms())
    assert len(terms) >= 3 and all(a[1] <= b[0] for a, b in itertools.pairwise(terms))
    print(
        f"{len(targets)} runs every {STEP.total_seconds()}s, none missing or repeated; "
        f"{len(late)} fell due between the SIGKILL and the new leader "
        f"({gained - killed:.2f}s later) and were inserted by it"
    )
