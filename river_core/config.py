"""Client configuration, with River's defaults."""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from river_core.error_handler import ErrorHandler
from river_core.errors import ValidationError
from river_core.hooks import validate_hooks
from river_core.middleware import validate_middleware
from river_core.periodic_job import PeriodicJob, validate_periodic_jobs
from river_core.schedules import Schedule
from river_core.worker import Workers

MAX_WORKERS_LIMIT = 10_000
HOUR = 3600.0
DAY = 24 * HOUR
# River's default reindexer list (`ReindexerIndexNamesDefault`).
REINDEXER_INDEX_NAMES = (
    "river_job_args_index",
    "river_job_kind",
    "river_job_metadata_index",
    "river_job_pkey",
    "river_job_prioritized_fetching_index",
    "river_job_state_and_finalized_at_index",
    "river_job_unique_idx",
)
_CLIENT_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]", re.ASCII)


def default_client_id(now: datetime | None = None) -> str:
    """River's default client id: host name and start time (`web_1_2026_11_27T04_30_38_123456`)."""
    host = _CLIENT_ID_UNSAFE.sub("_", socket.gethostname())
    stamp = (now or datetime.now(UTC)).strftime("%Y_%m_%dT%H_%M_%S_%f")
    return f"{host}_{stamp}"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue this client works: at most `max_workers` jobs at once (1..10,000)."""

    max_workers: int = 100

    def __post_init__(self) -> None:
        if (
            not isinstance(self.max_workers, int)
            or isinstance(self.max_workers, bool)
            or not 1 <= self.max_workers <= MAX_WORKERS_LIMIT
        ):
            raise ValidationError(
                "max_workers",
                f"must be an integer in 1..{MAX_WORKERS_LIMIT}, got {self.max_workers!r}",
            )


@dataclass(slots=True)
class Config:
    """How a client works jobs. Times are in seconds; defaults are River's."""

    queues: dict[str, QueueConfig] = field(default_factory=dict)
    workers: Workers = field(default_factory=Workers)
    id: str = field(default_factory=default_client_id)
    fetch_cooldown: float = 0.1
    fetch_poll_interval: float = 1.0
    job_timeout: float = 60.0  # 0 or less: no timeout
    max_attempts: int = 25
    rescue_stuck_jobs_after: float = HOUR  # never below job_timeout; a kind's own timeout wins
    scheduler_interval: float = 5.0
    # Leadership: a lease of `leader_elect_interval + leader_ttl_padding` (15 s), renewed
    # every `leader_elect_interval`; followers try to elect on that interval (plus jitter).
    leader_elect_interval: float = 5.0
    leader_ttl_padding: float = 10.0
    # Leader-only maintenance. Retentions: None keeps that state forever.
    completed_job_retention: float | None = DAY
    cancelled_job_retention: float | None = DAY
    discarded_job_retention: float | None = 7 * DAY
    job_cleaner_interval: float = 30.0
    rescuer_interval: float = 30.0
    queue_retention: float = DAY  # queues no client has reported for this long are removed
    queue_cleaner_interval: float = HOUR
    reindexer_enabled: bool = True
    reindexer_schedule: Schedule | None = None  # None: daily at midnight UTC (River)
    reindexer_index_names: tuple[str, ...] = REINDEXER_INDEX_NAMES
    reindexer_timeout: float = 60.0
    # Jobs the leader inserts on schedules (`river_core.PeriodicJob`); changed at runtime with
    # `client.periodic_jobs`. Runs of a job with an id missed while no client led are inserted
    # late if at most `periodic_job_catch_up` seconds late (`river_core.maintenance.periodic`).
    periodic_jobs: Sequence[PeriodicJob] = ()
    periodic_job_catch_up: float = HOUR
    poll_only: bool = False
    soft_stop_timeout: float | None = None  # None: a soft stop waits for running jobs forever
    completer_flush_interval: float = 0.05
    completer_max_batch: int = 5_000
    sync_worker_threads: int = 32
    retry_policy: Any = None  # a RetryPolicy; None: River's default
    # Global hooks and middleware (`river_core.hooks`, `river_core.middleware`), run before
    # those of args types and workers; the error handler may override a failed job's outcome.
    hooks: Sequence[object] = ()
    middleware: Sequence[object] = ()
    error_handler: ErrorHandler | None = None
    # Move the objects alive at start (modules, classes, SQLAlchemy's caches) out of the cyclic
    # garbage collector's generations (`gc.freeze()`), so its full collections stay cheap.
    gc_freeze_on_start: bool = True

    def __post_init__(self) -> None:
        from river_core.validation import validate_queue

        for name in self.queues:
            validate_queue(name)
        for name, value in (
            ("fetch_cooldown", self.fetch_cooldown),
            ("fetch_poll_interval", self.fetch_poll_interval),
            ("scheduler_interval", self.scheduler_interval),
            ("completer_flush_interval", self.completer_flush_interval),
            ("rescue_stuck_jobs_after", self.rescue_stuck_jobs_after),
            ("leader_elect_interval", self.leader_elect_interval),
            ("leader_ttl_padding", self.leader_ttl_padding),
            ("job_cleaner_interval", self.job_cleaner_interval),
            ("rescuer_interval", self.rescuer_interval),
            ("queue_retention", self.queue_retention),
            ("queue_cleaner_interval", self.queue_cleaner_interval),
            ("reindexer_timeout", self.reindexer_timeout),
            ("periodic_job_catch_up", self.periodic_job_catch_up),
        ):
            if not value > 0:
                raise ValidationError(name, f"must be > 0, got {value!r}")
        for name, retention in (
            ("completed_job_retention", self.completed_job_retention),
            ("cancelled_job_retention", self.cancelled_job_retention),
            ("discarded_job_retention", self.discarded_job_retention),
        ):
            if retention is not None and not retention > 0:
                raise ValidationError(name, f"must be > 0 or None, got {retention!r}")
        if self.job_timeout > 0 and self.rescue_stuck_jobs_after < self.job_timeout:
            raise ValidationError("rescue_stuck_jobs_after", "must be >= job_timeout")
        if self.fetch_poll_interval < self.fetch_cooldown:
            raise ValidationError("fetch_poll_interval", "must be >= fetch_cooldown")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValidationError("max_attempts", f"must be >= 1, got {self.max_attempts!r}")
        if not self.id or len(self.id) > 100:
            raise ValidationError("id", "must be 1..100 characters")
        self.periodic_jobs = validate_periodic_jobs(self.periodic_jobs)
        self.hooks = validate_hooks(self.hooks, "hooks")
        self.middleware = validate_middleware(self.middleware, "middleware")
        if self.error_handler is not None and not callable(
            getattr(self.error_handler, "handle_error", None)
        ):
            raise ValidationError("error_handler", "must have a handle_error(job, error) method")
