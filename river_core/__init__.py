"""river_core: a fast, robust Postgres job queue for Python, compatible with River (Go)."""

from river_core.client import AsyncClient, Client, InsertResult
from river_core.config import Config, QueueConfig
from river_core.cron import CronSyntaxError, cron_schedule
from river_core.driver import JobInsertParams, JobListOrderBy, JobListParams, Queue
from river_core.error_handler import ErrorHandler, ErrorHandlerResult
from river_core.errors import (
    ConnectionLostError,
    DatabaseError,
    InvalidSchemaNameError,
    JobNotFoundError,
    NotFoundError,
    QueryCanceledError,
    QueueNotFoundError,
    RiverError,
    SchemaVersionError,
    SerializationFailureError,
    UniqueViolationError,
    UnknownJobKindError,
    ValidationError,
)
from river_core.events import Event, EventKind, JobStatistics, Subscription
from river_core.hooks import HookInsertBegin, HookWorkBegin, HookWorkEnd
from river_core.insert_opts import InsertOpts, UniqueOpts
from river_core.insert_params import InsertManyParams
from river_core.job import AttemptError, JobRow, JobState
from river_core.job_complete_tx import complete_tx, complete_tx_sync
from river_core.middleware import InsertMiddleware, WorkerMiddleware
from river_core.periodic_job import PeriodicJob, PeriodicJobBundle, PeriodicJobHandle
from river_core.retry_policy import DefaultRetryPolicy, RetryPolicy
from river_core.schedules import Schedule, interval_schedule
from river_core.unique import unique_key
from river_core.worker import (
    Job,
    JobCancel,
    JobCancelledRemotelyError,
    JobSnooze,
    JobTimeoutError,
    Worker,
    Workers,
)

__all__ = [
    "AsyncClient",
    "AttemptError",
    "Client",
    "Config",
    "ConnectionLostError",
    "CronSyntaxError",
    "DatabaseError",
    "DefaultRetryPolicy",
    "ErrorHandler",
    "ErrorHandlerResult",
    "Event",
    "EventKind",
    "HookInsertBegin",
    "HookWorkBegin",
    "HookWorkEnd",
    "InsertManyParams",
    "InsertMiddleware",
    "InsertOpts",
    "InsertResult",
    "InvalidSchemaNameError",
    "Job",
    "JobCancel",
    "JobCancelledRemotelyError",
    "JobInsertParams",
    "JobListOrderBy",
    "JobListParams",
    "JobNotFoundError",
    "JobRow",
    "JobSnooze",
    "JobState",
    "JobStatistics",
    "JobTimeoutError",
    "NotFoundError",
    "PeriodicJob",
    "PeriodicJobBundle",
    "PeriodicJobHandle",
    "QueryCanceledError",
    "Queue",
    "QueueConfig",
    "QueueNotFoundError",
    "RetryPolicy",
    "RiverError",
    "Schedule",
    "SchemaVersionError",
    "SerializationFailureError",
    "Subscription",
    "UniqueOpts",
    "UniqueViolationError",
    "UnknownJobKindError",
    "ValidationError",
    "Worker",
    "WorkerMiddleware",
    "Workers",
    "complete_tx",
    "complete_tx_sync",
    "cron_schedule",
    "interval_schedule",
    "unique_key",
]
