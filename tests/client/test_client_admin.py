"""The admin API of both clients, with River's semantics, on every variant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from client_harness import AnyArgs, ClientUnderTest, SortArgs

import river_core as river
from river_core.errors import JobRunningError

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROTOCOL = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "river" / "protocol_values.json").read_text()
)
NOTIFICATIONS = {n["name"]: n for n in PROTOCOL["notifications"]}
CONTROL = PROTOCOL["topics"]["control"]


def expected_payload(name: str, **fields: Any) -> dict[str, Any]:
    """The fixture's payload of notification `name`, with this test's values."""
    payload = dict(NOTIFICATIONS[name]["payload"])
    assert fields.keys() <= payload.keys()
    return {**payload, **fields}


def go_json(payload: dict[str, Any]) -> str:
    """A payload as Go's json.Marshal writes it (struct field order as in the fixture)."""
    return json.dumps(payload, separators=(",", ":"))


def set_state(rc: ClientUnderTest, job_id: int, state: river.JobState, **columns: Any) -> None:
    """Force a job into `state` (running: attempted; final states: finalized)."""
    sets = ["state = CAST(:state AS {schema}.river_job_state)"]
    if state is river.JobState.RUNNING:
        sets += ["attempt = attempt + 1", "attempted_at = now()", "attempted_by = '{worker-1}'"]
    if state.is_final:
        sets.append("finalized_at = now()")
    sets += [f"{name} = :{name}" for name in columns]
    rc.execute(
        f"UPDATE {{schema}}.river_job SET {', '.join(sets)} WHERE id = :id",
        id=job_id,
        state=state.value,
        **columns,
    )


async def insert(rc: ClientUnderTest, n: int = 1, **opts: Any) -> list[river.JobRow]:
    items = [river.InsertManyParams(SortArgs([str(i)]), river.InsertOpts(**opts)) for i in range(n)]
    return [r.job for r in await rc.api.insert_many(items)]


def add_queue(rc: ClientUnderTest, name: str, metadata: str = "{}") -> None:
    rc.execute(
        "INSERT INTO {schema}.river_queue (name, metadata, created_at, updated_at)"
        " VALUES (:name, CAST(:metadata AS jsonb), now(), now())",
        name=name,
        metadata=metadata,
    )


# -- jobs ----------------------------------------------------------------------------------


async def test_job_get(rc: ClientUnderTest) -> None:
    (job,) = await insert(rc, queue="q1", priority=3, tags=["one"])
    got = await rc.api.job_get(job.id)
    assert got == job
    with pytest.raises(river.JobNotFoundError) as raised:
        await rc.api.job_get(job.id + 1000)
    assert raised.value.job_id == job.id + 1000
    assert isinstance(raised.value, river.NotFoundError)


async def test_job_list_filters(rc: ClientUnderTest) -> None:
    a = await rc.api.insert(AnyArgs(kind="kind_a"), river.InsertOpts(queue="qa", tags=["red"]))
    b = await rc.api.insert(
        AnyArgs(kind="kind_b"), river.InsertOpts(queue="qb", priority=2, metadata={"team": "x"})
    )
    c = await rc.api.insert(
        AnyArgs(kind="kind_b"),
        river.InsertOpts(queue="qa", priority=4, tags=["blue", "red"], metadata={"team": "y"}),
    )
    set_state(rc, c.job.id, river.JobState.COMPLETED)
    ids = {"a": a.job.id, "b": b.job.id, "c": c.job.id}

    async def listed(**filters: Any) -> list[str]:
        rows = await rc.api.job_list(river.JobListParams(**filters))
        by_id = {v: k for k, v in ids.items()}
        return [by_id[row.id] for row in rows]

    assert await listed() == ["a", "b", "c"]
    assert await listed(ids=[ids["c"], ids["a"]]) == ["a", "c"]
    assert await listed(kinds=["kind_b"]) == ["b", "c"]
    assert await listed(queues=["qa"]) == ["a", "c"]
    assert await listed(states=[river.JobState.COMPLETED]) == ["c"]
    assert await listed(states=[river.JobState.AVAILABLE, river.JobState.RUNNING]) == ["a", "b"]
    assert await listed(priorities=[2, 4]) == ["b", "c"]
    assert await listed(tags=["red"]) == ["a", "c"]
    assert await listed(tags=["blue", "green"]) == ["c"]
    assert await listed(metadata={"team": "x"}) == ["b"]
    assert await listed(metadata={}) == ["a", "b", "c"]
    assert await listed(kinds=["kind_b"], queues=["qa"], priorities=[4]) == ["c"]
    assert await listed(kinds=["nope"]) == []
    assert await listed(max=2) == ["a", "b"]
    assert await listed(descending=True) == ["c", "b", "a"]


@pytest.mark.parametrize("order_by", [river.JobListOrderBy.ID, river.JobListOrderBy.SCHEDULED_AT])
@pytest.mark.parametrize("descending", [False, True])
async def test_job_list_pages_have_no_duplicates_or_gaps(
    rc: ClientUnderTest, order_by: river.JobListOrderBy, descending: bool
) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    jobs = []
    for i in range(23):  # five scheduled_at values: ties broken by id
        jobs += await insert(rc, scheduled_at=base + timedelta(minutes=i % 5))
    column = "id" if order_by is river.JobListOrderBy.ID else "scheduled_at"
    expected = sorted(jobs, key=lambda j: (getattr(j, column), j.id), reverse=descending)

    seen: list[int] = []
    after: tuple[Any, int] | None = None
    pages = 0
    while True:
        page = await rc.api.job_list(
            river.JobListParams(max=5, order_by=order_by, descending=descending, after=after)
        )
        if not page:
            break
        pages += 1
        seen += [job.id for job in page]
        last = page[-1]
        after = (getattr(last, column), last.id)
    assert pages == 5
    assert seen == [job.id for job in expected]


async def test_job_cancel_available_job(rc: ClientUnderTest) -> None:
    (job,) = await insert(rc, queue="qc")
    with rc.listening(CONTROL) as control:
        cancelled = await rc.api.job_cancel(job.id)
        payloads = control.collect()
    assert cancelled.state is river.JobState.CANCELLED
    assert cancelled.finalized_at is not None
    assert abs(cancelled.finalized_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert "cancel_attempted_at" in cancelled.metadata
    assert [json.loads(p) for p in payloads] == [
        expected_payload("cancel", job_id=job.id, queue="qc")
    ]
    assert (await rc.api.job_get(job.id)) == cancelled


async def test_job_cancel_running_job(rc: ClientUnderTest) -> None:
    (job,) = await insert(rc, queue="priority")
    set_state(rc, job.id, river.JobState.RUNNING)
    with rc.listening(CONTROL) as control:
        row = await rc.api.job_cancel(job.id)
        payloads = control.collect()
    # Still running: its client cancels it when told; the metadata stops the rescuer.
    assert row.state is river.JobState.RUNNING
    assert row.finalized_at is None
    attempted = datetime.fromisoformat(row.metadata["cancel_attempted_at"])
    assert abs(attempted - datetime.now(UTC)) < timedelta(minutes=1)
    assert [json.loads(p) for p in payloads] == [
        expected_payload("cancel", job_id=job.id, queue="priority")
    ]
    fixture = NOTIFICATIONS["cancel"]
    assert fixture["topic"] == CONTROL
    assert set(json.loads(payloads[0])) == set(fixture["payload"])


@pytest.mark.parametrize(
    "state", [river.JobState.COMPLETED, river.JobState.DISCARDED, river.JobState.CANCELLED]
)
async def test_job_cancel_finalized_job_changes_nothing(
    rc: ClientUnderTest, state: river.JobState
) -> None:
    (job,) = await insert(rc)
    set_state(rc, job.id, state)
    before = await rc.api.job_get(job.id)
    with rc.listening(CONTROL) as control:
        row = await rc.api.job_cancel(job.id)
        assert control.collect() == []
    assert row == before


async def test_job_cancel_missing_job(rc: ClientUnderTest) -> None:
    with pytest.raises(river.JobNotFoundError):
        await rc.api.job_cancel(123456)


async def test_job_retry(rc: ClientUnderTest) -> None:
    (discarded, running, future, due) = await insert(rc, 4, max_attempts=1)
    set_state(rc, discarded.id, river.JobState.DISCARDED, attempt=1)
    retried = await rc.api.job_retry(discarded.id)
    assert retried.state is river.JobState.AVAILABLE
    assert retried.finalized_at is None
    assert retried.max_attempts == 2  # attempts exhausted: one more allowed
    assert abs(retried.scheduled_at - datetime.now(UTC)) < timedelta(minutes=1)

    set_state(rc, running.id, river.JobState.RUNNING)
    assert (await rc.api.job_retry(running.id)).state is river.JobState.RUNNING

    later = datetime.now(UTC) + timedelta(hours=1)
    set_state(rc, future.id, river.JobState.SCHEDULED, scheduled_at=later)
    assert (await rc.api.job_retry(future.id)).state is river.JobState.AVAILABLE

    # An available job already due keeps its place in line.
    assert (await rc.api.job_retry(due.id)).scheduled_at == due.scheduled_at

    with pytest.raises(river.JobNotFoundError):
        await rc.api.job_retry(123456)


async def test_job_retry_notifies_the_queue(rc: ClientUnderTest) -> None:
    (job,) = await insert(rc, queue="rq")
    set_state(rc, job.id, river.JobState.DISCARDED)
    with rc.listening("river_insert") as inserts:
        await rc.api.job_retry(job.id)
        assert inserts.collect() == ['{"queue":"rq"}']


async def test_job_delete(rc: ClientUnderTest) -> None:
    (job, running) = await insert(rc, 2)
    deleted = await rc.api.job_delete(job.id)
    assert deleted.id == job.id
    assert rc.count_jobs(f"id = {job.id}") == 0
    with pytest.raises(river.JobNotFoundError):
        await rc.api.job_delete(job.id)

    set_state(rc, running.id, river.JobState.RUNNING)
    with pytest.raises(JobRunningError) as raised:
        await rc.api.job_delete(running.id)
    assert isinstance(raised.value, river.RiverError) and raised.value.job_id == running.id
    assert rc.count_jobs(f"id = {running.id}") == 1


async def test_job_delete_many(rc: ClientUnderTest) -> None:
    jobs = await insert(rc, 6, queue="dq")
    others = await insert(rc, 2, queue="keep")
    set_state(rc, jobs[0].id, river.JobState.RUNNING)
    set_state(rc, jobs[1].id, river.JobState.COMPLETED)
    deleted = await rc.api.job_delete_many(river.JobListParams(queues=["dq"], max=3))
    assert [job.id for job in deleted] == [jobs[1].id, jobs[2].id, jobs[3].id]  # not running
    deleted = await rc.api.job_delete_many(river.JobListParams(queues=["dq"]))
    assert [job.id for job in deleted] == [jobs[4].id, jobs[5].id]
    remaining = await rc.api.job_list(river.JobListParams())
    assert [job.id for job in remaining] == [jobs[0].id, *(job.id for job in others)]


# -- queues --------------------------------------------------------------------------------


async def test_queue_get_and_list(rc: ClientUnderTest) -> None:
    for name in ("beta", "alpha", "gamma"):
        add_queue(rc, name, '{"size": "s"}')
    queue = await rc.api.queue_get("alpha")
    assert (queue.name, queue.paused_at, queue.metadata) == ("alpha", None, {"size": "s"})
    assert [q.name for q in await rc.api.queue_list()] == ["alpha", "beta", "gamma"]
    assert [q.name for q in await rc.api.queue_list(2)] == ["alpha", "beta"]
    with pytest.raises(river.QueueNotFoundError) as raised:
        await rc.api.queue_get("missing")
    assert raised.value.name == "missing"


async def test_queue_pause_and_resume(rc: ClientUnderTest) -> None:
    add_queue(rc, "priority")
    add_queue(rc, "other")
    with rc.listening(CONTROL) as control:
        await rc.api.queue_pause("priority")
        assert control.collect() == [go_json(expected_payload("pause", queue="priority"))]
        paused = await rc.api.queue_get("priority")
        assert paused.paused_at is not None
        assert (await rc.api.queue_get("other")).paused_at is None

        await rc.api.queue_pause("priority")  # already paused: unchanged, still notified
        assert (await rc.api.queue_get("priority")).paused_at == paused.paused_at
        control.collect()

        await rc.api.queue_resume("priority")
        assert control.collect() == [go_json(expected_payload("resume", queue="priority"))]
        assert (await rc.api.queue_get("priority")).paused_at is None

        await rc.api.queue_pause("*")
        assert control.collect() == [go_json(expected_payload("pause", queue="*"))]
        assert all(q.paused_at is not None for q in await rc.api.queue_list())
        await rc.api.queue_resume("*")
        assert control.collect() == [go_json(expected_payload("resume", queue="*"))]
        assert all(q.paused_at is None for q in await rc.api.queue_list())

        for method in ("queue_pause", "queue_resume"):
            with pytest.raises(river.QueueNotFoundError):
                await getattr(rc.api, method)("missing")
        assert control.collect() == []


async def test_queue_update(rc: ClientUnderTest) -> None:
    add_queue(rc, "priority", '{"keep": 1}')
    with rc.listening(CONTROL) as control:
        unchanged = await rc.api.queue_update("priority")
        assert unchanged.metadata == {"keep": 1}
        assert control.collect() == []
        updated = await rc.api.queue_update("priority", metadata=b'{"owner": "candidate"}')
        assert updated.metadata == {"owner": "candidate"}
        payloads = control.collect()
    assert [json.loads(p) for p in payloads] == [
        expected_payload("metadata_changed", queue="priority")
    ]
    assert (await rc.api.queue_get("priority")).metadata == {"owner": "candidate"}
    as_mapping = await rc.api.queue_update("priority", metadata={"size": [1, 2]})
    assert as_mapping.metadata == {"size": [1, 2]}
    with pytest.raises(river.QueueNotFoundError):
        await rc.api.queue_update("missing", metadata=b"{}")


@pytest.mark.parametrize("metadata", [b"[1]", "not json", {"x": float("nan")}, b'{"a": "\\u0000"}'])
async def test_queue_update_refuses_bad_metadata(rc: ClientUnderTest, metadata: Any) -> None:
    add_queue(rc, "priority", '{"keep": 1}')
    with rc.recording() as recorder, pytest.raises(river.ValidationError) as raised:
        await rc.api.queue_update("priority", metadata=metadata)
    assert raised.value.field == "metadata"
    assert (recorder.statements, recorder.checkouts) == ([], 0)
    assert (await rc.api.queue_get("priority")).metadata == {"keep": 1}
