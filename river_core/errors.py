"""Typed errors raised by river_core and its drivers."""

from __future__ import annotations


class RiverError(Exception):
    """Base class of every error river_core raises on purpose."""


class ValidationError(RiverError, ValueError):
    """A bad input, rejected before any statement is sent. `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidSchemaNameError(ValidationError):
    """A schema name that is not a safe, short PostgreSQL identifier."""

    def __init__(self, message: str) -> None:
        super().__init__("schema", message)


class UnknownJobKindError(RiverError):
    """A job kind that no registered worker handles."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"job kind is not registered in the client's workers: {kind!r}")
        self.kind = kind


class SchemaVersionError(RiverError):
    """The database schema is not at the version this release needs."""

    def __init__(self, current: int, required: int) -> None:
        super().__init__(
            f"River schema is at version {current}, this release needs version {required}: "
            "run `river migrate up`"
        )
        self.current = current
        self.required = required


class NotFoundError(RiverError):
    """A job or queue that does not exist."""


class JobNotFoundError(NotFoundError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job not found: {job_id}")
        self.job_id = job_id


class QueueNotFoundError(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"queue not found: {name!r}")
        self.name = name


class JobRunningError(RiverError):
    """A running job cannot be deleted: cancel it first, or wait for it to finish."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job is running, cancel it before deleting it: {job_id}")
        self.job_id = job_id


class DatabaseError(RiverError):
    """A failure reported by the database or the connection to it."""


class ConnectionLostError(DatabaseError):
    """The connection to PostgreSQL dropped or could not be made."""


class UniqueViolationError(DatabaseError):
    """A unique constraint refused a row."""


class SerializationFailureError(DatabaseError):
    """PostgreSQL aborted the transaction for a serialization failure or deadlock."""


class QueryCanceledError(DatabaseError):
    """The statement was cancelled (statement timeout or cancel request)."""


class InsufficientPrivilegeError(DatabaseError):
    """The database role may not do this (SQLSTATE 42501: not the owner, no grant)."""
