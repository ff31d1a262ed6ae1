"""The periodic job enqueuer: the leader inserts the runs of periodic jobs (River's
`PeriodicJobEnqueuer`).

In each term of leadership the enqueuer schedules every job of the client's
`PeriodicJobBundle`, inserts every run due (or due within the next 100 ms) in one transaction,
then sleeps until the next run is due or the bundle changes. Runs go through the
client's insert path: options resolution, unique options, insert hooks and middleware, the
NOTIFY of their queue. A run's `scheduled_at` is its target time (unless the constructor's
options set one) and its state stays `available`, as in River; its metadata has River's
`"periodic": true` and, for a job with an id, `river:periodic_job_id`. `run_on_start` inserts
one run, scheduled now, when a term starts and when such a job is added during one.

Exactly once across leader changes, for jobs with an id. River keeps schedules in memory: a new
leader starts each job afresh from its own clock, so runs due while leadership changed hands
are lost and interval schedules shift. Here a job's schedule continues from what is in
`river_job`:

- Each scheduled run records its target time in its metadata as `river:periodic_target_at`
  (RFC 3339, UTC; this library's key, which River ignores) and carries a unique key on
  (id, target time): the SHA-256 that River's unique-key mechanics give a job unique by args,
  kind excluded, whose args are `{"river:periodic_job_id": id, "river:periodic_target_at": t}`,
  unique in every state. Inserting a target time again is skipped by the database as a
  duplicate, whoever tries, for as long as the row is kept.
- When the leader first sees a job with an id (at the start of its term, or when the job is
  added), it reads the target time of the newest row of that id that has one (through the
  metadata index) and continues the schedule from it. Runs that fell due while no client led
  (a killed leader's lease running out, a deploy) are inserted at once, all in one
  transaction, if at most `catch_up` seconds late (`Config.periodic_job_catch_up`, one hour);
  older ones are skipped with a warning. A job with no row left (none yet, or all deleted by
  the job cleaner) starts at `schedule.next(now)`, as in River; one removed and added again
  resumes, catching up within the same bound.
- Within a transaction a job's runs are inserted in target order, one statement per round,
  so the newest row of an id that has a target time holds its latest one.

So a new leader neither skips a run (it resumes from the rows, not from its clock) nor repeats
one (the unique key), even if the old leader's last transaction commits after the new leader
read. Runs of jobs without an id and `run_on_start` runs are as in River: no target time, no
periodic key. A unique key from the run's own options takes precedence over the periodic one.
Schedules are evaluated in UTC (a cron expression without `CRON_TZ=` too; River uses the
process's local zone).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from river_core import admin
from river_core.config import Config
from river_core.driver import (
    Driver,
    Executor,
    JobInsertParams,
    JobInsertResult,
    JobListOrderBy,
    JobListParams,
)
from river_core.gojson import encode_args, encode_value, format_time, parse_json_text
from river_core.insert_chain import InsertChain
from river_core.insert_params import build_insert_params_many
from river_core.job import JobState
from river_core.maintenance.service import LeadershipEndedError, Lease, MaintenanceService
from river_core.periodic_job import PeriodicJob, PeriodicJobBundle, PeriodicJobHandle
from river_core.unique import UniqueOpts, unique_key

__all__ = [
    "PERIODIC_JOB_ID_KEY",
    "PERIODIC_TARGET_AT_KEY",
    "PeriodicJobEnqueuer",
    "last_target_at",
    "periodic_unique_key",
]

log = logging.getLogger("river.maintenance")

PERIODIC_JOB_ID_KEY = "river:periodic_job_id"  # River's MetadataKeyPeriodicJobID
PERIODIC_TARGET_AT_KEY = "river:periodic_target_at"
MARGIN = timedelta(milliseconds=100)  # River: runs due this soon are inserted with those due now
IDLE = 24 * 3600.0  # River's periodicJobEnqueuerVeryLongDuration: no run scheduled
FAILURE_PAUSE = 1.0  # after a failed pass, before the next try
LAST_TARGET_PAGE = 100
_EVERY_STATE = UniqueOpts(by_args=True, exclude_kind=True, by_state=list(JobState))


def periodic_unique_key(job_id: str, target: datetime) -> tuple[bytes, int]:
    """The unique key and states of the run of periodic job `job_id` at `target`."""
    args = encode_args({PERIODIC_JOB_ID_KEY: job_id, PERIODIC_TARGET_AT_KEY: format_time(target)})
    return unique_key("", args, "", _EVERY_STATE, now=target)


@dataclasses.dataclass(frozen=True, slots=True)
class _Run:
    job: PeriodicJob
    target: datetime | None  # None: a run on start
    round: int  # its place among its job's runs of this pass


class PeriodicJobEnqueuer(MaintenanceService):
    """Inserts the due runs of `jobs`, each scheduled target time of a job with an id once."""

    name = "periodic_job_enqueuer"

    def __init__(
        self,
        driver: Driver,
        *,
        jobs: PeriodicJobBundle,
        config: Config,
        catch_up: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, interval=IDLE, **kwargs)
        self.jobs = jobs
        self.config = config
        self.catch_up = timedelta(seconds=catch_up)
        self._chain = InsertChain(config.hooks, config.middleware)
        self._next: dict[PeriodicJobHandle, datetime | None] = {}  # this term's next runs
        self._on_start: set[PeriodicJobHandle] = set()  # runs on start not inserted yet

    async def run(self, lease: Lease) -> None:
        """One term: a pass at once (after the stagger), then one whenever a run is due or
        the jobs change, until cancelled or the lease ends."""
        self._lease = lease
        self._next.clear()
        self._on_start.clear()
        changed = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_change() -> None:
            loop.call_soon_threadsafe(changed.set)

        unwatch = self.jobs.watch(on_change)
        try:
            await self._stagger()
            while True:
                changed.clear()
                try:
                    await self.run_once()
                    delay = self._until_next()
                except LeadershipEndedError:
                    return
                except Exception:
                    delay = FAILURE_PAUSE  # logged by run_once; nothing was advanced
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), delay)
        finally:
            unwatch()

    def _until_next(self) -> float:
        times = [at for at in self._next.values() if at is not None]
        if not times:
            return IDLE
        return max(0.0, (min(times) - datetime.now(UTC)).total_seconds())

    async def _run(self) -> dict[str, int]:
        jobs = self.jobs.snapshot()
        for handle in self._next.keys() - jobs.keys():
            del self._next[handle]
            self._on_start.discard(handle)
        new = {h: job for h, job in jobs.items() if h not in self._next}
        if new:
            await self._schedule(new)
        now = datetime.now(UTC)
        runs, upcoming = self._due(jobs, now)
        counts = {"inserted": 0, "duplicates": 0, "skipped": 0}
        if runs:
            args_types: dict[str, type[Any]] = {}
            rounds: dict[int, list[JobInsertParams]] = {}
            for run in runs:
                params = self._params(run, now, args_types)
                if params is None:
                    counts["skipped"] += 1
                else:
                    rounds.setdefault(run.round, []).append(params)
            if rounds:
                batches = [rounds[k] for k in sorted(rounds)]
                results = await self._batch(lambda ex: self._insert(ex, batches, args_types))
                duplicates = sum(r.unique_skipped_as_duplicated for r in results)
                counts["inserted"] = len(results) - duplicates
                counts["duplicates"] = duplicates
        self._next.update(upcoming)
        self._on_start.clear()
        return counts

    async def _schedule(self, new: Mapping[PeriodicJobHandle, PeriodicJob]) -> None:
        """First runs of newly seen jobs: after the last target time inserted for the id, else
        after now."""
        ids = sorted({job.id for job in new.values() if job.id is not None})
        last: dict[str, datetime | None] = {}
        if ids:
            last = await self._batch(lambda ex: {i: last_target_at(ex, i) for i in ids})
        now = datetime.now(UTC)
        for handle, job in new.items():
            previous = last.get(job.id) if job.id is not None else None
            self._next[handle] = self._next_run(job, previous if previous is not None else now)
            if job.run_on_start:
                self._on_start.add(handle)

    def _due(
        self, jobs: Mapping[PeriodicJobHandle, PeriodicJob], now: datetime
    ) -> tuple[list[_Run], dict[PeriodicJobHandle, datetime | None]]:
        """The runs to insert now (runs on start first, then each job's in target order), and
        each job's next run after them."""
        horizon, until = now - self.catch_up, now + MARGIN
        runs = [_Run(jobs[h], None, 0) for h in sorted(self._on_start)]
        upcoming: dict[PeriodicJobHandle, datetime | None] = {}
        for handle, at in self._next.items():
            job = jobs[handle]
            count = 0
            while at is not None and at < until:
                if at < horizon:
                    log.warning(
                        "%s: periodic job %s: skipping its runs due from %s until %s: "
                        "more than %ss late",
                        self.name,
                        _name(job, handle),
                        at.isoformat(),
                        horizon.isoformat(),
                        self.catch_up.total_seconds(),
                    )
                    at = self._next_run(job, horizon)
                    continue
                runs.append(_Run(job, at, count))
                count += 1
                at = self._next_run(job, at)
            upcoming[handle] = at
        return runs, upcoming

    def _next_run(self, job: PeriodicJob, after: datetime) -> datetime | None:
        """`job.schedule.next(after)`; a schedule that raises has no more runs (logged)."""
        try:
            return job.schedule.next(after)
        except Exception as exc:
            log.error("%s: periodic job %s: its schedule failed: %r", self.name, _name(job), exc)
            return None

    def _params(
        self, run: _Run, now: datetime, args_types: dict[str, type[Any]]
    ) -> JobInsertParams | None:
        """The insert params of a run, or None when its constructor returns None or fails."""
        job = run.job
        try:
            made = job.constructor()
            if made is None:
                log.info("%s: periodic job %s: no job this time", self.name, _name(job))
                return None
            args, opts = made if isinstance(made, tuple) else (made, None)
            (params,) = build_insert_params_many([(args, opts)], self.config, args_types)
        except Exception as exc:
            log.error("%s: periodic job %s: cannot build its job: %r", self.name, _name(job), exc)
            return None
        members: dict[str, Any] = {}
        if job.id is not None:
            members[PERIODIC_JOB_ID_KEY] = job.id
        members["periodic"] = True
        key, states = params.unique_key, params.unique_states
        if job.id is not None and run.target is not None:
            members[PERIODIC_TARGET_AT_KEY] = format_time(run.target)
            if key is None:
                key, states = periodic_unique_key(job.id, run.target)
        return dataclasses.replace(
            params,
            metadata=_set_members(params.metadata, members),
            scheduled_at=params.scheduled_at or run.target or now,
            unique_key=key,
            unique_states=states,
        )

    def _insert(
        self,
        ex: Executor,
        rounds: list[list[JobInsertParams]],
        args_types: dict[str, type[Any]],
    ) -> list[JobInsertResult]:
        """Insert the rounds in order, each through the insert hooks and middleware."""
        runner = self._chain.runner(args_types)
        results: list[JobInsertResult] = []

        def insert(params: list[JobInsertParams]) -> list[JobInsertResult]:
            return admin.insert_many(ex, params)

        for params in rounds:
            results += insert(params) if runner is None else runner(params, insert)
        return results


def last_target_at(ex: Executor, job_id: str) -> datetime | None:
    """The target time of the newest run of periodic job `job_id` that has one."""
    params = JobListParams(
        max=LAST_TARGET_PAGE,
        metadata={PERIODIC_JOB_ID_KEY: job_id},
        order_by=JobListOrderBy.ID,
        descending=True,
    )
    while True:
        rows = ex.job_list(params)
        for row in rows:
            target = _target_at(row.metadata.get(PERIODIC_TARGET_AT_KEY))
            if target is not None:
                return target
        if len(rows) < LAST_TARGET_PAGE:
            return None
        params = dataclasses.replace(params, after=(rows[-1].id, rows[-1].id))


def _target_at(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def _set_members(metadata: bytes, members: Mapping[str, Any]) -> bytes:
    """Go-encoded metadata with `members` set: in place if present, else appended (sjson)."""
    tree = parse_json_text(metadata, field="metadata")
    for key, value in members.items():
        index = next((i for i, (k, _) in enumerate(tree.pairs) if k == key), None)
        if index is None:
            tree.pairs.append((key, value))
        else:
            tree.pairs[index] = (key, value)
    return encode_value(tree, field="metadata")


def _name(job: PeriodicJob, handle: PeriodicJobHandle | None = None) -> str:
    if job.id is not None:
        return repr(job.id)
    return "without id" if handle is None else f"#{handle} (no id)"
