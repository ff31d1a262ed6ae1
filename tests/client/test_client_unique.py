"""Unique jobs through both clients: duplicates, each uniqueness dimension, concurrent inserts."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from client_harness import AnyArgs, ClientUnderTest, SortArgs

import river_core as river

pytestmark = pytest.mark.asyncio(loop_scope="session")

BY_ARGS = river.InsertOpts(unique_opts=river.UniqueOpts(by_args=True))


async def test_duplicate_returns_the_existing_job(rc: ClientUnderTest) -> None:
    first = await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    again = await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    assert first.unique_skipped_as_duplicated is False
    assert again.unique_skipped_as_duplicated is True
    assert again.job.id == first.job.id
    assert again.job.args == {"strings": ["a"]}
    assert again.job.created_at == first.job.created_at
    assert rc.count_jobs() == 1
    key, states = river.unique_key(
        "sort",
        b'{"strings":["a"]}',
        "default",
        river.UniqueOpts(by_args=True),
        now=datetime.now(UTC),
    )
    assert (first.job.unique_key, first.job.unique_states) == (key, states) == (key, 245)


async def test_duplicate_in_insert_many_and_tx(rc: ClientUnderTest) -> None:
    first = await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    results = await rc.api.insert_many(
        [
            river.InsertManyParams(SortArgs(["a"]), BY_ARGS),
            river.InsertManyParams(SortArgs(["b"]), BY_ARGS),
        ]
    )
    assert [r.unique_skipped_as_duplicated for r in results] == [True, False]
    assert results[0].job.id == first.job.id
    async with rc.tx("session") as tx:
        res = await rc.api.insert_tx(tx, SortArgs(["b"]), BY_ARGS)
    assert res.unique_skipped_as_duplicated and res.job.id == results[1].job.id
    assert rc.count_jobs() == 2


async def test_by_args_all_and_selected_paths(rc: ClientUnderTest) -> None:
    all_args = river.InsertOpts(unique_opts=river.UniqueOpts(by_args=True))
    a = await rc.api.insert(AnyArgs(value={"id": 1, "note": "x"}), all_args)
    b = await rc.api.insert(AnyArgs(value={"id": 1, "note": "y"}), all_args)
    assert not b.unique_skipped_as_duplicated and a.job.id != b.job.id

    by_id = river.InsertOpts(unique_opts=river.UniqueOpts(by_args=["value.id"]))
    c = await rc.api.insert(AnyArgs(kind="by_path", value={"id": 1, "note": "x"}), by_id)
    d = await rc.api.insert(AnyArgs(kind="by_path", value={"id": 1, "note": "y"}), by_id)
    e = await rc.api.insert(AnyArgs(kind="by_path", value={"id": 2, "note": "x"}), by_id)
    assert d.unique_skipped_as_duplicated and d.job.id == c.job.id
    assert not e.unique_skipped_as_duplicated


async def test_kind_is_part_of_the_key_unless_excluded(rc: ClientUnderTest) -> None:
    opts = river.InsertOpts(unique_opts=river.UniqueOpts(by_args=True))
    a = await rc.api.insert(AnyArgs(kind="one", value=1), opts)
    b = await rc.api.insert(AnyArgs(kind="two", value=1), opts)
    assert not b.unique_skipped_as_duplicated
    excluded = river.InsertOpts(unique_opts=river.UniqueOpts(by_args=True, exclude_kind=True))
    c = await rc.api.insert(AnyArgs(kind="one", value=2), excluded)
    d = await rc.api.insert(AnyArgs(kind="two", value=2), excluded)
    assert d.unique_skipped_as_duplicated and d.job.id == c.job.id
    assert a.job.id != b.job.id


async def test_by_period(rc: ClientUnderTest) -> None:
    hourly = river.InsertOpts(unique_opts=river.UniqueOpts(by_period=timedelta(hours=1)))
    first = await rc.api.insert(SortArgs(["a"]), hourly)
    # Args do not count: only kind and the period bucket (seconds or a timedelta).
    again = await rc.api.insert(
        SortArgs(["b"]), river.InsertOpts(unique_opts=river.UniqueOpts(by_period=3600))
    )
    assert again.unique_skipped_as_duplicated and again.job.id == first.job.id
    now = datetime.now(UTC)
    bucket = now.replace(minute=0, second=0, microsecond=0)
    expected, _ = river.unique_key(
        "sort", b"{}", "default", river.UniqueOpts(by_period=3600), now=bucket
    )
    if bucket == first.job.created_at.replace(minute=0, second=0, microsecond=0):
        assert first.job.unique_key == expected


async def test_by_queue(rc: ClientUnderTest) -> None:
    def opts(queue: str) -> river.InsertOpts:
        return river.InsertOpts(queue=queue, unique_opts=river.UniqueOpts(by_queue=True))

    a = await rc.api.insert(SortArgs(["a"]), opts("q1"))
    b = await rc.api.insert(SortArgs(["b"]), opts("q2"))
    c = await rc.api.insert(SortArgs(["c"]), opts("q1"))
    assert not b.unique_skipped_as_duplicated
    assert c.unique_skipped_as_duplicated and c.job.id == a.job.id
    assert rc.count_jobs() == 2


async def test_by_state_default_and_custom(rc: ClientUnderTest) -> None:
    first = await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    rc.execute(
        "UPDATE {schema}.river_job SET state = 'completed', finalized_at = now() WHERE id = :id",
        id=first.job.id,
    )
    # The default states (245) include completed: still a duplicate.
    assert (await rc.api.insert(SortArgs(["a"]), BY_ARGS)).unique_skipped_as_duplicated
    rc.execute("UPDATE {schema}.river_job SET state = 'discarded' WHERE id = :id", id=first.job.id)
    # ... but not discarded: a new job.
    fresh = await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    assert not fresh.unique_skipped_as_duplicated and fresh.job.id != first.job.id

    live_only = river.UniqueOpts(
        by_args=True,
        by_state=[
            river.JobState.AVAILABLE,
            river.JobState.PENDING,
            river.JobState.RUNNING,
            river.JobState.SCHEDULED,
        ],
    )
    custom = river.InsertOpts(unique_opts=live_only)
    one = await rc.api.insert(SortArgs(["z"]), custom)
    assert one.job.unique_states == 1 | 16 | 64 | 128
    assert (await rc.api.insert(SortArgs(["z"]), custom)).unique_skipped_as_duplicated
    rc.execute(
        "UPDATE {schema}.river_job SET state = 'completed', finalized_at = now() WHERE id = :id",
        id=one.job.id,
    )
    assert not (await rc.api.insert(SortArgs(["z"]), custom)).unique_skipped_as_duplicated


async def test_scheduled_unique_job_is_a_duplicate(rc: ClientUnderTest) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    opts = river.InsertOpts(scheduled_at=later, unique_opts=river.UniqueOpts(by_args=True))
    first = await rc.api.insert(SortArgs(["a"]), opts)
    assert first.job.state is river.JobState.SCHEDULED
    again = await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    assert again.unique_skipped_as_duplicated
    assert again.job.state is river.JobState.SCHEDULED


async def test_insert_many_fast_refuses_an_existing_unique_job(rc: ClientUnderTest) -> None:
    """COPY has no ON CONFLICT (River's CopyFrom): the whole batch fails, nothing is written."""
    await rc.api.insert(SortArgs(["a"]), BY_ARGS)
    with pytest.raises(river.UniqueViolationError):
        await rc.api.insert_many_fast(
            [SortArgs(["new"]), river.InsertManyParams(SortArgs(["a"]), BY_ARGS)]
        )
    assert rc.count_jobs() == 1


CONCURRENT = 20


async def test_concurrent_inserts_leave_one_row(rc: ClientUnderTest) -> None:
    """20 connections insert the same unique job at once: one row, every caller gets it."""
    args = SortArgs(["same"])
    if isinstance(rc.client, river.AsyncClient):
        client = rc.client
        results = await asyncio.gather(*(client.insert(args, BY_ARGS) for _ in range(CONCURRENT)))
    else:
        sync_client = rc.client
        barrier = threading.Barrier(CONCURRENT)

        def insert_one() -> river.InsertResult:
            barrier.wait()
            return sync_client.insert(args, BY_ARGS)

        with ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(lambda _: insert_one(), range(CONCURRENT)))
    assert rc.count_jobs() == 1
    assert len({r.job.id for r in results}) == 1
    assert sum(not r.unique_skipped_as_duplicated for r in results) == 1


async def test_concurrent_insert_many_of_overlapping_unique_jobs(rc: ClientUnderTest) -> None:
    """Batches sharing unique jobs, inserted concurrently, leave one row per key."""
    batches = [
        [river.InsertManyParams(SortArgs([str((i + j) % 5)]), BY_ARGS) for j in range(3)]
        for i in range(10)
    ]
    if isinstance(rc.client, river.AsyncClient):
        client = rc.client
        await asyncio.gather(*(client.insert_many(batch) for batch in batches))
    else:
        sync_client = rc.client
        with ThreadPoolExecutor(len(batches)) as pool:
            list(pool.map(sync_client.insert_many, batches))
    assert rc.count_jobs() == 5


async def test_duplicates_within_one_insert_many(rc: ClientUnderTest) -> None:
    """The second copy of a unique job in one batch is a duplicate of the first."""
    results = await rc.api.insert_many(
        [
            river.InsertManyParams(SortArgs(["a"]), BY_ARGS),
            SortArgs(["plain"]),
            river.InsertManyParams(SortArgs(["a"]), BY_ARGS),
        ]
    )
    assert [r.unique_skipped_as_duplicated for r in results] == [False, False, True]
    assert results[2].job.id == results[0].job.id
    assert [r.job.args["strings"] for r in results] == [["a"], ["plain"], ["a"]]
    assert rc.count_jobs() == 2
