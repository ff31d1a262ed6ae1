"""Conformance: the queries behind the dashboard (bounded counts, estimates, names, fetch order)."""

from __future__ import annotations

from datetime import timedelta

from conformance import PAST, DriverHandle

from river_core.driver import (
    JobCountByQueueAndStateResult,
    JobKindListParams,
    JobListOrderBy,
    JobListParams,
    QueueCreateOrSetUpdatedAtParams,
    QueueNameListParams,
)
from river_core.job import JobRow, JobState


def _analyze(handle: DriverHandle) -> None:
    with handle.setup_engine.connect() as conn:
        conn.exec_driver_sql(f'ANALYZE "{handle.schema}".river_job')
        conn.commit()


def test_counts_by_state_stop_at_the_limit(handle: DriverHandle) -> None:
    for _ in range(3):
        handle.insert()
    handle.insert(state=JobState.PENDING)
    expected = {**dict.fromkeys(JobState, 0), JobState.AVAILABLE: 3, JobState.PENDING: 1}
    assert handle.run(lambda ex: ex.job_count_by_all_states(limit=10)) == expected
    capped = handle.run(lambda ex: ex.job_count_by_all_states(limit=2))
    assert capped == {**expected, JobState.AVAILABLE: 2}


def test_counts_by_queue_and_state(handle: DriverHandle) -> None:
    for queue in ("a", "a", "a", "b"):
        handle.insert(queue=queue)
    running = handle.insert(queue="b")
    handle.set_columns(running.id, state="running", attempt=1, attempted_at=PAST)
    handle.insert(queue="a", state=JobState.SCHEDULED)

    def counts(names: list[str], limit: int | None = None) -> list[JobCountByQueueAndStateResult]:
        return handle.run(lambda ex: ex.job_count_by_queue_and_state(names, limit))

    assert counts(["b", "a", "none", "a"]) == [
        JobCountByQueueAndStateResult("a", count_available=3, count_running=0),
        JobCountByQueueAndStateResult("b", count_available=1, count_running=1),
        JobCountByQueueAndStateResult("none", count_available=0, count_running=0),
    ]
    assert counts(["a"], limit=2) == [JobCountByQueueAndStateResult("a", 2, 0)]
    assert counts([]) == []


def test_count_estimate_comes_from_statistics(handle: DriverHandle) -> None:
    assert handle.run(lambda ex: ex.job_count_estimate_by_state()) == {}  # never analyzed
    for _ in range(3):
        handle.insert()
    for _ in range(2):
        handle.insert(state=JobState.SCHEDULED, scheduled_at=PAST + timedelta(days=365 * 100))
    _analyze(handle)
    estimate = handle.run(lambda ex: ex.job_count_estimate_by_state())
    assert estimate == {JobState.AVAILABLE: 3, JobState.SCHEDULED: 2}  # a small table: all sampled


def test_queue_name_list(handle: DriverHandle) -> None:
    for name in ("default", "emails", "Email_bulk", "zeta"):
        handle.run(
            lambda ex, name=name: ex.queue_create_or_set_updated_at(
                QueueCreateOrSetUpdatedAtParams(name)
            )
        )

    def names(**kw: object) -> list[str]:
        params = QueueNameListParams(**kw)  # type: ignore[arg-type]
        return handle.run(lambda ex: ex.queue_name_list(params))

    assert names() == ["Email_bulk", "default", "emails", "zeta"]
    assert names(max=2) == ["Email_bulk", "default"]
    assert names(match="email") == ["Email_bulk", "emails"]
    assert names(after="default") == ["emails", "zeta"]
    assert names(exclude=["zeta", "default"]) == ["Email_bulk", "emails"]


def test_kind_list_skips_repeated_kinds(handle: DriverHandle) -> None:
    for kind in ("b", "a", "b", "c", "a", "b"):
        handle.insert(kind=kind)
    assert handle.run(lambda ex: ex.job_kind_list(JobKindListParams())) == ["a", "b", "c"]
    assert handle.run(lambda ex: ex.job_kind_list(JobKindListParams(after="a", max=1))) == ["b"]


def test_list_in_fetch_order_pages_with_a_row_cursor(handle: DriverHandle) -> None:
    fields = [("b", 1, 0), ("a", 2, 0), ("a", 1, 5), ("a", 1, 1), ("a", 1, 1), ("b", 1, 0)]
    jobs = [
        handle.insert(queue=q, priority=p, scheduled_at=PAST + timedelta(minutes=m))
        for q, p, m in fields
    ]
    handle.insert(state=JobState.PENDING, queue="a")  # another state: never listed

    def key(job: JobRow) -> tuple[str, int, object, int]:
        return (job.queue, job.priority, job.scheduled_at, job.id)

    expected = [j.id for j in sorted(jobs, key=key)]
    order = JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT

    def page(after: JobRow | None, descending: bool = False) -> list[JobRow]:
        cursor = None if after is None else (key(after)[:3], after.id)
        params = JobListParams(
            max=2, states=[JobState.AVAILABLE], order_by=order, descending=descending, after=cursor
        )
        return handle.run(lambda ex: ex.job_list(params))

    listed: list[JobRow] = []
    while batch := page(listed[-1] if listed else None):
        listed += batch
    assert [j.id for j in listed] == expected

    listed = []
    while batch := page(listed[-1] if listed else None, descending=True):
        listed += batch
    assert [j.id for j in listed] == expected[::-1]


def test_list_by_finalized_at_pages_through_ties(handle: DriverHandle) -> None:
    times = [PAST, PAST + timedelta(seconds=1), PAST + timedelta(seconds=1), PAST]
    jobs = []
    for at in times:
        job = handle.insert()
        jobs.append(handle.set_columns(job.id, state="completed", finalized_at=at))
    handle.insert()  # available: no finalized_at, never listed
    expected = [j.id for j in sorted(jobs, key=lambda j: (j.finalized_at, j.id), reverse=True)]

    listed: list[JobRow] = []
    while True:
        last = listed[-1] if listed else None
        params = JobListParams(
            max=1,
            states=[JobState.COMPLETED],
            order_by=JobListOrderBy.FINALIZED_AT,
            descending=True,
            after=None if last is None else (last.finalized_at, last.id),
        )
        batch = handle.run(lambda ex, params=params: ex.job_list(params))
        if not batch:
            break
        listed += batch
    assert [j.id for j in listed] == expected
