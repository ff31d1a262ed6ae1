"""The schedule protocol and interval schedules (River's PeriodicInterval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from river_core.errors import ValidationError
from river_core.schedules import IntervalSchedule, Schedule, interval_schedule, zone_of

NEW_YORK = ZoneInfo("America/New_York")


def test_next_adds_the_interval_without_truncating() -> None:
    after = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
    assert interval_schedule(timedelta(minutes=15)).next(after) == datetime(
        2026, 1, 2, 3, 19, 5, 678900, tzinfo=UTC
    )


def test_next_adds_elapsed_time_across_dst() -> None:
    # Go's Time.Add: 1h after 01:30 EST on the day clocks skip 02:00-03:00 is 03:30 EDT.
    after = datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)
    result = interval_schedule(timedelta(hours=1)).next(after)
    assert result.isoformat() == "2026-03-08T03:30:00-04:00"
    assert result.tzinfo is NEW_YORK
    # And through the repeated hour when clocks go back.
    fall = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)
    schedule = interval_schedule(timedelta(hours=1))
    first = schedule.next(fall)
    second = schedule.next(first)
    assert [first.isoformat(), second.isoformat()] == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
    ]


def test_keeps_the_zone_of_after() -> None:
    zone = timezone(timedelta(hours=5, minutes=30))
    after = datetime(2026, 1, 1, 23, 50, tzinfo=zone)
    assert interval_schedule(timedelta(minutes=20)).next(after).isoformat() == (
        "2026-01-02T00:10:00+05:30"
    )


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-1)])
def test_interval_must_be_positive(interval: timedelta) -> None:
    with pytest.raises(ValidationError, match="interval: must be positive"):
        interval_schedule(interval)


def test_naive_after_raises() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        interval_schedule(timedelta(minutes=1)).next(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        zone_of(datetime(2026, 1, 1))
    assert zone_of(datetime(2026, 1, 1, tzinfo=NEW_YORK)) is NEW_YORK


def test_protocol() -> None:
    schedule = interval_schedule(timedelta(minutes=5))
    assert isinstance(schedule, IntervalSchedule)
    assert isinstance(schedule, Schedule)
    assert schedule == IntervalSchedule(timedelta(minutes=5))
    assert not isinstance(object(), Schedule)


@given(
    interval=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400)),
    after=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from([UTC, NEW_YORK, ZoneInfo("Australia/Lord_Howe")]),
    ),
)
def test_runs_are_exactly_one_interval_apart(interval: timedelta, after: datetime) -> None:
    schedule = interval_schedule(interval)
    first = schedule.next(after)
    second = schedule.next(first)
    assert first.astimezone(UTC) - after.astimezone(UTC) == interval
    assert second.astimezone(UTC) - first.astimezone(UTC) == interval
    assert after.timestamp() < first.timestamp() < second.timestamp()
