"""River's worker-side tools on every async driver: metadata set while a job runs (worker,
middleware, hooks) and recorded output, persisted whatever the outcome; kind aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from runtime_helpers import make_client, running, wait_for_job

import river_core as river
from river_core.driver import Driver
from river_core.job import JobRow, JobState


@dataclass
class OutputArgs:
    fail: bool = False
    kind: ClassVar[str] = "output"


class Stamp:
    """A hook and a middleware setting metadata."""

    def work_begin(self, job: river.Job[Any]) -> None:
        job.set_metadata("from_hook", 1)

    async def work(self, job: river.Job[Any], do_inner: Callable[[], Awaitable[None]]) -> None:
        job.set_metadata("from_middleware", [1, 2])
        await do_inner()


class OutputWorker(river.Worker[OutputArgs]):
    async def work(self, job: river.Job[OutputArgs]) -> None:
        job.set_metadata("from_worker", {"a": "b"})
        job.record_output({"first": True})
        job.record_output({"sum": 42, "text": "déjà"})  # the last one wins
        if job.args.fail:
            raise ValueError("failed after recording")


async def test_metadata_and_output_are_persisted_on_success_and_failure(driver: Driver) -> None:
    stamp = Stamp()
    client = make_client(driver, OutputWorker(), hooks=[stamp], middleware=[stamp])
    ok_id = (await client.insert(OutputArgs())).job.id
    failed_id = (await client.insert(OutputArgs(fail=True))).job.id
    async with running(client):
        ok = await wait_for_job(client, ok_id, {JobState.COMPLETED})
        failed = await wait_for_job(
            client, failed_id, {JobState.RETRYABLE, JobState.AVAILABLE}, errors=1
        )
    for row in (ok, failed):
        assert row.metadata["output"] == {"sum": 42, "text": "déjà"}
        assert row.metadata["from_hook"] == 1
        assert row.metadata["from_middleware"] == [1, 2]
        assert row.metadata["from_worker"] == {"a": "b"}


def test_output_and_metadata_must_be_json_and_not_river_keys() -> None:
    now = datetime.now(UTC)
    row = JobRow(1, "output", {}, JobState.RUNNING, "default", 1, 1, 25, now, now)
    job = river.Job(row=row, args=OutputArgs())
    with pytest.raises(river.ValidationError, match="output"):
        job.record_output({"when": now})
    with pytest.raises(river.ValidationError, match="output"):
        job.record_output(float("nan"))
    with pytest.raises(river.ValidationError, match="too large"):
        job.record_output("x" * (32 * 1024 * 1024))
    with pytest.raises(river.ValidationError, match="river:"):
        job.set_metadata("river:rescue_count", 1)
    assert job.metadata_updates == {}


@dataclass
class RenamedArgs:
    kind: ClassVar[str] = "renamed_new"
    kind_aliases: ClassVar[tuple[str, ...]] = ("renamed_old",)


@dataclass
class OldArgs:
    """What an older release inserted, under the old kind."""

    kind: ClassVar[str] = "renamed_old"


class RenamedWorker(river.Worker[RenamedArgs]):
    def __init__(self) -> None:
        self.kinds: list[str] = []

    async def work(self, job: river.Job[RenamedArgs]) -> None:
        self.kinds.append(job.kind)


async def test_kind_aliases_work_old_jobs_while_new_ones_use_the_new_kind(driver: Driver) -> None:
    worker = RenamedWorker()
    client = make_client(driver, worker)
    old_id = (await river.AsyncClient(driver).insert(OldArgs())).job.id
    new = (await client.insert(RenamedArgs())).job
    assert new.kind == "renamed_new"
    async with running(client):
        await wait_for_job(client, old_id, {JobState.COMPLETED})
        await wait_for_job(client, new.id, {JobState.COMPLETED})
    assert sorted(worker.kinds) == ["renamed_new", "renamed_old"]
