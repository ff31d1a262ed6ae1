"""Basic auth, read-only mode, CSRF and same-origin checks, and security headers."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from typing import NamedTuple
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_HEADER = "X-River-UI"  # required on JSON mutations: no cross-site form or simple request
CSRF_COOKIE = "river_ui_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
HEALTH_CHECKS = ("/api/health-checks/minimal", "/api/health-checks/complete")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_FORM_FIELDS = 1100  # a page of jobs' ids and a few more

_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class BasicAuth(NamedTuple):
    user: str
    password: str


def route_path(scope: Scope) -> str:
    """The request path below the mount point of this app (`root_path`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def credentials_match(header: str | None, expected: BasicAuth) -> bool:
    """Whether an `Authorization: Basic` header carries `expected`, compared in constant time
    (both the user and the password are always compared)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, colon, password = decoded.partition(":")
    user_ok = hmac.compare_digest(user.encode(), expected.user.encode())
    password_ok = hmac.compare_digest(password.encode(), expected.password.encode())
    return bool(colon) & user_ok & password_ok


class GuardMiddleware:
    """Everything but the health checks needs the basic auth credentials (when set); in
    read-only mode every method but GET/HEAD/OPTIONS is refused; every response gets the
    security headers (CSP without inline scripts, no framing, no sniffing) and `no-store`
    outside the static files."""

    def __init__(
        self, app: ASGIApp, *, basic_auth: BasicAuth | None, read_only: bool, prefix: str
    ) -> None:
        self.app = app
        self.basic_auth = basic_auth
        self.read_only = read_only
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        below = path[len(self.prefix) :] if path.startswith(self.prefix) else path
        request = Request(scope)
        if self.basic_auth is not None and below not in HEALTH_CHECKS:
            if not credentials_match(request.headers.get("authorization"), self.basic_auth):
                response = Response(
                    "Unauthorized",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="river"'},
                )
                await response(scope, receive, self._with_headers(send, cache=False))
                return
        if self.read_only and request.method not in SAFE_METHODS:
            response = _refusal(below, "This dashboard is read-only.")
            await response(scope, receive, self._with_headers(send, cache=False))
            return
        await self.app(scope, receive, self._with_headers(send, cache=below.startswith("/static/")))

    @staticmethod
    def _with_headers(send: Send, *, cache: bool) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _HEADERS
                if not cache:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers


def _refusal(path: str, message: str) -> Response:
    if path.startswith("/api/"):
        return Response(json.dumps({"message": message}), 403, media_type="application/json")
    return Response(message, 403, media_type="text/plain")


def same_origin(request: Request) -> bool:
    """Whether a browser says the request comes from this site: `Origin` names this host, or
    without `Origin`, `Sec-Fetch-Site` is absent, `same-origin` or `none` (typed by the user).
    Clients that send neither header are not browsers and pass."""
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()
    return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")


def check_api_mutation(request: Request) -> None:
    """A JSON mutation must be same-origin and carry the `X-River-UI` header (a header no
    cross-site page can set without a CORS preflight, which this app never grants)."""
    if not same_origin(request):
        raise HTTPException(403, "Cross-origin request refused.")
    if not request.headers.get(API_HEADER):
        raise HTTPException(403, f"Missing the {API_HEADER} header.")


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser: its cookie's, or a new one (set by `set_csrf_cookie`)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) != 43:  # token_urlsafe(32)
        token = getattr(request.state, "new_csrf_token", None) or secrets.token_urlsafe(32)
        request.state.new_csrf_token = token
    return token


def set_csrf_cookie(request: Request, response: Response, path: str) -> None:
    """Set the cookie of a token `csrf_token` made for this request, if it made one."""
    token = getattr(request.state, "new_csrf_token", None)
    if token is not None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=path or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


async def checked_form(request: Request) -> FormData:
    """The form of a same-origin POST whose CSRF token (field or header) matches its cookie;
    anything else is refused with 403."""
    form = await request.form(max_fields=_MAX_FORM_FIELDS)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not cookie or not same_origin(request):
        raise HTTPException(403, "Refused: missing CSRF token or cross-origin request.")
    if not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise HTTPException(403, "Refused: the CSRF token does not match.")
    return form
