"""Alembic environment for River's revisions, for the `alembic` command (see alembic.ini).

`-x schema=NAME` picks the schema (default: the connection's current_schema()); the database
comes from DATABASE_URL or `sqlalchemy.url`. Applications use river_core.migrate instead.
"""

import os

import sqlalchemy as sa
from alembic import context

from river_core import migrate
from river_core.cli import database

schema = context.get_x_argument(as_dictionary=True).get("schema") or None


def run_online(connection: sa.Connection) -> None:
    resolved = migrate.resolve_schema(connection, schema)
    migrate.adopt(connection, resolved)
    connection.commit()
    context.configure(connection=connection, **migrate.context_options(resolved))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        dialect_name="postgresql", literal_binds=True, **migrate.context_options(schema)
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    url = os.environ.get("DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set DATABASE_URL, or sqlalchemy.url in alembic.ini")
    database.run(url, run_online)
