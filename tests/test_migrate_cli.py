"""`river migrate ...` as a user runs it: a subprocess, plain libpq URLs, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from river_core.cli import database

RIVER = str(Path(sys.executable).parent / "river")
FIXTURES = Path(__file__).parent / "fixtures"
RIVER_FIXTURES = FIXTURES / "river"
EXPECTED_CATALOG = (RIVER_FIXTURES / "schema_main.json").read_text()


def river(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PG")}
    return subprocess.run(
        [RIVER, *args], capture_output=True, text=True, env={**base, **(env or {})}, timeout=60
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line, after checking it is the only thing on stderr."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def applied(direction: str, versions: range) -> str:
    return "".join(f"applied migration {v:03d} [{direction}]\n" for v in versions)


def test_up_current_down(database_url: str, fresh_schema: str) -> None:
    url = ["--database-url", database_url, "--schema", fresh_schema]
    assert ok(river("migrate", "current", *url)) == "0\n"
    assert ok(river("migrate", "up", *url, "--target-version", "3", "--line", "main")) == applied(
        "up", range(1, 4)
    )
    assert ok(river("migrate", "up", *url)) == applied("up", range(4, 9))
    assert ok(river("migrate", "up", *url)) == "no migrations to apply\n"
    catalog = [str(FIXTURES / "schema-catalog"), database_url, fresh_schema]
    assert subprocess.run(catalog, capture_output=True, text=True).stdout == EXPECTED_CATALOG
    assert ok(river("migrate", "current", *url)) == "8\n"
    assert ok(river("migrate", "down", *url)) == applied("down", range(8, 7, -1))
    assert ok(river("migrate", "down", *url, "--target-version", "5")) == applied(
        "down", range(7, 5, -1)
    )
    assert ok(river("migrate", "down", *url, "--target-version", "0")) == applied(
        "down", range(5, 0, -1)
    )
    assert ok(river("migrate", "current", *url)) == "0\n"


def test_database_url_from_the_environment_and_postgres_scheme(
    database_url: str, fresh_schema: str
) -> None:
    env = {"DATABASE_URL": database_url.replace("postgresql://", "postgres://", 1)}
    assert ok(river("migrate", "up", "--schema", fresh_schema, env=env)) == applied(
        "up", range(1, 9)
    )
    result = subprocess.run(
        [sys.executable, "-m", "river_core.cli", "migrate", "current", "--schema", fresh_schema],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert ok(result) == "8\n"


def test_asyncpg_when_psycopg_is_missing(database_url: str, fresh_schema: str) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from river_core.cli import main\n"
        "main(prog_name='river')"
    )
    args = ["migrate", "up", "--database-url", database_url, "--schema", fresh_schema]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert ok(result) == applied("up", range(1, 9))


def test_driver_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert database.sqlalchemy_url("postgres://h/db").drivername == "postgresql+psycopg"
    assert database.sqlalchemy_url("postgresql+asyncpg://h/db").drivername == "postgresql+asyncpg"
    monkeypatch.setitem(sys.modules, "psycopg", None)
    assert database.sqlalchemy_url("postgresql://h/db").drivername == "postgresql+asyncpg"


def test_sql_needs_no_database(fresh_schema: str) -> None:
    up = ok(river("migrate", "sql", "--schema", fresh_schema))
    assert f'CREATE TABLE "{fresh_schema}".river_migration(' in up
    assert f"INSERT INTO {fresh_schema}.river_migration (line, version) VALUES ('main', 8);" in up
    down = ok(river("migrate", "sql", "--down", "--target-version", "6"))
    assert "DROP TABLE river_notification;" in down and "river_006 -> river_005" not in down


@pytest.fixture
def unprivileged_url(sync_engine: sa.Engine, database_url: str) -> Iterator[str]:
    """A login role that may connect but not create anything (PostgreSQL 15+ defaults)."""
    role = "river_noprivs_" + uuid.uuid4().hex[:8]
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    yield database_url.replace("postgres@", f"{role}@", 1)
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database-url", "postgresql://postgres@127.0.0.1:1/river"], "Connection refused"),
        (
            ["--database-url", "postgresql+asyncpg://postgres@127.0.0.1:1/river"],
            "could not connect",
        ),
        (["--database-url", "not a url"], "not a database URL"),
        (["--database-url", "mysql://u@h/db"], "unsupported database URL scheme 'mysql'"),
        (["--database-url", "postgresql://postgres@127.0.0.1/river_nope"], "does not exist"),
        ([], "--database-url must be set"),
    ],
)
def test_connection_errors_are_one_line(args: list[str], message: str) -> None:
    assert message in one_line_error(river("migrate", "up", *args))


@pytest.mark.parametrize("schema", ["Bad-Name", "x" * 47])
def test_bad_schema_name_is_one_line(database_url: str, schema: str) -> None:
    line = one_line_error(
        river("migrate", "up", "--database-url", database_url, "--schema", schema)
    )
    assert line.startswith("Error: schema:")


def test_missing_privilege_is_one_line(unprivileged_url: str, fresh_schema: str) -> None:
    line = one_line_error(
        river("migrate", "up", "--database-url", unprivileged_url, "--schema", fresh_schema)
    )
    assert "permission denied for schema" in line
    line = one_line_error(river("migrate", "up", "--database-url", unprivileged_url))
    assert "permission denied for schema public" in line


def test_unknown_line_is_a_usage_error(database_url: str) -> None:
    result = river("migrate", "up", "--database-url", database_url, "--line", "workflow")
    assert result.returncode == 2 and "only the 'main' line exists" in result.stderr
