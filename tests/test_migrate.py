"""River's schema through river_core.migrate, checked against River's own files and catalog."""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from river_core import migrate
from river_core.errors import InvalidSchemaNameError, ValidationError

FIXTURES = Path(__file__).parent / "fixtures"
RIVER_FIXTURES = FIXTURES / "river"
EXPECTED_CATALOG = (RIVER_FIXTURES / "schema_main.json").read_text()
BAD_SCHEMAS = ["", "Public", "a-b", "a b", 'a"b', "1abc", "pg_river", "x" * 47, "é"]


def catalog(url: str, schema: str) -> str:
    """Output of the schema-catalog script for `schema`."""
    return subprocess.run(
        [str(FIXTURES / "schema-catalog"), url, schema], capture_output=True, text=True, check=True
    ).stdout


def objects(conn: sa.Connection, schema: str) -> list[str]:
    """Every relation, type and function left in `schema` (ends the transaction it begins)."""
    found = list(
        conn.execute(
            sa.text(
                "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(:s) "
                "UNION ALL SELECT typname FROM pg_type WHERE typnamespace = to_regnamespace(:s) "
                "UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = to_regnamespace(:s)"
            ),
            {"s": schema},
        ).scalars()
    )
    conn.rollback()
    return found


def migration_rows(conn: sa.Connection, schema: str, columns: str = "line, version") -> list[tuple]:
    """river_migration's rows (ends the transaction it begins)."""
    rows = conn.execute(
        sa.text(f'SELECT {columns} FROM "{schema}".river_migration ORDER BY version')
    )
    found = [tuple(row) for row in rows]
    conn.rollback()
    return found


def with_driver(url: str, driver: str) -> str:
    return url.replace("postgresql://", f"postgresql+{driver}://", 1)


@pytest.fixture
def public_url(sync_engine: sa.Engine, database_url: str) -> Iterator[str]:
    """A database of its own, for tests of the default schema (public)."""
    name = f"river_queue_test_migrate_{uuid.uuid4().hex[:8]}"
    with sync_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield f"{database_url.rsplit('/', 1)[0]}/{name}"
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_revisions_hold_rivers_migration_files_unmodified() -> None:
    expected = {
        Path(f["path"]).name: f["sha256"]
        for f in json.loads((RIVER_FIXTURES / "migrations.json").read_text())["files"]
    }
    script = migrate.script_directory()
    assert [r.revision for r in script.walk_revisions("base", "heads")] == [
        f"river_{v:03d}" for v in range(migrate.LATEST_VERSION, 0, -1)
    ]
    for version in range(1, 8):
        module = script.get_revision(f"river_{version:03d}").module
        stem = Path(module.__file__).stem.removeprefix("river_")
        for direction, text in (("up", module.UP_SQL), ("down", module.DOWN_SQL)):
            digest = hashlib.sha256(text.encode()).hexdigest()
            assert digest == expected[f"{stem}.{direction}.sql"], (stem, direction)
    last = script.get_revision("river_008").module
    # River's 008 is one file for up and down, with no effect on PostgreSQL.
    assert (
        expected["008_job_id_autoincrement.up.sql"] == expected["008_job_id_autoincrement.down.sql"]
    )
    assert last.UP_SQL == last.DOWN_SQL and migrate.split_statements(last.UP_SQL) == []


def test_up_down_up_custom_schema(
    sync_engine: sa.Engine, database_url: str, fresh_schema: str
) -> None:
    with sync_engine.connect() as conn:
        assert migrate.current(conn, fresh_schema) == 0
        assert migrate.upgrade(conn, schema=fresh_schema) == list(range(1, 9))
        assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG
        assert migration_rows(conn, fresh_schema) == [("main", v) for v in range(1, 9)]
        assert migrate.current(conn, fresh_schema) == 8
        assert migrate.upgrade(conn, schema=fresh_schema) == []

        assert migrate.downgrade(conn, schema=fresh_schema, target_version=0) == list(
            range(8, 0, -1)
        )
        assert objects(conn, fresh_schema) == []
        assert migrate.current(conn, fresh_schema) == 0

        assert migrate.upgrade(conn, schema=fresh_schema) == list(range(1, 9))
        assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG
        assert not conn.in_transaction()


def test_up_down_up_public(public_url: str) -> None:
    engine = sa.create_engine(with_driver(public_url, "psycopg"))
    try:
        with engine.connect() as conn:
            assert migrate.upgrade(conn) == list(range(1, 9))
            assert catalog(public_url, "public") == EXPECTED_CATALOG
            assert migration_rows(conn, "public") == [("main", v) for v in range(1, 9)]
            assert conn.execute(
                sa.text("SELECT version_num FROM public.river_alembic_version")
            ).all() == [("river_008",)]
            assert (
                conn.execute(sa.text("SELECT to_regclass('public.alembic_version')")).scalar()
                is None
            )
            migrate.downgrade(conn, target_version=0)
            assert objects(conn, "public") == []
            migrate.upgrade(conn)
            assert catalog(public_url, "public") == EXPECTED_CATALOG
    finally:
        engine.dispose()


def test_each_version_down_restores_the_previous_one(
    sync_engine: sa.Engine, database_url: str, fresh_schema: str
) -> None:
    snapshots = {}
    with sync_engine.connect() as conn:
        for version in range(1, 9):
            assert migrate.upgrade(conn, fresh_schema, target_version=version) == [version]
            snapshots[version] = json.loads(catalog(database_url, fresh_schema))
            assert migrate.current(conn, fresh_schema) == version
        for version in range(7, -1, -1):
            assert migrate.downgrade(conn, fresh_schema) == [version + 1]
            assert migrate.current(conn, fresh_schema) == version
            if version == 0:
                assert objects(conn, fresh_schema) == []
                continue
            expected = snapshots[version]
            if version in (2, 3):
                # River's 004 down is not an exact inverse: it keeps 'pending' in the enum and
                # leaves river_job.metadata nullable without a default (002 made it NOT NULL).
                expected["enums"] = snapshots[4]["enums"]
                metadata = next(
                    c for c in expected["tables"]["river_job"]["columns"] if c["name"] == "metadata"
                )
                metadata.update(default=None, not_null=False)
            assert json.loads(catalog(database_url, fresh_schema)) == expected, version
            versions = [row[-1] for row in migration_rows(conn, fresh_schema, "version")]
            assert versions == list(range(1, version + 1))


def test_targets(sync_engine: sa.Engine, fresh_schema: str) -> None:
    with sync_engine.connect() as conn:
        assert migrate.upgrade(conn, fresh_schema, target_version=3) == [1, 2, 3]
        assert migrate.upgrade(conn, fresh_schema, target_version=2) == []
        assert migrate.downgrade(conn, fresh_schema, target_version=3) == []
        with pytest.raises(migrate.MigrationError):
            migrate.downgrade(conn, fresh_schema, target_version=5)
        for bad in (0, 9, -1, True, "3"):
            with pytest.raises(ValidationError):
                migrate.upgrade(conn, fresh_schema, target_version=bad)  # type: ignore[arg-type]
        for bad in (9, -1):
            with pytest.raises(ValidationError):
                migrate.downgrade(conn, fresh_schema, target_version=bad)
        assert migrate.current(conn, fresh_schema) == 3
        assert migrate.downgrade(conn, fresh_schema) == [3]
        assert migrate.upgrade(conn, fresh_schema) == [3, 4, 5, 6, 7, 8]


def test_failed_run_is_safe_to_rerun(
    sync_engine: sa.Engine, database_url: str, fresh_schema: str
) -> None:
    with sync_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE TABLE "{fresh_schema}".river_client (x int)')  # 005 fails
        conn.commit()
        with pytest.raises(sa.exc.ProgrammingError):
            migrate.upgrade(conn, fresh_schema)
        assert not conn.in_transaction()
        assert migrate.current(conn, fresh_schema) == 4
        assert migration_rows(conn, fresh_schema, "version") == [(1,), (2,), (3,), (4,)]
        conn.exec_driver_sql(f'DROP TABLE "{fresh_schema}".river_client')
        conn.commit()
        assert migrate.upgrade(conn, fresh_schema) == [5, 6, 7, 8]
    assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG


def test_connection_in_a_transaction(sync_engine: sa.Engine, fresh_schema: str) -> None:
    with sync_engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))  # autobegins
        with pytest.raises(migrate.MigrationError, match="one transaction"):
            migrate.upgrade(conn, fresh_schema)
        conn.rollback()
        migrate.upgrade(conn, fresh_schema, target_version=7)
        conn.execute(sa.text("SELECT 1"))
        assert migrate.upgrade(conn, fresh_schema) == [8]  # in the caller's transaction
        assert conn.in_transaction()
        conn.rollback()
        assert migrate.current(conn, fresh_schema) == 7


@pytest.mark.parametrize("bad", BAD_SCHEMAS)
def test_bad_schema_names_are_rejected_before_any_statement(
    sync_engine: sa.Engine, bad: str
) -> None:
    with sync_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM pg_class")).scalar()
        conn.rollback()
        for call in (migrate.upgrade, migrate.downgrade, migrate.current):
            with pytest.raises(InvalidSchemaNameError):
                call(conn, bad)
            assert not conn.in_transaction()
        with pytest.raises(InvalidSchemaNameError):
            migrate.sql(bad)
        assert conn.execute(sa.text("SELECT count(*) FROM pg_class")).scalar() == before


def test_default_schema_must_be_a_valid_name(sync_engine: sa.Engine) -> None:
    with sync_engine.connect() as conn:
        conn.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "Mixed_Case"')
        conn.exec_driver_sql('SET search_path TO "Mixed_Case"')
        conn.commit()
        try:
            with pytest.raises(InvalidSchemaNameError):
                migrate.upgrade(conn)
            assert objects(conn, "Mixed_Case") == []
        finally:
            conn.exec_driver_sql('RESET search_path; DROP SCHEMA "Mixed_Case"')
            conn.commit()


def test_offline_sql_reproduces_the_schema(database_url: str, fresh_schema: str) -> None:
    up = migrate.sql(fresh_schema)
    assert "/* TEMPLATE" not in up and f'"{fresh_schema}".river_job' in up
    assert up.count("BEGIN;") == up.count("COMMIT;") == migrate.LATEST_VERSION
    psql = ["psql", database_url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    subprocess.run(psql, input=up, check=True, capture_output=True, text=True)
    assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG
    engine = sa.create_engine(with_driver(database_url, "psycopg"))
    with engine.connect() as conn:
        assert migration_rows(conn, fresh_schema) == [("main", v) for v in range(1, 9)]
        assert migrate.current(conn, fresh_schema) == 8
        down = migrate.sql(fresh_schema, down=True)
        subprocess.run(psql, input=down, check=True, capture_output=True, text=True)
        assert objects(conn, fresh_schema) == []
    engine.dispose()
    assert "river_job" not in migrate.sql(down=True, target_version=7)
    assert migrate.sql(target_version=1).count("COMMIT;") == 1
    assert '"' not in migrate.sql(target_version=1).split("-- Running", 1)[1].split("INSERT")[0]


def test_include_name_keeps_autogenerate_off_rivers_objects(
    sync_engine: sa.Engine, migrated_schema: str
) -> None:
    assert not migrate.include_name("river_job", "table", {"schema_name": None})
    assert not migrate.include_name("river_job_state", "type", {})
    assert migrate.include_name("users", "table", {"schema_name": None})
    assert migrate.include_name(migrated_schema, "schema", {})
    with sync_engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{migrated_schema}"')

        def diffs(**opts: object) -> list[object]:
            return compare_metadata(MigrationContext.configure(conn, opts=opts), sa.MetaData())

        assert diffs()  # River's tables, unfiltered, would be dropped
        assert diffs(include_name=migrate.include_name) == []
        conn.rollback()


async def test_async_connection(database_url: str, fresh_schema: str) -> None:
    engine = create_async_engine(with_driver(database_url, "asyncpg"))
    try:
        async with engine.connect() as conn:
            assert await migrate.upgrade_async(conn, fresh_schema) == list(range(1, 9))
            assert await migrate.current_async(conn, fresh_schema) == 8
            assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG
            assert await migrate.downgrade_async(conn, fresh_schema, 0) == list(range(8, 0, -1))
            assert await migrate.current_async(conn, fresh_schema) == 0
    finally:
        await engine.dispose()


USER_ENV = """\
from alembic import context
from river_core import migrate

connection = context.config.attributes["connection"]
schema = context.config.attributes["schema"]
migrate.run_in_env(connection, schema=schema)
context.configure(
    connection=connection, version_table_schema=schema, include_name=migrate.include_name
)
with context.begin_transaction():
    context.run_migrations()
"""

USER_REVISION = """\
import sqlalchemy as sa
from alembic import context, op

revision = "app_001"
down_revision = None


def upgrade():
    op.create_table("app_thing", sa.Column("id", sa.Integer, primary_key=True),
                    schema=context.config.attributes["schema"])


def downgrade():
    op.drop_table("app_thing", schema=context.config.attributes["schema"])
"""


def test_run_in_env_from_a_users_alembic_env(
    tmp_path: Path, sync_engine: sa.Engine, database_url: str, fresh_schema: str
) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(USER_ENV)
    (tmp_path / "versions" / "app_001.py").write_text(textwrap.dedent(USER_REVISION))
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    with sync_engine.connect() as conn:
        config.attributes.update(connection=conn, schema=fresh_schema)
        command.upgrade(config, "head")
        assert conn.execute(sa.text(f'SELECT * FROM "{fresh_schema}".alembic_version')).all() == [
            ("app_001",)
        ]
        assert conn.execute(
            sa.text(f'SELECT * FROM "{fresh_schema}".river_alembic_version')
        ).all() == [("river_008",)]
        command.downgrade(config, "base")  # the user's history only
        assert migrate.current(conn, fresh_schema) == 8
    assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG
