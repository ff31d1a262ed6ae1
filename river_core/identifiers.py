"""Validation and quoting of SQL identifiers (schema names) that cannot be bound as values."""

from __future__ import annotations

import re

from river_core.errors import InvalidSchemaNameError

# `<schema>.river_leadership` must fit PostgreSQL's 63-byte identifiers for NOTIFY channels.
MAX_SCHEMA_LENGTH = 46
_SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)


def validate_schema(schema: str | None) -> str | None:
    """Return `schema` unchanged if it is a safe lowercase identifier (or None), else raise."""
    if schema is None:
        return None
    if not isinstance(schema, str):
        raise InvalidSchemaNameError(f"must be a string, not {type(schema).__name__}")
    if not schema:
        raise InvalidSchemaNameError("must not be empty")
    if len(schema.encode()) > MAX_SCHEMA_LENGTH:
        raise InvalidSchemaNameError(
            f"must be at most {MAX_SCHEMA_LENGTH} bytes, got {len(schema.encode())}"
        )
    if not _SCHEMA_PATTERN.fullmatch(schema):
        raise InvalidSchemaNameError(
            f"{schema!r} must be a lowercase identifier: letters a-z, digits and underscores, "
            "not starting with a digit"
        )
    if schema.startswith("pg_"):
        raise InvalidSchemaNameError(f"{schema!r}: names starting with pg_ are reserved")
    return schema


def quote_schema(schema: str) -> str:
    """Quote a validated schema name for DDL text."""
    validate_schema(schema)
    return '"' + schema + '"'


def notify_channel(schema: str | None, topic: str) -> str:
    """The NOTIFY channel River uses for `topic` in `schema` (`<schema>.<topic>`)."""
    return f"{schema or 'public'}.{topic}"
