"""asyncpg errors (raw, or wrapped by SQLAlchemy's adapter) as river_core errors."""

from __future__ import annotations

import asyncpg
import asyncpg.exceptions as pg_errors
import sqlalchemy.exc

from river_core.errors import (
    ConnectionLostError,
    QueryCanceledError,
    RiverError,
    SerializationFailureError,
    UniqueViolationError,
)


def map_asyncpg_error(exc: BaseException) -> RiverError | None:
    """The river_core error for `exc` (cause chained), or None if it is not a mapped one."""
    native: BaseException | None
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return _chain(ConnectionLostError(str(exc.orig)), exc)
        # SQLAlchemy's adapter raises its own DBAPI error from the asyncpg one.
        native = exc.orig.__cause__ if exc.orig is not None else None
    else:
        native = exc
    if native is None:
        return None
    mapped = _map_native(native)
    return None if mapped is None else _chain(mapped, exc)


def _map_native(exc: BaseException) -> RiverError | None:
    message = str(exc)
    if isinstance(exc, pg_errors.UniqueViolationError):
        return UniqueViolationError(message)
    if isinstance(exc, pg_errors.SerializationError | pg_errors.DeadlockDetectedError):
        return SerializationFailureError(message)
    if isinstance(exc, pg_errors.QueryCanceledError):
        return QueryCanceledError(message)
    if isinstance(
        exc,
        OSError
        | pg_errors.PostgresConnectionError
        | pg_errors.AdminShutdownError
        | pg_errors.CrashShutdownError
        | pg_errors.CannotConnectNowError,
    ) or (isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in message):
        return ConnectionLostError(message)
    return None


def _chain(mapped: RiverError, cause: BaseException) -> RiverError:
    mapped.__cause__ = cause
    return mapped
