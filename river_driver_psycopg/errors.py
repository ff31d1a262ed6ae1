"""Raw psycopg errors (from COPY, outside SQLAlchemy's wrapping) as river_core errors."""

from __future__ import annotations

import psycopg
import psycopg.errors as pg_errors

from river_core.errors import (
    ConnectionLostError,
    QueryCanceledError,
    RiverError,
    SerializationFailureError,
    UniqueViolationError,
)

# Server errors that end the session: admin/crash shutdown, cannot connect now (and class 08).
_SESSION_ENDING_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def map_psycopg_error(exc: BaseException) -> RiverError | None:
    """The river_core error for a raw psycopg error (cause chained), None if not a mapped one."""
    if not isinstance(exc, psycopg.Error):
        return None
    message = str(exc)
    sqlstate = exc.sqlstate
    mapped: RiverError
    if isinstance(exc, pg_errors.UniqueViolation):
        mapped = UniqueViolationError(message)
    elif isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        mapped = SerializationFailureError(message)
    elif isinstance(exc, pg_errors.QueryCanceled):
        mapped = QueryCanceledError(message)
    elif isinstance(exc, psycopg.InterfaceError | psycopg.OperationalError) and (
        sqlstate is None or sqlstate.startswith("08") or sqlstate in _SESSION_ENDING_SQLSTATES
    ):
        mapped = ConnectionLostError(message)
    else:
        return None
    mapped.__cause__ = exc
    return mapped
