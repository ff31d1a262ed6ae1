"""Parameter and result types of the driver interface (River's `riverdriver` params)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from river_core.job import JobRow, JobState


@dataclass(frozen=True, slots=True)
class JobInsertParams:
    """One job to insert; args and metadata are already Go-encoded JSON bytes."""

    kind: str
    encoded_args: bytes
    queue: str = "default"
    priority: int = 1
    max_attempts: int = 25
    metadata: bytes = b"{}"
    state: JobState = JobState.AVAILABLE
    scheduled_at: datetime | None = None  # None: the database's now()
    created_at: datetime | None = None  # None: the database's now()
    tags: Sequence[str] = ()
    unique_key: bytes | None = None
    unique_states: int | None = None  # River's 8-bit mask, as an int


@dataclass(frozen=True, slots=True)
class JobInsertResult:
    job: JobRow
    unique_skipped_as_duplicated: bool


@dataclass(frozen=True, slots=True)
class JobGetAvailableParams:
    """Lock up to `max_to_lock` available jobs of `queue` and mark them running."""

    client_id: str
    queue: str
    max_to_lock: int
    max_attempted_by: int = 100
    now: datetime | None = None


class JobSetStateReason(enum.StrEnum):
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SNOOZED = "snoozed"


@dataclass(frozen=True, slots=True)
class JobSetStateIfRunningParams:
    """One outcome for the completer. Use the constructors in `river_core.driver.outcomes`."""

    id: int
    state: JobState
    reason: JobSetStateReason
    attempt: int | None = None  # set: overwrite the attempt (snooze, interrupt restore it)
    error: bytes | None = None  # one AttemptError JSON object, appended to `errors`
    finalized_at: datetime | None = None
    metadata_updates: bytes | None = None  # a JSON object merged into metadata
    scheduled_at: datetime | None = None


class JobListOrderBy(enum.StrEnum):
    ID = "id"
    SCHEDULED_AT = "scheduled_at"
    FINALIZED_AT = "finalized_at"
    CREATED_AT = "created_at"
    ATTEMPTED_AT = "attempted_at"
    # The fetch index's order within a state (queue, priority, scheduled_at, id): with one
    # state listed, every page is an index range scan, however the table's ids are laid out.
    QUEUE_PRIORITY_SCHEDULED_AT = "queue_priority_scheduled_at"


@dataclass(frozen=True, slots=True)
class JobListParams:
    """Filters of the admin job list; every set filter must match (AND)."""

    max: int = 100
    ids: Sequence[int] | None = None
    kinds: Sequence[str] | None = None
    queues: Sequence[str] | None = None
    states: Sequence[JobState] | None = None
    priorities: Sequence[int] | None = None
    tags: Sequence[str] | None = None  # jobs having any of these tags
    metadata: dict[str, Any] | None = None  # JSON containment (`metadata @> ...`)
    order_by: JobListOrderBy = JobListOrderBy.ID
    descending: bool = False
    # (order value, id) of the last row of the previous page; the order value of
    # QUEUE_PRIORITY_SCHEDULED_AT is a (queue, priority, scheduled_at) tuple.
    after: tuple[Any, int] | None = None


@dataclass(frozen=True, slots=True)
class JobDeleteBeforeParams:
    """Delete finalized jobs older than a horizon per state; None keeps that state forever."""

    max: int
    cancelled_finalized_at_horizon: datetime | None = None
    completed_finalized_at_horizon: datetime | None = None
    discarded_finalized_at_horizon: datetime | None = None
    queues_excluded: Sequence[str] | None = None
    queues_included: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class JobGetStuckParams:
    stuck_horizon: datetime
    max: int
    after_id: int = 0


@dataclass(frozen=True, slots=True)
class JobRescueParams:
    id: int
    error: bytes
    state: JobState
    scheduled_at: datetime
    finalized_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobScheduleParams:
    max: int
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobScheduleResult:
    job: JobRow
    conflict_discarded: bool


@dataclass(frozen=True, slots=True)
class JobCancelParams:
    id: int
    cancel_attempted_at: datetime
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobUpdateParams:
    id: int
    metadata: bytes | None = None  # JSON object
    metadata_do_merge: bool = True


@dataclass(frozen=True, slots=True)
class JobKindListParams:
    max: int = 100
    after: str = ""
    exclude: Sequence[str] = ()
    match: str = ""


@dataclass(frozen=True, slots=True)
class JobCountByQueueAndStateResult:
    queue: str
    count_available: int
    count_running: int


@dataclass(frozen=True, slots=True)
class Leader:
    leader_id: str
    elected_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeaderElectParams:
    leader_id: str
    ttl: timedelta
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeaderReelectParams:
    leader_id: str
    elected_at: datetime
    ttl: timedelta
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeaderResignParams:
    leader_id: str
    elected_at: datetime


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    created_at: datetime
    updated_at: datetime
    paused_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueCreateOrSetUpdatedAtParams:
    name: str
    metadata: bytes = b"{}"
    paused_at: datetime | None = None
    updated_at: datetime | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueUpdateParams:
    name: str
    metadata: bytes | None = None  # None: leave metadata unchanged


@dataclass(frozen=True, slots=True)
class QueueNameListParams:
    max: int = 100
    after: str = ""
    exclude: Sequence[str] = ()
    match: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    topic: str  # unqualified: river_insert, river_control, river_leadership
    payload: str
