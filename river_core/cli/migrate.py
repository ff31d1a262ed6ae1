"""`river migrate up|down|current|sql`: River's schema, with River's CLI flags."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click
import sqlalchemy as sa

from river_core import migrate as river_migrate
from river_core.cli import database
from river_core.errors import RiverError

P = ParamSpec("P")
T = TypeVar("T")


def _one_line_errors(command: Callable[P, T]) -> Callable[P, T]:
    """Turn expected failures (database, URL, schema) into one line on stderr and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except sa.exc.DBAPIError as exc:
            raise click.ClickException(_first_line(exc.orig or exc)) from None
        except OSError as exc:
            raise click.ClickException(f"could not connect: {_first_line(exc)}") from None
        except (RiverError, ValueError, sa.exc.SQLAlchemyError) as exc:
            raise click.ClickException(_first_line(exc)) from None

    return wrapper


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_line(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value != river_migrate.LINE:
        raise click.BadParameter(f"only the {river_migrate.LINE!r} line exists, got {value!r}")
    return value


def _schema_and_line(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--schema",
        default="",
        help="Schema of River's tables (default: the connection's current schema).",
    )(command)
    return click.option(
        "--line",
        default=river_migrate.LINE,
        show_default=True,
        callback=_check_line,
        help="Migration line.",
    )(command)


def _database(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--database-url",
        envvar="DATABASE_URL",
        help="postgresql:// or postgres:// URL [env: DATABASE_URL; else PG* variables].",
    )(_schema_and_line(command))


def _target_version(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--target-version", type=int, default=None, help=help)


def _url(database_url: str | None) -> str:
    if database_url:
        return database_url
    if os.environ.get("PGDATABASE"):
        return "postgresql://"  # libpq reads PGHOST, PGUSER, ... itself
    raise click.ClickException("either PG* env vars or --database-url must be set")


def _report(versions: list[int], direction: str) -> None:
    if not versions:
        click.echo("no migrations to apply")
    for version in versions:
        click.echo(f"applied migration {version:03d} [{direction}]")


@click.group()
def migrate() -> None:
    """Migrate River's schema (Alembic revisions river_001..river_008)."""


@migrate.command()
@_database
@_target_version("Version to migrate up to (default: latest).")
@_one_line_errors
def up(database_url: str | None, schema: str, line: str, target_version: int | None) -> None:
    """Apply the migrations the database doesn't have yet."""
    versions = database.run(
        _url(database_url),
        lambda conn: river_migrate.upgrade(conn, schema or None, target_version),
    )
    _report(versions, "up")


@migrate.command()
@_database
@_target_version("Version to migrate down to (default: one version down; 0: remove River).")
@_one_line_errors
def down(database_url: str | None, schema: str, line: str, target_version: int | None) -> None:
    """Revert one migration, or down to --target-version."""
    versions = database.run(
        _url(database_url),
        lambda conn: river_migrate.downgrade(conn, schema or None, target_version),
    )
    _report(versions, "down")


@migrate.command()
@_database
@_one_line_errors
def current(database_url: str | None, schema: str, line: str) -> None:
    """Print River's current version (0: not migrated)."""
    click.echo(
        database.run(_url(database_url), lambda conn: river_migrate.current(conn, schema or None))
    )


@migrate.command()
@_schema_and_line
@click.option("--down", is_flag=True, help="Down migrations (from the latest version).")
@_target_version("Last version up to (default: latest), or down to with --down (default: 0).")
@_one_line_errors
def sql(schema: str, line: str, down: bool, target_version: int | None) -> None:
    """Print the migrations' SQL without touching a database."""
    click.echo(
        river_migrate.sql(schema or None, down=down, target_version=target_version), nl=False
    )
