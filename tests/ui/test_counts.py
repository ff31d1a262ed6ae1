"""Dashboard counts: capped per state, estimated past the cap, cached briefly, shown as such."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from ui_helpers import Seed

from river_core.driver.sql_executor import SqlExecutor
from river_core.job import JobState
from river_core.ui import counts as counts_module
from river_core.ui.counts import Cached, StateCounts, state_counts
from river_core.ui.templating import state_count


def test_counts_past_the_limit_are_estimates(
    seed: Seed, sync_engine: sa.Engine, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_module, "COUNT_LIMIT", 3)
    for _ in range(5):
        seed.job()
    seed.job(state=JobState.DISCARDED)
    with sync_engine.connect() as conn:
        conn.exec_driver_sql(f'ANALYZE "{schema}".river_job')
        conn.commit()
        counted = state_counts(SqlExecutor(conn, schema))
    assert counted.counts[JobState.DISCARDED] == 1
    assert counted.counts[JobState.AVAILABLE] == 5  # the estimate: all rows sampled
    assert counted.estimated == {JobState.AVAILABLE}


def test_counts_without_statistics_show_the_limit_as_a_floor(
    seed: Seed, sync_engine: sa.Engine, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_module, "COUNT_LIMIT", 3)
    monkeypatch.setattr("river_core.ui.templating.COUNT_LIMIT", 3)
    for _ in range(5):
        seed.job()
    with sync_engine.connect() as conn:
        counted = state_counts(SqlExecutor(conn, schema))  # never analyzed: no estimate
    assert counted.counts[JobState.AVAILABLE] == 3
    assert state_count(counted, JobState.AVAILABLE) == "3+"
    assert state_count(counted, JobState.RUNNING) == "0"


def test_an_estimate_is_marked() -> None:
    counts = StateCounts(
        {**dict.fromkeys(JobState, 0), JobState.COMPLETED: 1_234_567},
        frozenset({JobState.COMPLETED}),
    )
    assert state_count(counts, JobState.COMPLETED) == "≈1,234,567"


async def test_cache_loads_once_per_period_and_on_invalidation() -> None:
    now = [0.0]
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        await asyncio.sleep(0.01)
        return len(loads)

    cached = Cached(load, seconds=3.0, clock=lambda: now[0])
    assert await asyncio.gather(cached.get(), cached.get(), cached.get()) == [1, 1, 1]
    now[0] = 2.9
    assert await cached.get() == 1
    now[0] = 3.0
    assert await cached.get() == 2
    cached.invalidate()
    assert await cached.get() == 3


def test_an_action_refreshes_the_counts_at_once(client: TestClient, seed: Seed) -> None:
    job = seed.job(state=JobState.DISCARDED)
    assert client.get("/api/states").json()["discarded"] == 1
    seed.job(state=JobState.DISCARDED)  # by someone else: seen once the cache expires
    assert client.get("/api/states").json()["discarded"] == 1
    headers: dict[str, Any] = {"X-River-UI": "1"}
    client.post("/api/jobs/retry", json={"ids": [job.id]}, headers=headers)
    states = client.get("/api/states").json()
    assert (states["discarded"], states["available"]) == (1, 1)


def test_queue_lists_cap_their_counts_lower_than_a_queue_page(
    client: TestClient, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_module, "QUEUE_COUNT_LIMIT", 2)
    seed.queue("mail")
    for _ in range(3):
        seed.job(queue="mail")
    assert ">2+</a>" in client.get("/queues").text
    assert client.get("/api/queues").json()["data"][0]["count_available"] == 2
    assert '<span class="card-count">3</span>' in client.get("/queues/mail").text
    assert client.get("/api/queues/mail").json()["count_available"] == 3
