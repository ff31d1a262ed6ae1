"""Adopting databases that River's Go migrator manages: `river_migration` is the source of truth."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from river_core import migrate

FIXTURES = Path(__file__).parent / "fixtures"
RIVER_FIXTURES = FIXTURES / "river"
EXPECTED_CATALOG = (RIVER_FIXTURES / "schema_main.json").read_text()
JOB_COLUMNS = "id, kind, args, metadata, tags, state, queue, priority, max_attempts, created_at"


def catalog(url: str, schema: str) -> str:
    return subprocess.run(
        [str(FIXTURES / "schema-catalog"), url, schema], capture_output=True, text=True, check=True
    ).stdout


def read(conn: sa.Connection, sql: str) -> list[tuple[object, ...]]:
    rows = [tuple(row) for row in conn.execute(sa.text(sql))]
    conn.rollback()
    return rows


def go_migrated(conn: sa.Connection, schema: str, version: int) -> None:
    """`schema` as River's Go CLI leaves it at `version`: rows 1..version, no Alembic table."""
    migrate.upgrade(conn, schema)
    migrate.downgrade(conn, schema, target_version=version)
    conn.exec_driver_sql(f'DROP TABLE "{schema}".river_alembic_version')
    conn.commit()


@pytest.mark.parametrize("version", range(1, 8))
def test_adopts_a_go_migrated_schema(
    sync_engine: sa.Engine, database_url: str, fresh_schema: str, version: int
) -> None:
    with sync_engine.connect() as conn:
        go_migrated(conn, fresh_schema, version)
        if version >= 2:
            conn.exec_driver_sql(
                f'INSERT INTO "{fresh_schema}".river_job '
                "(kind, args, metadata, tags, max_attempts) "
                """VALUES ('adopted', '{"n": 1}', '{"m": 2}', '{t}', 5)"""
            )
            conn.commit()
        jobs = (
            read(conn, f'SELECT {JOB_COLUMNS} FROM "{fresh_schema}".river_job')
            if version >= 2
            else []
        )
        rows = read(
            conn, f'SELECT version, created_at FROM "{fresh_schema}".river_migration ORDER BY 1'
        )
        assert [r[0] for r in rows] == list(range(1, version + 1))

        assert migrate.current(conn, fresh_schema) == version
        assert migrate.upgrade(conn, fresh_schema) == list(range(version + 1, 9))

        if version >= 2:
            assert read(conn, f'SELECT {JOB_COLUMNS} FROM "{fresh_schema}".river_job') == jobs
        after = read(
            conn, f'SELECT version, created_at FROM "{fresh_schema}".river_migration ORDER BY 1'
        )
        assert after[:version] == rows
        assert [r[0] for r in after] == list(range(1, 9))
        assert read(conn, f'SELECT version_num FROM "{fresh_schema}".river_alembic_version') == [
            ("river_008",)
        ]
    assert catalog(database_url, fresh_schema) == EXPECTED_CATALOG


def test_go_migrator_moved_the_schema_after_us(sync_engine: sa.Engine, fresh_schema: str) -> None:
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, fresh_schema, target_version=7)
        # River's Go CLI then migrated down to 5; it leaves river_alembic_version alone:
        migrate.downgrade(conn, fresh_schema, target_version=5)
        conn.exec_driver_sql(
            f"UPDATE \"{fresh_schema}\".river_alembic_version SET version_num = 'river_007'"
        )
        conn.commit()
        assert migrate.current(conn, fresh_schema) == 5
        assert migrate.upgrade(conn, fresh_schema) == [6, 7, 8]


def test_refuses_a_schema_newer_than_this_release(
    sync_engine: sa.Engine, fresh_schema: str
) -> None:
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, fresh_schema)
        conn.exec_driver_sql(
            f"INSERT INTO \"{fresh_schema}\".river_migration (line, version) VALUES ('main', 9)"
        )
        conn.commit()
        assert migrate.current(conn, fresh_schema) == 9
        for call in (migrate.upgrade, migrate.downgrade):
            with pytest.raises(migrate.MigrationError, match="newer"):
                call(conn, fresh_schema)
        assert read(conn, f'SELECT version_num FROM "{fresh_schema}".river_alembic_version') == [
            ("river_008",)
        ]


def test_other_lines_are_ignored(sync_engine: sa.Engine, fresh_schema: str) -> None:
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, fresh_schema, target_version=6)
        conn.exec_driver_sql(
            f"INSERT INTO \"{fresh_schema}\".river_migration (line, version) VALUES ('workflow', 7)"
        )
        conn.commit()
        assert migrate.current(conn, fresh_schema) == 6
        assert migrate.upgrade(conn, fresh_schema) == [7, 8]
