"""River UI's JSON shapes (`RiverJobMinimal`, `RiverJob`, `RiverQueue`), field for field."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from river_core.driver import Queue
from river_core.gojson import format_time
from river_core.job import JobRow, JobState
from river_core.ui.counts import StateCounts


def time_or_none(value: datetime | None) -> str | None:
    """Go's RFC 3339 (nanosecond) encoding of a time, in UTC."""
    return None if value is None else format_time(value)


def args_text(job: JobRow) -> str:
    """The job's args as PostgreSQL prints jsonb (River UI sends them as a string)."""
    return json.dumps(job.args, ensure_ascii=False)


def job_minimal(job: JobRow) -> dict[str, Any]:
    return {
        "id": job.id,
        "args": args_text(job),
        "attempt": job.attempt,
        "attempted_at": time_or_none(job.attempted_at),
        "attempted_by": job.attempted_by,
        "created_at": format_time(job.created_at),
        "finalized_at": time_or_none(job.finalized_at),
        "kind": job.kind,
        "max_attempts": job.max_attempts,
        "priority": job.priority,
        "queue": job.queue,
        "scheduled_at": format_time(job.scheduled_at),
        "state": job.state.value,
        "tags": job.tags,
    }


def job(job: JobRow) -> dict[str, Any]:
    return {
        **job_minimal(job),
        "errors": [
            {"at": format_time(e.at), "attempt": e.attempt, "error": e.error, "trace": e.trace}
            for e in job.errors
        ],
        "metadata": job.metadata,
    }


def queue(queue: Queue, count_available: int, count_running: int) -> dict[str, Any]:
    concurrency = queue.metadata.get("concurrency")
    return {
        "count_available": count_available,
        "count_running": count_running,
        "created_at": format_time(queue.created_at),
        "concurrency": concurrency if isinstance(concurrency, dict) else None,
        "name": queue.name,
        "paused_at": time_or_none(queue.paused_at),
        "updated_at": format_time(queue.updated_at),
    }


def states(counts: StateCounts) -> dict[str, int]:
    return {state.value: counts.counts[state] for state in JobState}
