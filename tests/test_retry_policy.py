"""River's default retry policy: (errors + 1)^4 seconds, +/-10% jitter, capped."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from river_core.errors import ValidationError
from river_core.job import AttemptError, JobRow, JobState
from river_core.retry_policy import (
    MAX_DURATION_NANOSECONDS,
    DefaultRetryPolicy,
    RetryPolicy,
    retry_seconds_without_jitter,
)

RIVER_FIXTURES = Path(__file__).parent / "fixtures" / "river"
RETRY_CASES: list[dict[str, Any]] = json.loads(
    (RIVER_FIXTURES / "protocol_values.json").read_text()
)["retry_cases"]
NOW = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)


def job_with_errors(count: int, *, job_id: int = 1) -> JobRow:
    error = AttemptError(at=NOW, attempt=1, error="boom")
    return JobRow(
        id=job_id,
        kind="k",
        args={},
        state=JobState.RUNNING,
        queue="default",
        priority=1,
        attempt=count + 1,
        max_attempts=25,
        created_at=NOW,
        scheduled_at=NOW,
        errors=[error] * count,
    )


def bounds_ns(error_count: int) -> tuple[int, int]:
    base = retry_seconds_without_jitter(error_count)
    if base * 1e9 >= MAX_DURATION_NANOSECONDS:
        return MAX_DURATION_NANOSECONDS, MAX_DURATION_NANOSECONDS
    return int(base * 0.9 * 1e9), int(base * 1.1 * 1e9)


@pytest.mark.parametrize("case", RETRY_CASES, ids=[str(c["error_count"]) for c in RETRY_CASES])
def test_retry_cases_within_rivers_bounds(case: dict[str, Any]) -> None:
    """`error_count` is River's `len(job.Errors) + 1`; the jitter itself is Go's RNG."""
    low, high = bounds_ns(case["error_count"])
    assert low <= case["expected_delay_ns"] <= high
    now = datetime.fromisoformat(case["now"])
    job = job_with_errors(case["error_count"] - 1, job_id=case["job_id"])
    policy = DefaultRetryPolicy(random.Random(case["seed"]))
    for _ in range(50):
        delay = policy.next_retry(job, now) - now
        delay_ns = delay // timedelta(microseconds=1) * 1000
        assert low - 1000 <= delay_ns <= high


def test_schedule_matches_river() -> None:
    expected = {1: 1, 2: 16, 3: 81, 4: 256, 10: 10_000, 20: 160_000}
    for attempt, seconds in expected.items():
        assert retry_seconds_without_jitter(attempt) == seconds
    assert retry_seconds_without_jitter(309) < MAX_DURATION_NANOSECONDS / 1e9
    assert retry_seconds_without_jitter(310) == MAX_DURATION_NANOSECONDS / 1e9


def test_cap_has_no_jitter() -> None:
    policy = DefaultRetryPolicy()
    for count in (310, 1_000, 1_000_000):
        assert policy.delay_nanoseconds(count) == MAX_DURATION_NANOSECONDS


def test_jitter_spans_ten_percent_each_way() -> None:
    policy = DefaultRetryPolicy(random.Random(7))
    delays = [policy.delay_nanoseconds(5) for _ in range(2_000)]
    base = 625 * 1_000_000_000
    assert min(delays) >= base * 0.9
    assert max(delays) < base * 1.1
    assert min(delays) < base * 0.91 and max(delays) > base * 1.09


def test_seeded_policy_is_deterministic() -> None:
    job = job_with_errors(2)
    first = DefaultRetryPolicy(random.Random(3)).next_retry(job, NOW)
    assert DefaultRetryPolicy(random.Random(3)).next_retry(job, NOW) == first


def test_counts_errors_not_attempts() -> None:
    job = job_with_errors(0)
    job.attempt = 9  # snoozes do not count
    delay = DefaultRetryPolicy().next_retry(job, NOW) - NOW
    assert timedelta(seconds=0.9) <= delay <= timedelta(seconds=1.1)


def test_result_is_utc_and_now_must_be_aware() -> None:
    plus_three = timezone(timedelta(hours=3))
    at = DefaultRetryPolicy().next_retry(job_with_errors(0), NOW.astimezone(plus_three))
    assert at.tzinfo is UTC
    with pytest.raises(ValidationError):
        DefaultRetryPolicy().next_retry(job_with_errors(0), datetime(2026, 1, 1))


def test_protocol() -> None:
    class Fixed:
        def next_retry(self, job: JobRow, now: datetime) -> datetime:
            return now + timedelta(minutes=1)

    assert isinstance(DefaultRetryPolicy(), RetryPolicy)
    assert isinstance(Fixed(), RetryPolicy)
