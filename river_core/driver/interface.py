"""The driver interface: the only seam between river_core and the database.

Modelled on River's `riverdriver`. `Executor` runs operations on one connection (sync, written
once against SQLAlchemy); `AsyncExecutor` runs an Executor callable on an async connection
through `run_sync`; `Listener` is the native LISTEN/NOTIFY connection of each driver.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

from river_core.driver.params import (
    JobCancelParams,
    JobCountByQueueAndStateResult,
    JobDeleteBeforeParams,
    JobGetAvailableParams,
    JobGetStuckParams,
    JobInsertParams,
    JobInsertResult,
    JobKindListParams,
    JobListParams,
    JobRescueParams,
    JobScheduleParams,
    JobScheduleResult,
    JobSetStateIfRunningParams,
    JobUpdateParams,
    Leader,
    LeaderElectParams,
    LeaderReelectParams,
    LeaderResignParams,
    Notification,
    Queue,
    QueueCreateOrSetUpdatedAtParams,
    QueueNameListParams,
    QueueUpdateParams,
)
from river_core.job import JobRow, JobState

T = TypeVar("T")

# Unqualified NOTIFY topics; channels are `<schema>.<topic>`.
TOPIC_INSERT = "river_insert"
TOPIC_CONTROL = "river_control"
TOPIC_LEADERSHIP = "river_leadership"


class Executor(abc.ABC):
    """Database operations on one connection, inside whatever transaction it has.

    An Executor never commits or rolls back a transaction it did not open.
    """

    schema: str | None

    # -- jobs ------------------------------------------------------------------------------
    @abc.abstractmethod
    def job_insert_fast_many(self, jobs: Sequence[JobInsertParams]) -> list[JobInsertResult]:
        """Insert jobs in one statement; a unique conflict returns the existing row, skipped."""

    @abc.abstractmethod
    def job_insert_fast_many_notify(self, jobs: Sequence[JobInsertParams]) -> list[JobInsertResult]:
        """`job_insert_fast_many` that also NOTIFYs `river_insert` once per queue given a new
        available job (River's payload), in the same statement: one round trip per insert."""

    @abc.abstractmethod
    def job_insert_fast_many_no_returning(self, jobs: Sequence[JobInsertParams]) -> int:
        """Insert jobs as fast as possible (COPY where the driver can); returns the count."""

    @abc.abstractmethod
    def job_get_available(self, params: JobGetAvailableParams) -> list[JobRow]:
        """Lock, mark running and return available jobs (priority, scheduled_at, id order)."""

    @abc.abstractmethod
    def job_set_state_if_running_many(
        self,
        outcomes: Sequence[JobSetStateIfRunningParams],
        now: datetime | None = None,
        *,
        returning: bool = True,
    ) -> list[JobRow]:
        """Write many outcomes in one statement; only rows still `running` change state.

        Returns every outcome's row after the write, or nothing with `returning=False` (the
        completer's path when nobody subscribed to events)."""

    @abc.abstractmethod
    def job_get_by_id(self, job_id: int) -> JobRow | None: ...

    @abc.abstractmethod
    def job_get_by_id_many(self, ids: Sequence[int]) -> list[JobRow]: ...

    @abc.abstractmethod
    def job_get_by_kind_many(self, kinds: Sequence[str]) -> list[JobRow]: ...

    @abc.abstractmethod
    def job_list(self, params: JobListParams) -> list[JobRow]: ...

    @abc.abstractmethod
    def job_cancel(self, params: JobCancelParams) -> JobRow | None:
        """Cancel a job; a running one gets `cancel_attempted_at` and a control NOTIFY."""

    @abc.abstractmethod
    def job_retry(self, job_id: int, now: datetime | None = None) -> JobRow | None: ...

    @abc.abstractmethod
    def job_delete(self, job_id: int) -> JobRow | None:
        """Delete a job that is not running; raises if it is running."""

    @abc.abstractmethod
    def job_delete_many(self, params: JobListParams) -> list[JobRow]: ...

    @abc.abstractmethod
    def job_delete_before(self, params: JobDeleteBeforeParams) -> int: ...

    @abc.abstractmethod
    def job_get_stuck(self, params: JobGetStuckParams) -> list[JobRow]: ...

    @abc.abstractmethod
    def job_rescue_many(self, params: Sequence[JobRescueParams], stuck_horizon: datetime) -> int:
        """Rescue stuck jobs; a row changes only if it is still `running` and was attempted
        before `stuck_horizon` (a job that finished since it was read keeps its state).
        Returns how many rows changed."""

    @abc.abstractmethod
    def job_schedule(self, params: JobScheduleParams) -> list[JobScheduleResult]: ...

    @abc.abstractmethod
    def job_update(self, params: JobUpdateParams) -> JobRow | None: ...

    @abc.abstractmethod
    def job_count_by_state(self, state: JobState) -> int: ...

    @abc.abstractmethod
    def job_count_by_all_states(self, limit: int | None = None) -> dict[JobState, int]:
        """Jobs in each state; with `limit`, each count stops at `limit` (a bounded index scan
        per state instead of reading every row)."""

    @abc.abstractmethod
    def job_count_by_queue_and_state(
        self, queue_names: Sequence[str], limit: int | None = None
    ) -> list[JobCountByQueueAndStateResult]:
        """Available and running jobs of each named queue, in name order; `limit` caps each
        count as in `job_count_by_all_states`."""

    @abc.abstractmethod
    def job_count_estimate_by_state(self) -> dict[JobState, int]:
        """The planner's estimate of each state's job count (the table's size times the state
        column's most-common-value frequencies), reading no rows. States the statistics do not
        list are missing; the result is empty before the table was first analyzed."""

    @abc.abstractmethod
    def job_kind_list(self, params: JobKindListParams) -> list[str]: ...

    # -- leader ----------------------------------------------------------------------------
    @abc.abstractmethod
    def leader_attempt_elect(self, params: LeaderElectParams) -> Leader | None: ...

    @abc.abstractmethod
    def leader_attempt_reelect(self, params: LeaderReelectParams) -> Leader | None: ...

    @abc.abstractmethod
    def leader_resign(self, params: LeaderResignParams) -> bool:
        """Delete our leader row and NOTIFY `river_leadership` with a `resigned` payload."""

    @abc.abstractmethod
    def leader_get_elected_leader(self) -> Leader | None: ...

    @abc.abstractmethod
    def leader_delete_expired(self, now: datetime | None = None) -> int: ...

    # -- queues ----------------------------------------------------------------------------
    @abc.abstractmethod
    def queue_create_or_set_updated_at(self, params: QueueCreateOrSetUpdatedAtParams) -> Queue: ...

    @abc.abstractmethod
    def queue_get(self, name: str) -> Queue | None: ...

    @abc.abstractmethod
    def queue_list(self, max: int = 100) -> list[Queue]: ...

    @abc.abstractmethod
    def queue_name_list(self, params: QueueNameListParams) -> list[str]:
        """Queue names in order, for autocompletion (River's `QueueNameList`)."""

    @abc.abstractmethod
    def queue_pause(self, name: str, now: datetime | None = None) -> bool:
        """Pause a queue (`*`: all queues); False if no such queue."""

    @abc.abstractmethod
    def queue_resume(self, name: str, now: datetime | None = None) -> bool:
        """Resume a queue (`*`: all queues); False if no such queue."""

    @abc.abstractmethod
    def queue_update(self, params: QueueUpdateParams) -> Queue | None: ...

    @abc.abstractmethod
    def queue_delete_expired(self, updated_at_horizon: datetime, max: int) -> list[str]: ...

    # -- indexes (the reindexer) -------------------------------------------------------------
    @abc.abstractmethod
    def indexes_exist(self, names: Sequence[str]) -> dict[str, bool]:
        """Whether each named index exists in the schema."""

    @abc.abstractmethod
    def index_reindex_artifacts(self, name: str) -> list[str]:
        """Invalid `<name>_ccnew[N]`/`<name>_ccold[N]` indexes an interrupted
        `REINDEX CONCURRENTLY` left behind."""

    @abc.abstractmethod
    def index_drop_if_exists(self, name: str) -> None:
        """`DROP INDEX CONCURRENTLY IF EXISTS`: needs an autocommit connection."""

    @abc.abstractmethod
    def index_reindex(self, name: str) -> None:
        """`REINDEX INDEX CONCURRENTLY`: needs an autocommit connection."""

    # -- misc ------------------------------------------------------------------------------
    @abc.abstractmethod
    def notify_many(self, topic: str, payloads: Sequence[str]) -> None:
        """`pg_notify('<schema>.<topic>', payload)` for each payload, in this transaction."""

    @abc.abstractmethod
    def pg_advisory_xact_lock(self, key: int) -> None: ...

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The highest applied `main`-line version in `river_migration` (0 when none)."""

    @abc.abstractmethod
    def table_truncate(self, tables: Sequence[str]) -> None: ...


class AsyncExecutor(abc.ABC):
    """An async connection: runs Executor callables on it (SQLAlchemy's `run_sync`)."""

    schema: str | None

    @abc.abstractmethod
    async def run(self, fn: Callable[[Executor], T]) -> T:
        """Run `fn` with a sync Executor bound to this connection, without blocking the loop."""

    @abc.abstractmethod
    async def cancel(self) -> None:
        """Send the server a cancel request for the statement this connection is running (as
        psql's Ctrl-C does), while another task awaits `run`: that statement then fails with
        QueryCanceledError, unless it finished first, and `run` returns its result."""


class Listener(abc.ABC):
    """A dedicated, never pooled, autocommit connection for LISTEN/NOTIFY."""

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def listen(self, topic: str) -> None:
        """LISTEN on `<schema>.<topic>`."""

    @abc.abstractmethod
    async def unlisten(self, topic: str) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None: ...

    @abc.abstractmethod
    async def wait_for_notification(self, timeout: float | None = None) -> Notification | None:
        """The next notification (topic unqualified), or None after `timeout` seconds."""


class Driver(abc.ABC):
    """Plugs one DBAPI into river_core: executors, transactions, the listener, errors."""

    schema: str | None

    @property
    @abc.abstractmethod
    def is_async(self) -> bool:
        """True when built on an AsyncEngine."""

    @abc.abstractmethod
    def executor(self, conn: Any) -> Executor:
        """An Executor joining a user's sync `Connection` or `Session` (never commits it)."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Executor]:
        """A new connection and transaction from the sync engine, committed on success."""

    @abc.abstractmethod
    def async_executor(self, conn: Any) -> AsyncExecutor:
        """An AsyncExecutor joining a user's `AsyncConnection` or `AsyncSession`."""

    @abc.abstractmethod
    def async_transaction(self) -> AbstractAsyncContextManager[AsyncExecutor]:
        """A new async connection and transaction, committed on success."""

    @abc.abstractmethod
    def autocommit(self) -> AbstractContextManager[Executor]:
        """A new sync connection in autocommit mode: each statement commits on its own (one
        round trip for a one-statement operation)."""

    @abc.abstractmethod
    def async_autocommit(self) -> AbstractAsyncContextManager[AsyncExecutor]:
        """A new async connection in autocommit mode, for statements that cannot run in a
        transaction block (`REINDEX CONCURRENTLY`)."""

    @abc.abstractmethod
    def listener(self) -> Listener: ...

    @abc.abstractmethod
    def map_error(self, exc: BaseException) -> BaseException:
        """Translate a DBAPI/SQLAlchemy error into a river_core error (or return it as is)."""


__all__ = [
    "TOPIC_CONTROL",
    "TOPIC_INSERT",
    "TOPIC_LEADERSHIP",
    "AsyncExecutor",
    "Driver",
    "Executor",
    "Listener",
]
