"""Retry policies: when a failed job runs again. River's default is `(errors + 1)^4` seconds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from river_core.errors import ValidationError
from river_core.job import JobRow

__all__ = [
    "MAX_DURATION_NANOSECONDS",
    "DefaultRetryPolicy",
    "RetryPolicy",
    "retry_seconds_without_jitter",
]

MAX_DURATION_NANOSECONDS = (1 << 63) - 1
"""Go's largest `time.Duration` (about 292 years): River's cap on a retry delay."""
_MAX_DURATION_SECONDS = MAX_DURATION_NANOSECONDS / 1e9


@runtime_checkable
class RetryPolicy(Protocol):
    """Decides when a job that failed (its error already appended to `job.errors`) runs again."""

    def next_retry(self, job: JobRow, now: datetime) -> datetime: ...


def retry_seconds_without_jitter(attempt: int) -> float:
    """`attempt^4` seconds, capped at Go's largest duration (reached at attempt 310)."""
    return min(float(attempt) ** 4, _MAX_DURATION_SECONDS)


class DefaultRetryPolicy:
    """River's default: `(len(job.errors) + 1)^4` seconds after `now`, jitter +/-10%.

    Counting errors rather than `attempt` keeps snoozes out of the schedule, as River does.
    Once the delay reaches the cap, no jitter is added.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._random = (rng or random.Random()).random

    def delay_nanoseconds(self, error_count: int) -> int:
        """The jittered delay, in nanoseconds, for the `error_count`-th failure."""
        seconds = retry_seconds_without_jitter(error_count)
        if seconds != _MAX_DURATION_SECONDS:
            seconds = min(seconds + seconds * (self._random() * 0.2 - 0.1), _MAX_DURATION_SECONDS)
        return min(int(seconds * 1e9), MAX_DURATION_NANOSECONDS)

    def next_retry(self, job: JobRow, now: datetime) -> datetime:
        """When `job` runs again, in UTC; `now` must be timezone-aware."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValidationError("now", "must be a timezone-aware datetime")
        delay = self.delay_nanoseconds(len(job.errors) + 1)
        return now.astimezone(UTC) + timedelta(microseconds=delay // 1000)
