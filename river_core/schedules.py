"""Schedules for periodic jobs: the `Schedule` protocol and fixed-interval schedules. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol, runtime_checkable

from river_core.errors import ValidationError


@runtime_checkable
class Schedule(Protocol):
    """When a periodic job runs next (River's `PeriodicSchedule`)."""

    def next(self, after: datetime) -> datetime | None:
        """The first run strictly after the aware datetime `after`, in `after`'s time zone.

        None means the schedule never runs again (Go's zero time). A naive `after` raises
        `ValidationError`, a `ValueError`.
        """
        ...


def zone_of(after: datetime) -> tzinfo:
    """The time zone of an aware datetime; `ValidationError` (a `ValueError`) if it is naive."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValidationError("after", f"must be a timezone-aware datetime, got {after!r}")
    return after.tzinfo


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Runs every `interval` after the previous run (River's `PeriodicInterval`)."""

    interval: timedelta

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ValidationError("interval", f"must be positive, got {self.interval!r}")

    def next(self, after: datetime) -> datetime:
        """`after + interval` in elapsed time (Go's `Time.Add`, not wall-clock arithmetic).

        Nothing is truncated: sub-second parts of `after` carry over, as in River.
        """
        zone = zone_of(after)
        return (after.astimezone(UTC) + self.interval).astimezone(zone)


def interval_schedule(interval: timedelta) -> IntervalSchedule:
    """A schedule that runs every `interval` (must be positive; `ValidationError` otherwise)."""
    return IntervalSchedule(interval)
