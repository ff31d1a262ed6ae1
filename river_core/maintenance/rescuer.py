"""The rescuer: jobs left `running` by a crashed or lost worker go back to work (River's
JobRescuer)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from river_core.driver import Driver, JobGetStuckParams, JobRescueParams
from river_core.gojson import format_time
from river_core.job import JobRow, JobState
from river_core.maintenance.service import MaintenanceService
from river_core.worker import Job, Workers, decode_args

log = logging.getLogger("river.maintenance")

RESCUE_ERROR = "Stuck job rescued by JobRescuer"  # River's text, as River's UI shows it


class Rescuer(MaintenanceService):
    """Rescues jobs `running` for longer than `rescue_after` seconds, and never before their
    own timeout (a kind's worker timeout, else the client's; no timeout: never, as River).

    A rescued job becomes `cancelled` if a cancel was requested, `discarded` if its kind has
    no worker or it is out of attempts, else `retryable` at its next retry time; an
    AttemptError is appended and `river:rescue_count` incremented. The write re-checks that
    each row is still `running` and still past the horizon.
    """

    name = "rescuer"

    def __init__(
        self,
        driver: Driver,
        *,
        workers: Workers,
        next_retry: Callable[[JobRow], datetime],
        rescue_after: float = 3600.0,
        job_timeout: float = 60.0,
        interval: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, interval=interval, **kwargs)
        self.workers = workers
        self.next_retry = next_retry
        self.rescue_after = rescue_after
        self.job_timeout = job_timeout

    async def _run(self) -> dict[str, int]:
        counts = {"retried": 0, "discarded": 0, "cancelled": 0, "rescued": 0}
        horizon = datetime.now(UTC) - timedelta(seconds=self.rescue_after)
        after_id = 0
        while True:
            size = self.batch_size
            stuck = await self._get_stuck(horizon, after_id, size)
            if stuck:
                after_id = stuck[-1].id
            now = datetime.now(UTC)
            rescues = [p for p in (self._decide(job, now) for job in stuck) if p is not None]
            for params in rescues:
                counts[_COUNT_OF_STATE[params.state]] += 1
            if rescues:
                counts["rescued"] += await self._rescue(rescues, horizon)
            if len(stuck) < size:
                return counts
            await self._pause_between_batches()

    async def _get_stuck(self, horizon: datetime, after_id: int, size: int) -> list[JobRow]:
        params = JobGetStuckParams(stuck_horizon=horizon, max=size, after_id=after_id)
        return await self._batch(lambda ex: ex.job_get_stuck(params))

    async def _rescue(self, rescues: list[JobRescueParams], horizon: datetime) -> int:
        return await self._batch(lambda ex: ex.job_rescue_many(rescues, horizon))

    def _decide(self, job: JobRow, now: datetime) -> JobRescueParams | None:
        """What becomes of a stuck job (None: not stuck yet by its kind's own timeout)."""
        error = json.dumps(
            {
                "at": format_time(now),
                "attempt": max(job.attempt, 0),
                "error": RESCUE_ERROR,
                "trace": "",
            },
            separators=(",", ":"),
        ).encode()

        def rescue(state: JobState, scheduled_at: datetime) -> JobRescueParams:
            finalized_at = None if state is JobState.RETRYABLE else now
            return JobRescueParams(job.id, error, state, scheduled_at, finalized_at)

        if job.metadata.get("cancel_attempted_at"):
            return rescue(JobState.CANCELLED, job.scheduled_at)
        worker = self.workers.get(job.kind)
        if worker is None:
            log.error("rescuer: job %d has unknown kind %r: discarding it", job.id, job.kind)
            return rescue(JobState.DISCARDED, job.scheduled_at)
        try:
            args = decode_args(worker.args_type, job.args)
        except Exception as exc:
            log.error("rescuer: job %d (%s): cannot decode its args: %s", job.id, job.kind, exc)
            if job.attempt < job.max_attempts:
                return rescue(JobState.RETRYABLE, self.next_retry(job))
            return rescue(JobState.DISCARDED, job.scheduled_at)
        timeout = worker.timeout_seconds()
        if timeout is None:
            timeout = self.job_timeout
        if timeout <= 0:
            return None  # no timeout: it may legitimately run for ever
        if job.attempted_at is not None and (now - job.attempted_at).total_seconds() < timeout:
            return None
        if job.attempt >= job.max_attempts:
            return rescue(JobState.DISCARDED, job.scheduled_at)
        retry_at = None
        try:
            retry_at = worker.next_retry(Job(row=job, args=args))
        except Exception as exc:
            log.error("rescuer: job %d (%s): next_retry raised: %s", job.id, job.kind, exc)
        return rescue(JobState.RETRYABLE, retry_at or self.next_retry(job))


_COUNT_OF_STATE = {
    JobState.RETRYABLE: "retried",
    JobState.DISCARDED: "discarded",
    JobState.CANCELLED: "cancelled",
}
