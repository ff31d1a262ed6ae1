"""`create_app`: the dashboard as one ASGI app, served by `river ui` or mounted in yours."""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from river_core.driver import Driver
from river_core.errors import DatabaseError
from river_core.ui.api import Api, ApiError, error_response
from river_core.ui.context import UiContext
from river_core.ui.database import Database
from river_core.ui.pages import Pages
from river_core.ui.security import BasicAuth, GuardMiddleware, route_path

log = logging.getLogger("river.ui")

_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*", re.ASCII)


def create_app(
    driver: Driver,
    *,
    read_only: bool = False,
    basic_auth: tuple[str, str] | None = None,
    path_prefix: str = "",
    refresh_interval: float = 2.0,
    job_list_hide_args_by_default: bool = False,
) -> Starlette:
    """The dashboard on `driver` (sync or async), as a Starlette app.

    Serve it with uvicorn, or mount it in your own ASGI app (`Mount("/river", app=...)`): its
    links follow the mount point. `basic_auth` is a (user, password) pair every page and API
    call must present, except the health checks; `read_only` refuses every mutation with 403;
    `path_prefix` serves everything below a path (`/jobs`); pages refresh themselves every
    `refresh_interval` seconds (the browser can change it); args are hidden in job lists
    unless asked for when `job_list_hide_args_by_default`.
    """
    prefix = path_prefix.rstrip("/")
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"path_prefix must look like /some/path, not {path_prefix!r}")
    if refresh_interval <= 0:
        raise ValueError("refresh_interval must be positive")
    ui = UiContext(
        db=Database(driver),
        read_only=read_only,
        hide_args=job_list_hide_args_by_default,
        refresh_interval=refresh_interval,
    )
    pages = Pages(ui)
    static = StaticFiles(packages=[("river_core.ui", "static")])
    routes: list[BaseRoute] = [*Api(ui).routes(), *pages.routes(), Mount("/static", static)]
    if prefix:
        routes = [Mount(prefix, routes=routes)]

    def is_api(request: Request) -> bool:
        return route_path(request.scope).removeprefix(prefix).startswith("/api/")

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if is_api(request):
            return error_response(exc.status_code, exc.detail)
        return pages.error(request, exc.status_code, exc.detail)

    async def database_error(request: Request, exc: Exception) -> Response:
        log.warning("dashboard request failed on the database: %s", exc)
        message = "The database could not answer. Check the logs for details."
        if is_api(request):
            return error_response(503, message)
        return pages.error(request, 503, message)

    guard = Middleware(
        GuardMiddleware,
        basic_auth=None if basic_auth is None else BasicAuth(*basic_auth),
        read_only=read_only,
        prefix=prefix,
    )
    return Starlette(
        routes=routes,
        middleware=[guard],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            DatabaseError: database_error,
        },
    )
