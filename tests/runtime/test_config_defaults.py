"""`Config` and `QueueConfig`: River's defaults and bounds (no database)."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import pytest

import river_core as river
from river_core.config import default_client_id


def test_config_has_rivers_defaults() -> None:
    """Fetch cooldown 100 ms, poll 1 s, job timeout 1 min, 25 attempts, rescue after 1 h."""
    config = river.Config()
    assert config.fetch_cooldown == 0.1
    assert config.fetch_poll_interval == 1.0
    assert config.job_timeout == 60.0
    assert config.max_attempts == 25
    assert config.rescue_stuck_jobs_after == 3600.0
    assert config.poll_only is False
    assert river.QueueConfig().max_workers == 100


def test_client_id_is_host_name_and_start_time() -> None:
    """River's format: the host name (unsafe characters as `_`) then the UTC start time."""
    at = datetime(2026, 11, 27, 4, 30, 38, 123456, tzinfo=UTC)
    host = re.sub(r"[^A-Za-z0-9_\-]", "_", socket.gethostname())
    assert default_client_id(at) == f"{host}_2026_11_27T04_30_38_123456"
    assert re.fullmatch(r"[A-Za-z0-9_\-]+", river.Config().id)


@pytest.mark.parametrize("max_workers", [0, -1, 10_001, True])
def test_max_workers_outside_one_to_ten_thousand_is_refused(max_workers: int) -> None:
    """River's bounds: 1..10,000 workers per queue (a bool is not a count)."""
    with pytest.raises(river.ValidationError, match="max_workers"):
        river.QueueConfig(max_workers=max_workers)


@pytest.mark.parametrize("max_workers", [1, 10_000])
def test_max_workers_bounds_are_accepted(max_workers: int) -> None:
    """Both ends of 1..10,000 are valid."""
    assert river.QueueConfig(max_workers=max_workers).max_workers == max_workers


def test_bad_intervals_and_queue_names_are_refused() -> None:
    """Typed errors name the field: poll below cooldown, zero intervals, no attempts."""
    with pytest.raises(river.ValidationError, match="fetch_poll_interval"):
        river.Config(fetch_cooldown=1.0, fetch_poll_interval=0.5)
    with pytest.raises(river.ValidationError, match="scheduler_interval"):
        river.Config(scheduler_interval=0)
    with pytest.raises(river.ValidationError, match="max_attempts"):
        river.Config(max_attempts=0)
    with pytest.raises(river.ValidationError):
        river.Config(queues={"bad queue!": river.QueueConfig()})
