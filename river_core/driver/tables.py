"""SQLAlchemy Core tables of River's schema (migration line `main`, latest version).

Every table has `schema=None`: executors run statements with
`schema_translate_map={None: schema}`, so one set of statements serves every schema. These
definitions describe the tables for statements only; Alembic owns the DDL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from river_core.job import JobState

metadata = sa.MetaData()

TIMESTAMPTZ = pg.TIMESTAMP(timezone=True)

# River's `river_job_state` enum; created by migrations, never by SQLAlchemy.
JOB_STATE = pg.ENUM(
    *(state.value for state in JobState),
    name="river_job_state",
    create_type=False,
    native_enum=True,
    validate_strings=True,
)

river_job = sa.Table(
    "river_job",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("state", JOB_STATE, nullable=False, server_default="available"),
    sa.Column("attempt", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.SmallInteger, nullable=False, server_default="25"),
    sa.Column("attempted_at", TIMESTAMPTZ),
    sa.Column("created_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
    sa.Column("finalized_at", TIMESTAMPTZ),
    sa.Column("scheduled_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Column("args", pg.JSONB, nullable=False),
    sa.Column("attempted_by", pg.ARRAY(sa.Text)),
    sa.Column("errors", pg.ARRAY(pg.JSONB)),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("metadata", pg.JSONB, nullable=False, server_default="{}"),
    sa.Column("queue", sa.Text, nullable=False, server_default="default"),
    sa.Column("tags", pg.ARRAY(sa.VARCHAR(255)), nullable=False, server_default="{}"),
    sa.Column("unique_key", pg.BYTEA),
    sa.Column("unique_states", pg.BIT(8)),
)

river_leader = sa.Table(
    "river_leader",
    metadata,
    sa.Column("elected_at", TIMESTAMPTZ, nullable=False),
    sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
    sa.Column("leader_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, primary_key=True, server_default="default"),
)

river_queue = sa.Table(
    "river_queue",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("created_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
    sa.Column("metadata", pg.JSONB, nullable=False, server_default="{}"),
    sa.Column("paused_at", TIMESTAMPTZ),
    sa.Column("updated_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
)

river_migration = sa.Table(
    "river_migration",
    metadata,
    sa.Column("line", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("created_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
)

river_notification = sa.Table(
    "river_notification",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("created_at", TIMESTAMPTZ, nullable=False, server_default=sa.func.now()),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
)

# The catalog, to see whether a table or column exists (never schema-translated).
pg_attribute = sa.Table(
    "pg_attribute",
    sa.MetaData(),
    sa.Column("attrelid", pg.REGCLASS),
    sa.Column("attname", sa.Text),
    sa.Column("attisdropped", sa.Boolean),
    schema="pg_catalog",
)

# The catalog columns the reindexer reads.
pg_class = sa.Table(
    "pg_class",
    sa.MetaData(),
    sa.Column("oid", pg.OID),
    sa.Column("relname", sa.Text),
    sa.Column("relnamespace", pg.OID),
    sa.Column("relkind", sa.Text),
    sa.Column("reltuples", sa.Float),
    sa.Column("relpages", sa.Integer),
    schema="pg_catalog",
)
pg_namespace = sa.Table(
    "pg_namespace",
    sa.MetaData(),
    sa.Column("oid", pg.OID),
    sa.Column("nspname", sa.Text),
    schema="pg_catalog",
)
pg_index = sa.Table(
    "pg_index",
    sa.MetaData(),
    sa.Column("indexrelid", pg.OID),
    sa.Column("indisvalid", sa.Boolean),
    schema="pg_catalog",
)

# The planner's column statistics, for count estimates that read no rows.
pg_stats = sa.Table(
    "pg_stats",
    sa.MetaData(),
    sa.Column("schemaname", sa.Text),
    sa.Column("tablename", sa.Text),
    sa.Column("attname", sa.Text),
    sa.Column("inherited", sa.Boolean),
    sa.Column("most_common_vals", sa.Text),  # anyarray: read as text[] through text
    sa.Column("most_common_freqs", pg.ARRAY(sa.Float)),
    schema="pg_catalog",
)

# Tables `table_truncate` accepts, by name.
RIVER_TABLES: dict[str, sa.Table] = {
    table.name: table
    for table in (river_job, river_leader, river_migration, river_notification, river_queue)
}
