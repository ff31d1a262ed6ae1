"""Periodic jobs: `PeriodicJob` (a schedule and a constructor of args) and `PeriodicJobBundle`,
the set a client runs, changed at runtime through `client.periodic_jobs` (River's
`PeriodicJob` and `PeriodicJobBundle`). No I/O: the leader's `PeriodicJobEnqueuer`
(`river_core.maintenance.periodic`) inserts the runs."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NewType

from river_core.errors import ValidationError
from river_core.schedules import Schedule
from river_core.validation import InvalidKindError, validate_kind

__all__ = [
    "PeriodicJob",
    "PeriodicJobBundle",
    "PeriodicJobConstructor",
    "PeriodicJobHandle",
    "validate_periodic_jobs",
]

PeriodicJobHandle = NewType("PeriodicJobHandle", int)
"""Identifies a periodic job added to a client (never reused by that client)."""

PeriodicJobConstructor = Callable[[], Any]
"""Returns the args of a run, or `(args, InsertOpts | None)`, or None to skip the run. Called
on the leader at each run; it must not block."""


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A job inserted at each time of `schedule` with the args `constructor` returns.

    `run_on_start` also inserts a run whenever a client starts leading (and when the job is
    added to a leader). `id` (River's `PeriodicJobOpts.ID`, written to the metadata as
    `river:periodic_job_id`) is required for the exactly-once guarantee: each scheduled time
    of a job with an id is inserted once, across leader changes, and runs a failover missed
    are inserted late (see `river_core.maintenance.periodic`).
    """

    schedule: Schedule
    constructor: PeriodicJobConstructor
    run_on_start: bool = False
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise ValidationError("schedule", "must have a next(after) method (a Schedule)")
        if not callable(self.constructor):
            raise ValidationError("constructor", "must be callable")
        if self.id is not None:
            try:
                validate_kind(self.id)  # River checks ids with the kinds' pattern and length
            except InvalidKindError as exc:
                raise ValidationError("id", exc.message) from None


def validate_periodic_jobs(jobs: Iterable[object]) -> tuple[PeriodicJob, ...]:
    """`jobs` as a tuple of `PeriodicJob`s with distinct ids; `ValidationError` otherwise."""
    checked: list[PeriodicJob] = []
    ids: set[str] = set()
    for job in jobs:
        if not isinstance(job, PeriodicJob):
            raise ValidationError("periodic_jobs", f"must hold PeriodicJobs, not {job!r}")
        if job.id is not None:
            if job.id in ids:
                raise ValidationError("periodic_jobs", f"periodic job id {job.id!r} is given twice")
            ids.add(job.id)
        checked.append(job)
    return tuple(checked)


class PeriodicJobBundle:
    """The periodic jobs of a client; safe to change from any thread, at any time.

    Changes take effect on the leader at once: an added job is scheduled (and inserted if
    `run_on_start`), a removed one has no more runs. Only the leader inserts periodic jobs, so
    a change meant to last should be made on every client, as in River.
    """

    def __init__(self, jobs: Iterable[PeriodicJob] = ()) -> None:
        self._lock = threading.Lock()
        self._handles = itertools.count()
        self._jobs: dict[PeriodicJobHandle, PeriodicJob] = {}
        self._by_id: dict[str, PeriodicJobHandle] = {}
        self._watchers: list[Callable[[], None]] = []
        self.add_many(jobs)

    def add(self, job: PeriodicJob) -> PeriodicJobHandle:
        """Add a job; returns its handle. `ValidationError` if its id is already taken."""
        return self.add_many([job])[0]

    def add_many(self, jobs: Iterable[PeriodicJob]) -> list[PeriodicJobHandle]:
        """Add jobs (all or none); returns their handles in order."""
        checked = validate_periodic_jobs(jobs)
        with self._lock:
            for job in checked:
                if job.id is not None and job.id in self._by_id:
                    raise ValidationError(
                        "id", f"a periodic job with id {job.id!r} is already added"
                    )
            handles = []
            for job in checked:
                handle = PeriodicJobHandle(next(self._handles))
                self._jobs[handle] = job
                if job.id is not None:
                    self._by_id[job.id] = handle
                handles.append(handle)
        self._changed()
        return handles

    def remove(self, handle: PeriodicJobHandle) -> None:
        """Remove a job: its next run and all later ones are cancelled."""
        self.remove_many([handle])

    def remove_many(self, handles: Iterable[PeriodicJobHandle]) -> None:
        with self._lock:
            for handle in handles:
                job = self._jobs.pop(handle, None)
                if job is not None and job.id is not None:
                    del self._by_id[job.id]
        self._changed()

    def remove_by_id(self, job_id: str) -> bool:
        """Remove the job with this id; False if there is none."""
        with self._lock:
            handle = self._by_id.pop(job_id, None)
            if handle is not None:
                del self._jobs[handle]
        self._changed()
        return handle is not None

    def remove_many_by_id(self, job_ids: Iterable[str]) -> None:
        for job_id in job_ids:
            self.remove_by_id(job_id)

    def clear(self) -> None:
        """Remove every job (handles are still never reused)."""
        with self._lock:
            self._jobs.clear()
            self._by_id.clear()
        self._changed()

    def snapshot(self) -> dict[PeriodicJobHandle, PeriodicJob]:
        """The jobs now, by handle."""
        with self._lock:
            return dict(self._jobs)

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` (from the changing thread) after each change; returns the function
        that stops it."""
        with self._lock:
            self._watchers.append(callback)

        def unwatch() -> None:
            with self._lock:
                self._watchers.remove(callback)

        return unwatch

    def _changed(self) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for callback in watchers:
            callback()
