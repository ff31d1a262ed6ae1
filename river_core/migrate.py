"""River's schema (migration line `main`) as Alembic revisions, driven from Python.

The revisions live in `alembic/versions/` (in the wheel: `river_core/_alembic/versions/`), one per
River version, `river_001` ... `river_008`. Each runs River's PostgreSQL migration SQL in its own
transaction and records its `river_migration` row as River's Go migrator does, so Go tooling and
this package agree on the version. Alembic's own bookkeeping is the table
`river_alembic_version` in River's schema; `river_migration` stays the source of truth: before
every run the Alembic table is re-pointed at the version `river_migration` records, which is how a
database migrated by River's Go CLI is adopted.

Schema: `schema=None` means the connection's `current_schema()`, the first existing schema of its
search_path, where River's own unqualified SQL would create the tables (`public` by default).
Offline `sql(schema=None)` writes unqualified names, like River's `migrate-get`.

Transactions: pass a connection with no transaction open and every version commits on its own
(PostgreSQL can't use the enum value 004 adds in the transaction that added it, which 006 does).
On a connection already in a transaction, everything runs in that transaction and the caller
commits; a fresh install can't be done that way.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import alembic.op
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import ScriptDirectory

from river_core.errors import InvalidSchemaNameError, RiverError, ValidationError
from river_core.identifiers import quote_schema, validate_schema
from river_core.schema_version import LATEST_VERSION as SCHEMA_VERSION

if TYPE_CHECKING:  # greenlet, which sqlalchemy.ext.asyncio needs, is an optional dependency
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "LATEST_VERSION",
    "VERSION_TABLE",
    "MigrationError",
    "adopt",
    "apply_river_version",
    "context_options",
    "current",
    "current_async",
    "downgrade",
    "downgrade_async",
    "include_name",
    "resolve_schema",
    "run_in_env",
    "script_directory",
    "split_statements",
    "sql",
    "upgrade",
    "upgrade_async",
]

LATEST_VERSION = SCHEMA_VERSION  # re-exported: what this release needs
LINE = "main"
VERSION_TABLE = "river_alembic_version"

# Every table and type any River version creates, for `include_name`.
RIVER_NAMES = frozenset(
    {
        "river_client",
        "river_client_queue",
        "river_job",
        "river_job_state",
        "river_leader",
        "river_migration",
        "river_notification",
        "river_queue",
        VERSION_TABLE,
    }
)

_TEMPLATE = "/* TEMPLATE: schema */"
_LINE_COLUMN_ADDED = 5  # River's migrator writes `line` from version 5 on
_DOLLAR_QUOTE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class MigrationError(RiverError):
    """The database's River migration state does not allow the requested migration."""


@functools.cache
def script_directory() -> ScriptDirectory:
    """River's Alembic scripts: `river_core/_alembic` in a wheel, `alembic/` in a checkout."""
    package = Path(__file__).resolve().parent
    for location in (package / "_alembic", package.parent / "alembic"):
        if (location / "versions").is_dir():
            return ScriptDirectory(str(location))
    raise RuntimeError(f"River's Alembic scripts are missing next to {package}")


def upgrade(
    connection: sa.Connection, schema: str | None = None, target_version: int | None = None
) -> list[int]:
    """Migrate up to `target_version` (default: latest); return the versions applied, in order."""
    validate_schema(schema)
    target = LATEST_VERSION if target_version is None else target_version
    _check_target(target, 1)
    with _ending_own_transaction(connection) as own:
        schema = resolve_schema(connection, schema)
        now = adopt(connection, schema)
        if target <= now:
            return []
        if not own and now < 4 and target >= 6:
            raise MigrationError(
                "versions 4 and 6 can't be applied in one transaction (6 uses the enum value 4 "
                "adds): pass a connection with no transaction open"
            )
        _run(connection, schema, _revision(target), up=True, own=own)
        return list(range(now + 1, target + 1))


def downgrade(
    connection: sa.Connection, schema: str | None = None, target_version: int | None = None
) -> list[int]:
    """Migrate down one version, or to `target_version` (0: remove every River object).

    Returns the versions reverted, in order.
    """
    validate_schema(schema)
    if target_version is not None:
        _check_target(target_version, 0)
    with _ending_own_transaction(connection) as own:
        schema = resolve_schema(connection, schema)
        now = adopt(connection, schema)
        target = max(now - 1, 0) if target_version is None else target_version
        if target > now:
            raise MigrationError(f"can't migrate down to version {target}: schema is at {now}")
        if target == now:
            return []
        _run(connection, schema, _revision(target), up=False, own=own)
        if target == 0:
            connection.execute(sa.schema.DropTable(_version_table(schema), if_exists=True))
        return list(range(now, target, -1))


def current(connection: sa.Connection, schema: str | None = None) -> int:
    """River's version in `schema` per `river_migration` (line main); 0 when not migrated."""
    validate_schema(schema)
    with _ending_own_transaction(connection):
        return _recorded_version(connection, resolve_schema(connection, schema))


def run_in_env(
    connection: sa.Connection, schema: str | None = None, target_version: int | None = None
) -> list[int]:
    """Bring River's schema up to date from a user's own Alembic `env.py` (online mode).

    River's revisions and version table are independent of the user's history. Call it before
    the user's `context.begin_transaction()`, with no transaction open on `connection`, and pass
    `include_name` to the user's `context.configure` so autogenerate leaves River's tables alone.
    """
    return upgrade(connection, schema, target_version)


async def upgrade_async(
    connection: AsyncConnection, schema: str | None = None, target_version: int | None = None
) -> list[int]:
    """`upgrade` on an AsyncConnection."""
    return await connection.run_sync(upgrade, schema, target_version)


async def downgrade_async(
    connection: AsyncConnection, schema: str | None = None, target_version: int | None = None
) -> list[int]:
    """`downgrade` on an AsyncConnection."""
    return await connection.run_sync(downgrade, schema, target_version)


async def current_async(connection: AsyncConnection, schema: str | None = None) -> int:
    """`current` on an AsyncConnection."""
    return await connection.run_sync(current, schema)


def sql(schema: str | None = None, down: bool = False, target_version: int | None = None) -> str:
    """Offline SQL, no database: up from nothing to `target_version` (default latest), or with
    `down`, from the latest version down to `target_version` (default 0, removing everything)."""
    validate_schema(schema)
    target = (0 if down else LATEST_VERSION) if target_version is None else target_version
    _check_target(target, 0 if down else 1)
    buffer = io.StringIO()
    context = _context(
        None,
        schema,
        fn=_steps(_revision(target), up=not down),
        as_sql=True,
        literal_binds=True,
        output_buffer=buffer,
        starting_rev=_revision(LATEST_VERSION) if down else None,
    )
    with Operations.context(context):
        context.run_migrations()
        if target == 0:
            context.execute(sa.schema.DropTable(_version_table(schema), if_exists=True))
    return buffer.getvalue()


def include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
    """`include_name` filter for a user's autogenerate: never propose changes to River's tables."""
    return type_ not in ("table", "type") or name not in RIVER_NAMES


def resolve_schema(connection: sa.Connection, schema: str | None) -> str:
    """`schema`, or the connection's `current_schema()` when None (validated either way)."""
    if schema is not None:
        validate_schema(schema)
        return schema
    name = connection.execute(sa.select(sa.func.current_schema())).scalar()
    if name is None:
        raise InvalidSchemaNameError("the connection's search_path names no existing schema")
    validate_schema(name)
    return str(name)


def adopt(connection: sa.Connection, schema: str) -> int:
    """Point `river_alembic_version` at the version `river_migration` records; return it.

    A database migrated by River's Go migrator (or moved by it since) is adopted this way.
    """
    version = _recorded_version(connection, schema)
    if version > LATEST_VERSION:
        raise MigrationError(
            f"schema {schema!r} is at River version {version}, newer than this release's "
            f"latest ({LATEST_VERSION})"
        )
    context = _context(connection, schema)
    wanted = (_revision(version),) if version else ()
    if tuple(context.get_current_heads()) != wanted:
        context.stamp(script_directory(), _revision(version))
    return version


def context_options(schema: str | None) -> dict[str, Any]:
    """Options for `MigrationContext`/`EnvironmentContext.configure` running River's revisions."""
    return {
        "version_table": VERSION_TABLE,
        "version_table_schema": schema,
        "transaction_per_migration": True,
        "river_schema": schema,
    }


def apply_river_version(version: int, sql: str, *, up: bool) -> None:
    """Run one River migration file in the current revision, then add or remove its
    `river_migration` row the way River's Go migrator does (used by the revision scripts)."""
    context = alembic.op.get_context()
    schema: str | None = context.opts["river_schema"]
    prefix = quote_schema(schema) + "." if schema else ""
    for statement in split_statements(sql.replace(_TEMPLATE, prefix)):
        context.execute(sa.DDL(statement))  # type: ignore[no-untyped-call]
    table = _migration_table(schema)
    if up:
        values: dict[str, object] = {"version": version}
        if version >= _LINE_COLUMN_ADDED:
            values["line"] = LINE
        context.execute(table.insert().values(values))
    elif version > 1:  # down of 001 dropped the table
        condition = table.c.version == version
        if version > _LINE_COLUMN_ADDED:
            condition = sa.and_(table.c.line == LINE, condition)
        context.execute(table.delete().where(condition))


def split_statements(sql: str) -> list[str]:
    """Split SQL at top-level semicolons (not in quotes, dollar quotes or comments).

    Statements keep their leading comments; parts holding only comments are dropped.
    """
    statements: list[str] = []
    start = i = 0
    has_code = False
    while i < len(sql):
        char = sql[i]
        dollar = _DOLLAR_QUOTE.match(sql, i) if char == "$" else None
        if sql.startswith("--", i):
            i = _index(sql, "\n", i)
            continue
        if sql.startswith("/*", i):
            i = _index(sql, "*/", i + 2) + 2
            continue
        if char == ";":
            if has_code:
                statements.append(sql[start:i].strip())
            start, has_code = i + 1, False
        elif char in "'\"":
            i = _index(sql, char, i + 1)
            has_code = True
        elif dollar and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            i = _index(sql, dollar.group(), dollar.end()) + len(dollar.group()) - 1
            has_code = True
        elif not char.isspace():
            has_code = True
        i += 1
    if has_code:
        statements.append(sql[start:].strip())
    return statements


def _index(text: str, token: str, start: int) -> int:
    found = text.find(token, start)
    return len(text) if found < 0 else found


def _revision(version: int) -> str:
    return f"river_{version:03d}" if version else "base"


def _check_target(target: object, lowest: int) -> None:
    if isinstance(target, bool) or not isinstance(target, int):
        raise ValidationError("target_version", f"must be an integer, got {target!r}")
    if not lowest <= target <= LATEST_VERSION:
        raise ValidationError(
            "target_version", f"must be from {lowest} to {LATEST_VERSION}, got {target}"
        )


def _migration_table(schema: str | None) -> sa.TableClause:
    return sa.table(
        "river_migration",
        sa.column("line", sa.Text),
        sa.column("version", sa.BigInteger),
        schema=schema,
    )


def _version_table(schema: str | None) -> sa.Table:
    return sa.Table(VERSION_TABLE, sa.MetaData(), schema=schema)


def _recorded_version(connection: sa.Connection, schema: str) -> int:
    columns = set(
        connection.execute(
            sa.text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:relation) "
                "AND attnum > 0 AND NOT attisdropped"
            ),
            {"relation": f"{quote_schema(schema)}.river_migration"},
        ).scalars()
    )
    if not columns:
        return 0
    table = _migration_table(schema)
    query = sa.select(sa.func.coalesce(sa.func.max(table.c.version), 0))
    if "line" in columns:
        query = query.where(table.c.line == LINE)
    return int(connection.execute(query).scalar_one())


def _steps(destination: str, *, up: bool) -> Any:
    def steps(heads: tuple[str, ...], context: MigrationContext) -> list[MigrationStep]:
        script = script_directory()
        if up:
            return list(script._upgrade_revs(destination, heads))  # type: ignore[arg-type]
        return list(script._downgrade_revs(destination, heads))  # type: ignore[arg-type]

    return steps


def _context(connection: sa.Connection | None, schema: str | None, **opts: Any) -> MigrationContext:
    return MigrationContext.configure(
        connection=connection,
        dialect_name=None if connection is not None else "postgresql",
        opts={"script": script_directory(), **context_options(schema), **opts},
    )


def _run(connection: sa.Connection, schema: str, destination: str, *, up: bool, own: bool) -> None:
    if own:
        connection.commit()  # so that Alembic commits each version on its own
    context = _context(connection, schema, fn=_steps(destination, up=up))
    with Operations.context(context):
        context.run_migrations()


@contextmanager
def _ending_own_transaction(connection: sa.Connection) -> Iterator[bool]:
    """Yield whether the caller had no transaction open; if so, end the one autobegun here."""
    own = not connection.in_transaction()
    try:
        yield own
    except BaseException:
        if own and connection.in_transaction():
            connection.rollback()
        raise
    if own and connection.in_transaction():
        connection.commit()
