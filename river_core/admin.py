"""Admin operations as Executor callables, shared by the sync and the async client."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from river_core.driver import (
    TOPIC_CONTROL,
    TOPIC_INSERT,
    Executor,
    JobCancelParams,
    JobInsertParams,
    JobInsertResult,
    JobListParams,
    Queue,
    QueueUpdateParams,
)
from river_core.errors import JobNotFoundError, QueueNotFoundError
from river_core.job import JobRow, JobState


def _payload(**fields: object) -> str:
    return json.dumps(fields, separators=(",", ":"))


def notify_queues(ex: Executor, queues: Sequence[str]) -> None:
    """One insert NOTIFY per queue, in the caller's transaction (PostgreSQL folds repeats)."""
    if queues:
        ex.notify_many(TOPIC_INSERT, [_payload(queue=q) for q in sorted(set(queues))])


def insert_many(ex: Executor, params: Sequence[JobInsertParams]) -> list[JobInsertResult]:
    """Insert jobs (results in the order of `params`) and NOTIFY the queues of new available
    ones, in one statement: atomic even on an autocommit connection.

    Unique jobs go in unique-key order, so concurrent batches sharing keys lock them in one order
    (no deadlock); a unique job repeated within the batch is inserted once, and each repeat is
    returned as a duplicate of the first (one statement cannot insert a key twice).
    """
    if any(p.unique_key for p in params):
        return _insert_unique_many(ex, params)
    return ex.job_insert_fast_many_notify(params)


def _insert_unique_many(ex: Executor, params: Sequence[JobInsertParams]) -> list[JobInsertResult]:
    """`insert_many` of a batch holding unique jobs: key order, repeats folded."""
    first_of_key: dict[bytes, int] = {}
    sent: list[int] = []
    repeats: list[tuple[int, int]] = []
    for i, p in enumerate(params):
        first = first_of_key.setdefault(p.unique_key, i) if p.unique_key and p.unique_states else i
        if first == i:
            sent.append(i)
        else:
            repeats.append((i, first))
    sent.sort(key=lambda i: params[i].unique_key or b"")
    inserted = ex.job_insert_fast_many_notify([params[i] for i in sent])
    results: dict[int, JobInsertResult] = dict(zip(sent, inserted, strict=True))
    for i, first in repeats:
        results[i] = JobInsertResult(job=results[first].job, unique_skipped_as_duplicated=True)
    return [results[i] for i in range(len(params))]


def insert_many_fast(ex: Executor, params: Sequence[JobInsertParams]) -> int:
    count = ex.job_insert_fast_many_no_returning(params)
    notify_queues(ex, [p.queue for p in params if p.state is JobState.AVAILABLE])
    return count


def job_get(ex: Executor, job_id: int) -> JobRow:
    row = ex.job_get_by_id(job_id)
    if row is None:
        raise JobNotFoundError(job_id)
    return row


def job_cancel(ex: Executor, job_id: int) -> JobRow:
    row = ex.job_cancel(JobCancelParams(id=job_id, cancel_attempted_at=datetime.now(UTC)))
    if row is None:
        raise JobNotFoundError(job_id)
    return row


def job_retry(ex: Executor, job_id: int) -> JobRow:
    row = ex.job_retry(job_id)
    if row is None:
        raise JobNotFoundError(job_id)
    if row.state is JobState.AVAILABLE:
        notify_queues(ex, [row.queue])
    return row


def job_delete(ex: Executor, job_id: int) -> JobRow:
    row = ex.job_delete(job_id)
    if row is None:
        raise JobNotFoundError(job_id)
    return row


def job_list(ex: Executor, params: JobListParams) -> list[JobRow]:
    return ex.job_list(params)


def job_delete_many(ex: Executor, params: JobListParams) -> list[JobRow]:
    return ex.job_delete_many(params)


def queue_get(ex: Executor, name: str) -> Queue:
    queue = ex.queue_get(name)
    if queue is None:
        raise QueueNotFoundError(name)
    return queue


def queue_list(ex: Executor, max: int = 100) -> list[Queue]:
    return ex.queue_list(max)


def queue_pause(ex: Executor, name: str) -> None:
    if not ex.queue_pause(name):
        raise QueueNotFoundError(name)
    ex.notify_many(TOPIC_CONTROL, [_payload(action="pause", queue=name)])


def queue_resume(ex: Executor, name: str) -> None:
    if not ex.queue_resume(name):
        raise QueueNotFoundError(name)
    ex.notify_many(TOPIC_CONTROL, [_payload(action="resume", queue=name)])


def queue_update(ex: Executor, name: str, metadata: bytes | None) -> Queue:
    queue = ex.queue_update(QueueUpdateParams(name=name, metadata=metadata))
    if queue is None:
        raise QueueNotFoundError(name)
    if metadata is not None:
        ex.notify_many(
            TOPIC_CONTROL,
            [_payload(action="metadata_changed", metadata=queue.metadata, queue=name)],
        )
    return queue
