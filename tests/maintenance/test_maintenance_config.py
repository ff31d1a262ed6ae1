"""Config of leadership and maintenance: River's defaults and bounds (no database)."""

from __future__ import annotations

import pytest

import river_core as river
from river_core.config import REINDEXER_INDEX_NAMES
from river_core.runtime.elector import Elector


def test_rivers_defaults() -> None:
    """A 15 s lease renewed every 5 s; completed and cancelled jobs kept 24 h, discarded
    7 days; queues 24 h; rescue after 1 h; River's services' intervals; a daily reindex."""
    config = river.Config()
    assert config.leader_elect_interval + config.leader_ttl_padding == 15.0
    assert config.leader_elect_interval == 5.0
    assert config.completed_job_retention == config.cancelled_job_retention == 24 * 3600
    assert config.discarded_job_retention == 7 * 24 * 3600
    assert config.queue_retention == 24 * 3600
    assert config.rescue_stuck_jobs_after == 3600
    assert (config.job_cleaner_interval, config.rescuer_interval) == (30.0, 30.0)
    assert (config.queue_cleaner_interval, config.scheduler_interval) == (3600.0, 5.0)
    assert config.reindexer_enabled and config.reindexer_schedule is None
    assert config.reindexer_timeout == 60.0
    assert "river_job_kind" in REINDEXER_INDEX_NAMES and len(REINDEXER_INDEX_NAMES) == 7


def test_elector_timings_from_rivers_constants() -> None:
    """TTL = interval + 10 s padding, jitter 1 s, trusted for TTL - 1 s; scaled when short."""
    elector = Elector(None, "c", interval=5.0, ttl_padding=10.0)  # type: ignore[arg-type]
    assert (elector.ttl, elector.jitter, elector.safety_margin) == (15.0, 1.0, 1.0)
    short = Elector(None, "c", interval=0.5, ttl_padding=1.0)  # type: ignore[arg-type]
    assert (short.ttl, short.jitter, short.safety_margin) == (1.5, 0.1, 0.25)


def test_retention_none_keeps_forever() -> None:
    config = river.Config(
        completed_job_retention=None, cancelled_job_retention=None, discarded_job_retention=None
    )
    assert config.completed_job_retention is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("leader_elect_interval", 0),
        ("leader_ttl_padding", -1.0),
        ("job_cleaner_interval", 0),
        ("rescuer_interval", 0),
        ("queue_cleaner_interval", 0),
        ("queue_retention", 0),
        ("reindexer_timeout", 0),
        ("completed_job_retention", 0),
        ("discarded_job_retention", -5.0),
        ("rescue_stuck_jobs_after", 0),
    ],
)
def test_bad_values_are_refused(field: str, value: float) -> None:
    with pytest.raises(river.ValidationError, match=field):
        river.Config(**{field: value})


def test_rescue_never_before_the_job_timeout() -> None:
    with pytest.raises(river.ValidationError, match="rescue_stuck_jobs_after"):
        river.Config(job_timeout=120.0, rescue_stuck_jobs_after=60.0)
    assert river.Config(job_timeout=0, rescue_stuck_jobs_after=1.0).rescue_stuck_jobs_after == 1.0
