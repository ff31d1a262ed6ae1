"""`river ui`: serve the web dashboard with uvicorn (needs the `ui` extra)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import click
import sqlalchemy as sa

from river_core.cli import database
from river_core.errors import RiverError, SchemaVersionError
from river_core.schema_version import LATEST_VERSION


@click.command()
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    required=True,
    help="postgresql:// or postgres:// URL [env: DATABASE_URL].",
)
@click.option("--schema", default="", help="Schema of River's tables (default: current schema).")
@click.option(
    "--driver",
    type=click.Choice(["psycopg", "asyncpg"]),
    default=None,
    help="DBAPI driver (default: psycopg if installed, else asyncpg).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--read-only", is_flag=True, help="Refuse every change (403): only look.")
@click.option(
    "--basic-auth-user",
    envvar="RIVER_BASIC_AUTH_USER",
    show_envvar=True,
    help="Require HTTP basic auth with this user (health checks excepted).",
)
@click.option(
    "--basic-auth-password",
    envvar="RIVER_BASIC_AUTH_PASS",
    show_envvar=True,
    help="The basic auth password (prefer the environment variable).",
)
@click.option("--path-prefix", default="", help="Serve below this path, e.g. /jobs.")
@click.option(
    "--refresh-interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between live updates of a page (each browser can change it).",
)
@click.option(
    "--job-list-hide-args-by-default",
    is_flag=True,
    envvar="RIVER_JOB_LIST_HIDE_ARGS_BY_DEFAULT",
    show_envvar=True,
    help="Hide job args in job lists unless asked for.",
)
def ui(
    database_url: str,
    schema: str,
    driver: str | None,
    host: str,
    port: int,
    read_only: bool,
    basic_auth_user: str | None,
    basic_auth_password: str | None,
    path_prefix: str,
    refresh_interval: float,
    job_list_hide_args_by_default: bool,
) -> None:
    """Serve the web dashboard: jobs, queues, and River UI's JSON API."""
    try:
        import uvicorn

        from river_core.ui import create_app
    except ImportError as exc:
        raise click.ClickException(f"{exc.name} is missing: install river-queue[ui]") from None
    if (basic_auth_user is None) != (basic_auth_password is None):
        raise click.UsageError("give both --basic-auth-user and --basic-auth-password, or neither")
    basic_auth = None if basic_auth_user is None else (basic_auth_user, basic_auth_password or "")
    if basic_auth is None and not _loopback(host):
        click.echo(f"warning: serving on {host} without --basic-auth-user", err=True)

    async def serve() -> None:
        river_driver: Any = database.async_driver(database_url, driver, schema or None)
        try:
            async with river_driver.async_autocommit() as ex:
                version = await ex.run(lambda e: e.schema_version())
            if version < LATEST_VERSION:
                raise SchemaVersionError(version, LATEST_VERSION)
            app = create_app(
                river_driver,
                read_only=read_only,
                basic_auth=basic_auth,
                path_prefix=path_prefix,
                refresh_interval=refresh_interval,
                job_list_hide_args_by_default=job_list_hide_args_by_default,
            )
            config = uvicorn.Config(app, host=host, port=port, proxy_headers=False)
            await uvicorn.Server(config).serve()
        finally:
            await river_driver.engine.dispose()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        pass
    except sa.exc.DBAPIError as exc:
        raise click.ClickException(_first_line(exc.orig or exc)) from None
    except (RiverError, ValueError, OSError) as exc:
        raise click.ClickException(_first_line(exc)) from None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
