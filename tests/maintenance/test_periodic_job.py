"""`PeriodicJob`, `PeriodicJobBundle`, the periodic settings of `Config` and the periodic unique
key (no database)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

import river_core as river
from river_core.maintenance.periodic import periodic_unique_key

HOURLY = river.interval_schedule(timedelta(hours=1))


@dataclass
class NoopArgs:
    kind: ClassVar[str] = "noop"


def job(job_id: str | None = None, **kwargs: Any) -> river.PeriodicJob:
    return river.PeriodicJob(HOURLY, NoopArgs, id=job_id, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"schedule": object()}, "schedule"),
        ({"schedule": None}, "schedule"),
        ({"constructor": "NoopArgs"}, "constructor"),
        ({"id": ""}, "id"),
        ({"id": "x"}, "id"),  # River's pattern needs two characters
        ({"id": "a" * 128}, "id"),  # River: shorter than 128
        ({"id": "has space"}, "id"),
        ({"id": "-leading-dash"}, "id"),
    ],
)
def test_bad_periodic_jobs_are_refused(kwargs: dict[str, Any], field: str) -> None:
    arguments = {"schedule": HOURLY, "constructor": NoopArgs, **kwargs}
    with pytest.raises(river.ValidationError, match=f"^{field}:"):
        river.PeriodicJob(**arguments)


@pytest.mark.parametrize("job_id", ["ok", "a" * 127, "reports.daily[eu]:v2", "job<1>/x+y·z"])
def test_ids_matching_rivers_pattern_are_accepted(job_id: str) -> None:
    assert job(job_id).id == job_id


def test_a_cron_schedule_and_run_on_start() -> None:
    periodic = river.PeriodicJob(river.cron_schedule("*/5 * * * *"), NoopArgs, run_on_start=True)
    assert periodic.run_on_start and periodic.id is None


def test_bundle_handles_are_never_reused_and_ids_are_unique() -> None:
    bundle = river.PeriodicJobBundle([job("ja"), job()])
    assert sorted(bundle.snapshot()) == [0, 1]
    assert bundle.add(job("jb")) == 2
    with pytest.raises(river.ValidationError, match="'ja' is already added"):
        bundle.add_many([job("jc"), job("ja")])
    assert sorted(j.id or "" for j in bundle.snapshot().values()) == ["", "ja", "jb"]  # no "jc"
    with pytest.raises(river.ValidationError, match="given twice"):
        bundle.add_many([job("jd"), job("jd")])
    bundle.remove(river.PeriodicJobHandle(0))
    bundle.remove(river.PeriodicJobHandle(0))  # removing twice does nothing
    assert bundle.add(job("ja")) == 3  # its id is free again
    assert bundle.remove_by_id("ja") and not bundle.remove_by_id("ja")
    bundle.remove_many_by_id(["jb", "unknown"])
    assert list(bundle.snapshot()) == [1]
    bundle.clear()
    assert bundle.snapshot() == {}
    assert bundle.add_many([job("ja"), job("jb")]) == [4, 5]
    bundle.remove_many([river.PeriodicJobHandle(4), river.PeriodicJobHandle(5)])
    assert bundle.snapshot() == {}


def test_bundle_watchers_hear_every_change_from_any_thread() -> None:
    bundle = river.PeriodicJobBundle()
    heard: list[str] = []
    unwatch = bundle.watch(lambda: heard.append(threading.current_thread().name))
    thread = threading.Thread(target=lambda: bundle.add(job("jt")), name="other")
    thread.start()
    thread.join()
    bundle.remove_by_id("jt")
    bundle.clear()
    unwatch()
    bundle.add(job())
    assert heard == ["other", "MainThread", "MainThread"]


def test_config_periodic_settings() -> None:
    config = river.Config(periodic_jobs=[job("ja"), job()])
    assert isinstance(config.periodic_jobs, tuple) and len(config.periodic_jobs) == 2
    assert config.periodic_job_catch_up == 3600.0
    with pytest.raises(river.ValidationError, match="given twice"):
        river.Config(periodic_jobs=[job("ja"), job("ja")])
    with pytest.raises(river.ValidationError, match="must hold PeriodicJobs"):
        river.Config(periodic_jobs=[NoopArgs])  # type: ignore[list-item]
    with pytest.raises(river.ValidationError, match="periodic_job_catch_up"):
        river.Config(periodic_job_catch_up=0)


def test_periodic_unique_key_is_rivers_by_args_key_of_id_and_target_in_every_state() -> None:
    """SHA-256 of River's canonical string for a job unique by args (kind excluded) whose args
    are the id and the target time; all eight states (bitmask 255)."""
    at = datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    canonical = (
        '&args={"river:periodic_job_id":"tick","river:periodic_target_at":"2026-01-02T03:04:05.5Z"}'
    )
    assert periodic_unique_key("tick", at) == (hashlib.sha256(canonical.encode()).digest(), 255)
    assert (
        periodic_unique_key("tick", at + timedelta(microseconds=1))[0]
        != hashlib.sha256(canonical.encode()).digest()
    )
    assert periodic_unique_key("other", at)[0] != periodic_unique_key("tick", at)[0]
