"""Job rows, states and attempt errors: River's data model, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class JobState(enum.StrEnum):
    """River's `river_job_state` enum."""

    AVAILABLE = "available"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    DISCARDED = "discarded"
    PENDING = "pending"
    RETRYABLE = "retryable"
    RUNNING = "running"
    SCHEDULED = "scheduled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.CANCELLED, JobState.COMPLETED, JobState.DISCARDED})

# River's unique-state bit positions (protocol_values.json: available=1 ... scheduled=128).
UNIQUE_STATE_BITS: dict[JobState, int] = {
    JobState.AVAILABLE: 1 << 0,
    JobState.CANCELLED: 1 << 1,
    JobState.COMPLETED: 1 << 2,
    JobState.DISCARDED: 1 << 3,
    JobState.PENDING: 1 << 4,
    JobState.RETRYABLE: 1 << 5,
    JobState.RUNNING: 1 << 6,
    JobState.SCHEDULED: 1 << 7,
}


@dataclass(frozen=True, slots=True)
class AttemptError:
    """One entry of `river_job.errors`, as River writes it."""

    at: datetime
    attempt: int
    error: str
    trace: str = ""


@dataclass(slots=True)
class JobRow:
    """A row of `river_job`; `args` and `metadata` are decoded JSON objects."""

    id: int
    kind: str
    args: dict[str, Any]
    state: JobState
    queue: str
    priority: int
    attempt: int
    max_attempts: int
    created_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None = None
    attempted_by: list[str] = field(default_factory=list)
    errors: list[AttemptError] = field(default_factory=list)
    finalized_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    unique_key: bytes | None = None
    unique_states: int | None = None
    encoded_args: bytes = b"{}"
