"""Security of the dashboard: basic auth, read-only mode, CSRF, same-origin JSON mutations,
escaping of job data, security headers."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from ui_helpers import Seed, csrf_token_of

from river_core.job import JobState
from river_core.ui import security
from river_core.ui.security import BasicAuth, credentials_match

API = {"X-River-UI": "1"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
USER, PASSWORD = "admin", "s3cret:with:colons"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# -- basic auth ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/jobs", "/queues", "/api/jobs", "/static/app.css"])
def test_basic_auth_is_required(make_client: Any, path: str) -> None:
    client = make_client(basic_auth=(USER, PASSWORD))
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="river"'
    assert client.get(path, headers=basic(USER, PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        basic(USER, "wrong"),
        basic("other", PASSWORD),
        basic(USER, PASSWORD + "x"),
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()},
    ],
)
def test_wrong_credentials_are_refused(make_client: Any, header: dict[str, str]) -> None:
    client = make_client(basic_auth=(USER, PASSWORD))
    assert client.get("/api/states", headers=header).status_code == 401


def test_health_checks_need_no_credentials(make_client: Any) -> None:
    client = make_client(basic_auth=(USER, PASSWORD))
    assert client.get("/api/health-checks/minimal").json() == {"status": "ok"}
    assert client.get("/api/health-checks/complete").json() == {"status": "ok"}
    assert client.get("/api/health-checks/other").status_code == 401
    assert client.get("/api/health-checks/minimal/../../jobs").status_code == 401


def test_credentials_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(security.hmac, "compare_digest", compare_digest)
    expected = BasicAuth(USER, PASSWORD)
    assert not credentials_match(basic("other", "nope")["Authorization"], expected)
    assert compared == [(b"other", USER.encode()), (b"nope", PASSWORD.encode())]  # both, always
    assert credentials_match(basic(USER, PASSWORD)["Authorization"], expected)


# -- read-only -----------------------------------------------------------------------------


def mutating_requests(app: Any, job_id: int) -> list[tuple[str, str]]:
    """(method, path) of every route that is not GET, with its parameters filled in."""
    requests = []
    routes = list(app.routes)
    while routes:
        route = routes.pop()
        if isinstance(route, Mount):
            routes += route.routes
            continue
        assert isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
            path = route.path.replace("{job_id:int}", str(job_id)).replace("{name}", "default")
            actions = ["cancel", "delete", "retry", "pause", "resume"]
            for action in actions if "{action:str}" in path else [""]:
                requests.append((method, path.replace("{action:str}", action)))
    return requests


def test_read_only_refuses_every_mutation(make_client: Any, seed: Seed) -> None:
    seed.queue("default")
    job = seed.job(state=JobState.DISCARDED)
    client = make_client(read_only=True)
    token = "t" * 43  # a token and its cookie, as a page would have set them
    client.cookies.set("river_ui_csrf", token)
    requests = mutating_requests(client.app, job.id)
    assert len(requests) >= 15
    for method, path in requests:
        body = urlencode({"csrf_token": token, "ids": job.id, "action": "delete"})
        headers = {**API, **FORM} if not path.startswith("/api/") else API
        response = client.request(method, path, content=body, headers=headers)
        assert response.status_code == 403, (method, path)
        if path.startswith("/api/"):
            assert response.json() == {"message": "This dashboard is read-only."}
    assert seed.get(job.id).state is JobState.DISCARDED  # type: ignore[union-attr]
    assert not seed.paused("default")


def test_read_only_pages_offer_no_actions(make_client: Any, seed: Seed) -> None:
    seed.queue("default")
    job = seed.job(state=JobState.DISCARDED)
    client = make_client(read_only=True)
    for page in ("/", "/jobs?state=discarded", f"/jobs/{job.id}", "/queues", "/queues/default"):
        html = client.get(page).text
        assert 'method="post"' not in html, page
        assert 'class="job-select"' not in html
    assert "read-only" in client.get("/").text


# -- CSRF on forms -------------------------------------------------------------------------


def test_forms_need_the_csrf_token_of_their_cookie(client: TestClient, seed: Seed) -> None:
    job = seed.job(state=JobState.DISCARDED)
    page = f"/jobs/{job.id}"
    token = csrf_token_of(client.get(page).text)
    action = f"{page}/retry"

    def post(fields: dict[str, str], **headers: str) -> int:
        body = urlencode(fields)
        response = client.post(
            action, content=body, headers={**FORM, **headers}, follow_redirects=False
        )
        return response.status_code

    assert post({}) == 403
    assert post({"csrf_token": "x" * 43}) == 403
    assert post({"csrf_token": token}, Origin="https://evil.example") == 403
    assert post({"csrf_token": token}, Origin="null") == 403
    assert post({"csrf_token": token}, **{"Sec-Fetch-Site": "cross-site"}) == 403
    assert seed.get(job.id).state is JobState.DISCARDED  # type: ignore[union-attr]

    assert post({"csrf_token": token}, Origin="http://testserver") == 303
    assert seed.get(job.id).state is JobState.AVAILABLE  # type: ignore[union-attr]
    assert post({}, **{"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"}) == 303


def test_a_token_without_its_cookie_is_refused(
    client: TestClient, make_client: Any, seed: Seed
) -> None:
    job = seed.job(state=JobState.DISCARDED)
    token = csrf_token_of(client.get(f"/jobs/{job.id}").text)
    stranger = make_client()  # another browser: no cookie
    response = stranger.post(
        f"/jobs/{job.id}/retry", content=urlencode({"csrf_token": token}), headers=FORM
    )
    assert response.status_code == 403


def test_csrf_cookie_is_http_only_and_strict(client: TestClient, seed: Seed) -> None:
    seed.job()
    cookie = client.get("/jobs?state=available").headers["set-cookie"]
    assert cookie.startswith("river_ui_csrf=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "set-cookie" not in client.get("/jobs?state=available").headers  # kept, not renewed


# -- JSON mutations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver"},
        {**API, "Origin": "https://evil.example"},
        {**API, "Origin": "null"},
        {**API, "Sec-Fetch-Site": "cross-site"},
        {**API, "Sec-Fetch-Site": "same-site"},
    ],
)
def test_json_mutations_must_be_same_origin_with_the_header(
    client: TestClient, seed: Seed, headers: dict[str, str]
) -> None:
    seed.queue("default")
    job = seed.job()
    response = client.post("/api/jobs/cancel", json={"ids": [job.id]}, headers=headers)
    assert response.status_code == 403
    assert "message" in response.json()
    assert client.put("/api/queues/default/pause", headers=headers).status_code == 403
    assert seed.get(job.id).state is JobState.AVAILABLE  # type: ignore[union-attr]
    assert not seed.paused("default")


def test_json_mutation_from_the_dashboard_itself(client: TestClient, seed: Seed) -> None:
    job = seed.job()
    headers = {**API, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/jobs/cancel", json={"ids": [job.id]}, headers=headers).is_success


def test_a_cross_site_form_cannot_reach_the_json_api(client: TestClient, seed: Seed) -> None:
    job = seed.job()
    body = urlencode({"ids": job.id})
    headers = {**FORM, "Origin": "https://evil.example"}
    assert client.post("/api/jobs/delete", content=body, headers=headers).status_code == 403
    assert seed.get(job.id) is not None


# -- escaping ------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_job_data_is_escaped_everywhere(client: TestClient, seed: Seed) -> None:
    seed.queue("q<b>")
    error = {"at": "2025-01-02T03:04:05Z", "attempt": 1, "error": SCRIPT, "trace": SCRIPT}
    job = seed.job(
        "kind<img src=x onerror=alert(1)>",
        state=JobState.RETRYABLE,
        args={"html": SCRIPT, "attr": '" onmouseover="alert(1)'},
        metadata={"m": SCRIPT},
        errors=[error],
        tags=[SCRIPT],
        queue="q<b>",
    )
    pages = [
        "/",
        "/queues",
        "/queues/q%3Cb%3E",
        "/jobs?state=retryable",
        "/jobs?state=retryable&kinds=%3Cscript%3E",
        f"/jobs/{job.id}",
        "/autocomplete/kinds?kinds=kind",
        "/autocomplete/queues?queues=q",
    ]
    for page in pages:
        html = client.get(page).text
        assert "<script>alert" not in html, page
        assert "<img src=x" not in html and "<b>" not in html, page
        assert '" onmouseover="' not in html, page
    job_page = client.get(f"/jobs/{job.id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in job_page
    assert job_page.count("&lt;script&gt;") >= 5  # args, metadata, error, trace, tag
    # The JSON API carries the data as it is, typed as JSON.
    body = client.get(f"/api/jobs/{job.id}")
    assert body.headers["content-type"] == "application/json"
    assert body.json()["errors"][0]["error"] == SCRIPT


# -- headers -------------------------------------------------------------------------------


def test_security_headers(client: TestClient) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/api/states").headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/app.js").headers.get("cache-control", "")


def test_no_inline_scripts_or_styles(client: TestClient, seed: Seed) -> None:
    job = seed.job()
    for page in ("/", "/jobs?state=available", f"/jobs/{job.id}", "/queues"):
        html = client.get(page).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page
        assert " style=" not in html and "<style" not in html and " on" + "click=" not in html
