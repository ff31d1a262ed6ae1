"""Raw asyncpg errors (from COPY, outside SQLAlchemy's wrapping) as river_core errors."""

from __future__ import annotations

import asyncpg
import asyncpg.exceptions as pg_errors

from river_core.errors import (
    ConnectionLostError,
    QueryCanceledError,
    RiverError,
    SerializationFailureError,
    UniqueViolationError,
)

# What asyncpg raises when the connection is gone (InterfaceError only with "connection is
# closed": it also reports misuse, such as two operations at once).
_CONNECTION_LOST = (
    OSError,
    pg_errors.PostgresConnectionError,
    pg_errors.AdminShutdownError,
    pg_errors.CrashShutdownError,
    pg_errors.CannotConnectNowError,
)


def map_asyncpg_error(exc: BaseException) -> RiverError | None:
    """The river_core error for a raw asyncpg error (cause chained), None if not a mapped one."""
    message = str(exc)
    mapped: RiverError
    if isinstance(exc, pg_errors.UniqueViolationError):
        mapped = UniqueViolationError(message)
    elif isinstance(exc, pg_errors.SerializationError | pg_errors.DeadlockDetectedError):
        mapped = SerializationFailureError(message)
    elif isinstance(exc, pg_errors.QueryCanceledError):
        mapped = QueryCanceledError(message)
    elif isinstance(exc, _CONNECTION_LOST) or (
        isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in message
    ):
        mapped = ConnectionLostError(message)
    else:
        return None
    mapped.__cause__ = exc
    return mapped
