"""river_core: a fast, robust Postgres job queue for Python, compatible with River (Go)."""

from river_core.errors import (
    ConnectionLostError,
    DatabaseError,
    InvalidSchemaNameError,
    JobNotFoundError,
    JobRunningError,
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
from river_core.job import AttemptError, JobRow, JobState

__all__ = [
    "AttemptError",
    "ConnectionLostError",
    "DatabaseError",
    "InvalidSchemaNameError",
    "JobNotFoundError",
    "JobRow",
    "JobRunningError",
    "JobState",
    "NotFoundError",
    "QueryCanceledError",
    "QueueNotFoundError",
    "RiverError",
    "SchemaVersionError",
    "SerializationFailureError",
    "UniqueViolationError",
    "UnknownJobKindError",
    "ValidationError",
]
