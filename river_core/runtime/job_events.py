"""From written outcomes to job events: the completer's `on_written` while anyone subscribes."""

from __future__ import annotations

import time
from collections.abc import Sequence

from river_core.driver import JobSetStateIfRunningParams, JobSetStateReason
from river_core.events import Event, EventKind, JobStatistics, Subscriptions
from river_core.job import JobRow
from river_core.runtime.job_executor import ExecutorSettings

# The event of each outcome reason (River's `distributeJobEvent`).
KIND_OF_REASON = {
    JobSetStateReason.CANCELLED: EventKind.JOB_CANCELLED,
    JobSetStateReason.COMPLETED: EventKind.JOB_COMPLETED,
    JobSetStateReason.FAILED: EventKind.JOB_FAILED,
    JobSetStateReason.INTERRUPTED: EventKind.JOB_INTERRUPTED,
    JobSetStateReason.SNOOZED: EventKind.JOB_SNOOZED,
}


class JobEventFeed:
    """Emits an event per written outcome, with the row as persisted and the job's timings.

    Timings are recorded by the executor only while someone listens for job events
    (`follow`), so that a client without subscribers does no such work per job.
    """

    def __init__(self, subscriptions: Subscriptions, settings: ExecutorSettings) -> None:
        self._subscriptions = subscriptions
        self._settings = settings

    def follow(self) -> None:
        """Record timings if and only if anyone listens for job events."""
        if not self._subscriptions.wants_job_events:
            self._settings.timings = None
        elif self._settings.timings is None:
            self._settings.timings = {}

    def on_written(
        self, outcomes: Sequence[JobSetStateIfRunningParams], rows: Sequence[JobRow]
    ) -> None:
        timings = self._settings.timings
        now = time.monotonic()
        by_id = {row.id: row for row in rows}
        for outcome in outcomes:
            timing = timings.pop(outcome.id, None) if timings is not None else None
            row = by_id.get(outcome.id)
            if row is None:
                continue
            stats = (
                None
                if timing is None
                else JobStatistics(
                    queue_wait_duration=timing.queue_wait,
                    run_duration=timing.run,
                    complete_duration=now - timing.ended,
                )
            )
            self._subscriptions.emit(Event(KIND_OF_REASON[outcome.reason], job=row, stats=stats))
