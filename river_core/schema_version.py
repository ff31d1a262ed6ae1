"""The River schema version this release needs (kept apart from `migrate`, which loads Alembic)."""

LATEST_VERSION = 8
