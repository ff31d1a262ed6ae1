"""psycopg errors (raw, or wrapped by SQLAlchemy) as river_core errors."""

from __future__ import annotations

import psycopg
import psycopg.errors as pg_errors
import sqlalchemy.exc

from river_core.errors import (
    ConnectionLostError,
    QueryCanceledError,
    RiverError,
    SerializationFailureError,
    UniqueViolationError,
)

# Server errors that end the session: admin/crash shutdown, cannot connect now, class 08.
_SESSION_ENDING_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def map_psycopg_error(exc: BaseException) -> RiverError | None:
    """The river_core error for `exc` (cause chained), or None if it is not a mapped one."""
    native: BaseException | None
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return _chain(ConnectionLostError(str(exc.orig)), exc)
        native = exc.orig
    else:
        native = exc
    if not isinstance(native, psycopg.Error):
        return None
    mapped = _map_native(native)
    return None if mapped is None else _chain(mapped, exc)


def _map_native(exc: psycopg.Error) -> RiverError | None:
    message = str(exc)
    if isinstance(exc, pg_errors.UniqueViolation):
        return UniqueViolationError(message)
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return SerializationFailureError(message)
    if isinstance(exc, pg_errors.QueryCanceled):
        return QueryCanceledError(message)
    sqlstate = exc.sqlstate
    if isinstance(exc, psycopg.InterfaceError | psycopg.OperationalError) and (
        sqlstate is None or sqlstate.startswith("08") or sqlstate in _SESSION_ENDING_SQLSTATES
    ):
        return ConnectionLostError(message)
    return None


def _chain(mapped: RiverError, cause: BaseException) -> RiverError:
    mapped.__cause__ = cause
    return mapped
