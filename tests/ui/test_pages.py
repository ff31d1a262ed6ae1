"""The HTML pages and their forms, through Starlette's test client on real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from ui_helpers import NOW, Seed, csrf_token_of, driver_url

from river_core.job import JobState
from river_core.ui import create_app
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver


def job_ids(html: str) -> list[int]:
    """Ids of the jobs listed in a jobs page, in order."""
    return [int(i) for i in re.findall(r'<td class="id"><a href="[^"]*">(\d+)</a>', html)]


def post_form(client: TestClient, page: str, action: str, data: Any = None) -> Any:
    """Submit a form of `page` as a browser would: with the page's CSRF token and cookie."""
    token = csrf_token_of(client.get(page).text)
    body = urlencode([("csrf_token", token), *(data or [])])
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return client.post(action, content=body, headers=headers, follow_redirects=False)


def test_overview_shows_counts_and_queues(client: TestClient, seed: Seed) -> None:
    seed.queue("mail", paused=True)
    seed.job(queue="mail")
    seed.job(state=JobState.DISCARDED)
    html = client.get("/").text
    assert "<title>Overview · River</title>" in html
    assert re.search(r"available</span>\s*<span class=\"card-count\">1<", html)
    assert re.search(r"discarded</span>\s*<span class=\"card-count\">1<", html)
    assert 'href="/queues/mail"' in html and "paused" in html


@pytest.mark.parametrize("state", list(JobState))
def test_jobs_page_lists_each_state(client: TestClient, seed: Seed, state: JobState) -> None:
    job = seed.job("report", state=state)
    seed.job("other", state=JobState.PENDING if state is not JobState.PENDING else JobState.RUNNING)
    response = client.get(f"/jobs?state={state.value}")
    assert response.status_code == 200
    assert job_ids(response.text) == [job.id]
    assert 'aria-current="page"' in response.text


def test_jobs_page_defaults_to_running(client: TestClient, seed: Seed) -> None:
    running = seed.job(state=JobState.RUNNING)
    seed.job()
    assert job_ids(client.get("/jobs").text) == [running.id]


def test_jobs_page_filters(client: TestClient, seed: Seed) -> None:
    a = seed.job("send_email", queue="mail", priority=2, tags=["vip"])
    b = seed.job("resize", queue="images", priority=1)
    c = seed.job("send_email", queue="images", priority=3)
    page = "/jobs?state=available"
    assert job_ids(client.get(page).text) == [b.id, c.id, a.id]  # queue, priority, time
    assert job_ids(client.get(f"{page}&kinds=send_email").text) == [c.id, a.id]
    assert job_ids(client.get(f"{page}&kinds=resize,send_email").text) == [b.id, c.id, a.id]
    assert job_ids(client.get(f"{page}&queues=mail").text) == [a.id]
    assert job_ids(client.get(f"{page}&priorities=1,3").text) == [b.id, c.id]
    assert job_ids(client.get(f"{page}&ids={a.id},{c.id}").text) == [c.id, a.id]
    assert job_ids(client.get(f"{page}&tags=vip").text) == [a.id]
    html = client.get(f"{page}&tags=nope").text
    assert job_ids(html) == [] and "No available jobs match these filters." in html
    assert "Clear filters" in html


def test_jobs_page_pages_with_a_cursor(client: TestClient, seed: Seed) -> None:
    jobs = [
        seed.job(state=JobState.COMPLETED, at=NOW - timedelta(seconds=i % 7)) for i in range(45)
    ]
    expected = [j.id for j in sorted(jobs, key=lambda j: (j.finalized_at, j.id), reverse=True)]
    listed: list[int] = []
    url: str | None = "/jobs?state=completed"
    pages = 0
    while url is not None:
        html = client.get(url).text
        listed += job_ids(html)
        pages += 1
        assert ("First page" in html) == (pages > 1)
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert listed == expected and pages == 3


@pytest.mark.parametrize("query", ["state=nope", "state=completed&after=garbage", "limit=500"])
def test_jobs_page_rejects_bad_queries(client: TestClient, query: str) -> None:
    response = client.get(f"/jobs?{query}")
    assert response.status_code == 400
    assert "Back to the overview" in response.text


def test_a_cursor_of_another_state_is_refused(client: TestClient, seed: Seed) -> None:
    seed.job(state=JobState.COMPLETED)
    for _ in range(21):
        seed.job(state=JobState.DISCARDED)
    html = client.get("/jobs?state=discarded").text
    cursor = re.search(r"after=([A-Za-z0-9_-]+)", html).group(1)  # type: ignore[union-attr]
    assert client.get(f"/jobs?state=completed&after={cursor}").status_code == 400


def test_args_can_be_hidden_by_default(make_client: Any, seed: Seed) -> None:
    seed.job(args={"secret_arg": 1})
    shown = make_client().get("/jobs?state=available").text
    assert "secret_arg" in shown and "Hide args" in shown
    hiding = make_client(job_list_hide_args_by_default=True)
    html = hiding.get("/jobs?state=available").text
    assert "secret_arg" not in html and "Show args" in html
    assert "secret_arg" in hiding.get("/jobs?state=available&args=show").text


def test_job_page(client: TestClient, seed: Seed) -> None:
    error = {"at": "2025-01-02T03:04:05Z", "attempt": 1, "error": "it broke", "trace": "at x.py:1"}
    job = seed.job(
        "send_email",
        state=JobState.RETRYABLE,
        args={"to": "someone"},
        metadata={"origin": "signup"},
        errors=[error],
        tags=["vip"],
    )
    html = unescape(client.get(f"/jobs/{job.id}").text)
    assert "<title>Job" in html and "send_email" in html
    assert '"to": "someone"' in html and '"origin": "signup"' in html
    assert "it broke" in html and "at x.py:1" in html
    for label in ("Created", "Scheduled", "Attempted", "Finalized"):
        assert f'<span class="step-label">{label}</span>' in html
    assert "attempt 1 of 25" in html
    assert f'action="/jobs/{job.id}/retry"' in html
    assert f'action="/jobs/{job.id}/cancel"' in html
    assert f'action="/jobs/{job.id}/delete"' in html


def test_job_page_offers_only_possible_actions(client: TestClient, seed: Seed) -> None:
    running = seed.job(state=JobState.RUNNING)
    html = client.get(f"/jobs/{running.id}").text
    assert "/cancel" in html and "/retry" not in html and "/delete" not in html
    done = seed.job(state=JobState.COMPLETED)
    html = client.get(f"/jobs/{done.id}").text
    assert "/cancel" not in html and "/retry" in html and "/delete" in html


def test_missing_job_page(client: TestClient) -> None:
    response = client.get("/jobs/424242")
    assert response.status_code == 404
    assert "Job 424242 does not exist" in response.text


def test_retry_cancel_and_delete_from_the_job_page(client: TestClient, seed: Seed) -> None:
    job = seed.job(state=JobState.DISCARDED)
    page = f"/jobs/{job.id}"
    response = post_form(client, page, f"{page}/retry")
    assert response.status_code == 303
    assert response.headers["location"] == f"{page}?notice=retried&n=1"
    assert seed.get(job.id).state is JobState.AVAILABLE  # type: ignore[union-attr]
    assert "Retried 1 job(s)." in client.get(response.headers["location"]).text

    post_form(client, page, f"{page}/cancel")
    assert seed.get(job.id).state is JobState.CANCELLED  # type: ignore[union-attr]

    response = post_form(client, page, f"{page}/delete")
    assert response.headers["location"] == "/jobs?state=cancelled&notice=deleted&n=1"
    assert seed.get(job.id) is None


def test_bulk_actions(client: TestClient, seed: Seed) -> None:
    a, b, c = (seed.job() for _ in range(3))
    running = seed.job(state=JobState.RUNNING)
    page = "/jobs?state=available"
    chosen = [("ids", str(a.id)), ("ids", str(b.id)), ("next", page)]
    response = post_form(client, page, "/jobs/actions", [("action", "cancel"), *chosen])
    assert response.status_code == 303
    assert response.headers["location"] == f"{page}&notice=cancelled&n=2"
    assert [seed.get(j.id).state for j in (a, b, c)] == [  # type: ignore[union-attr]
        JobState.CANCELLED,
        JobState.CANCELLED,
        JobState.AVAILABLE,
    ]

    fields = [("action", "retry"), *chosen]
    assert post_form(client, page, "/jobs/actions", fields).status_code == 303
    assert seed.get(a.id).state is JobState.AVAILABLE  # type: ignore[union-attr]

    fields = [("action", "delete"), ("ids", str(c.id)), ("ids", str(running.id))]
    response = post_form(client, page, "/jobs/actions", [*fields, ("next", page)])
    assert seed.get(c.id) is None and seed.get(running.id) is not None
    html = client.get(response.headers["location"]).text
    assert "Deleted 1 job(s)." in html
    assert "1 running job(s) left alone" in html


def test_bulk_action_needs_jobs_and_a_known_action(client: TestClient, seed: Seed) -> None:
    job = seed.job()
    page = "/jobs?state=available"
    assert post_form(client, page, "/jobs/actions", [("action", "cancel")]).status_code == 400
    bad = [("action", "explode"), ("ids", str(job.id))]
    assert post_form(client, page, "/jobs/actions", bad).status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "/\\evil"])
def test_redirects_stay_on_the_dashboard(client: TestClient, seed: Seed, target: str) -> None:
    job = seed.job()
    fields = [("action", "cancel"), ("ids", str(job.id)), ("next", target)]
    response = post_form(client, "/jobs", "/jobs/actions", fields)
    assert response.headers["location"].startswith("/jobs?")


def test_queues_pages_pause_and_resume(client: TestClient, seed: Seed) -> None:
    seed.queue("mail")
    seed.job(queue="mail")
    html = client.get("/queues").text
    assert 'href="/queues/mail"' in html and 'action="/queues/mail/pause"' in html
    response = post_form(client, "/queues", "/queues/mail/pause", [("next", "/queues")])
    assert response.headers["location"] == "/queues?notice=paused"
    assert seed.paused("mail")
    assert "Paused the queue." in client.get(response.headers["location"]).text

    html = client.get("/queues/mail").text
    assert 'action="/queues/mail/resume"' in html and "Resume queue" in html
    response = post_form(client, "/queues/mail", "/queues/mail/resume")
    assert response.headers["location"] == "/queues/mail?notice=resumed"
    assert not seed.paused("mail")


def test_missing_queue(client: TestClient, seed: Seed) -> None:
    seed.queue("other")
    assert client.get("/queues/nope").status_code == 404
    token = csrf_token_of(client.get("/queues").text)
    response = client.post("/queues/nope/pause", data={"csrf_token": token})
    assert response.status_code == 404


def test_autocomplete_options(client: TestClient, seed: Seed) -> None:
    for kind in ("send_email", "send_sms", "resize"):
        seed.job(kind)
    seed.queue("mail")
    html = client.get("/autocomplete/kinds?kinds=SEND").text
    assert re.findall(r'value="([^"]+)"', html) == ["send_email", "send_sms"]
    html = client.get("/autocomplete/kinds?kinds=send_sms,e").text
    assert re.findall(r'value="([^"]+)"', html) == ["send_sms,resize", "send_sms,send_email"]
    assert re.findall(r'value="([^"]+)"', client.get("/autocomplete/queues?queues=m").text) == [
        "mail"
    ]
    assert client.get("/autocomplete/colors").status_code == 404


def test_path_prefix(make_client: Any, seed: Seed) -> None:
    job = seed.job()
    client = make_client(path_prefix="/river/")
    html = client.get("/river/").text
    assert 'href="/river/static/app.css"' in html and 'href="/river/jobs"' in html
    assert client.get("/river/static/htmx.min.js").status_code == 200
    assert client.get(f"/river/api/jobs/{job.id}").json()["id"] == job.id
    assert client.get("/").status_code == 404
    response = post_form(client, f"/river/jobs/{job.id}", f"/river/jobs/{job.id}/cancel")
    assert response.headers["location"] == f"/river/jobs/{job.id}?notice=cancelled&n=1"


def test_bad_path_prefix() -> None:
    with pytest.raises(ValueError, match="path_prefix"):
        create_app(PsycopgDriver(sa.create_engine("postgresql+psycopg://")), path_prefix="x y")


def test_mounted_in_another_app(database_url: str, schema: str, seed: Seed) -> None:
    job = seed.job()
    engine = create_async_engine(driver_url(database_url, "psycopg"), pool_size=1)
    app = create_app(PsycopgDriver(engine, schema=schema))
    host = Starlette(routes=[Mount("/admin/river", app=app)])
    with TestClient(host) as client:
        html = client.get(f"/admin/river/jobs/{job.id}").text
        assert 'href="/admin/river/static/app.css"' in html
        assert f'action="/admin/river/jobs/{job.id}/cancel"' in html
        assert client.get("/admin/river/static/app.js").status_code == 200
        page = f"/admin/river/jobs/{job.id}"
        response = post_form(client, page, f"{page}/cancel")
        assert response.headers["location"] == f"{page}?notice=cancelled&n=1"
        client.portal.call(engine.dispose)


@pytest.fixture(params=["psycopg-sync", "asyncpg"])
def other_driver_client(
    request: pytest.FixtureRequest, database_url: str, schema: str
) -> Iterator[TestClient]:
    """The dashboard on a sync Engine (worker threads) and on asyncpg."""
    if request.param == "psycopg-sync":
        engine: Any = sa.create_engine(driver_url(database_url, "psycopg"), pool_size=1)
        driver: Any = PsycopgDriver(engine, schema=schema)
    else:
        engine = create_async_engine(driver_url(database_url, "asyncpg"), pool_size=1)
        driver = AsyncpgDriver(engine, schema=schema)
    with TestClient(create_app(driver)) as client:
        yield client
        dispose: Callable[[], Any] = engine.dispose
        if request.param == "asyncpg":
            client.portal.call(dispose)
        else:
            dispose()


def test_other_drivers(other_driver_client: TestClient, seed: Seed) -> None:
    job = seed.job(state=JobState.DISCARDED)
    client = other_driver_client
    assert job_ids(client.get("/jobs?state=discarded").text) == [job.id]
    assert client.get("/api/states").json()["discarded"] == 1
    post_form(client, f"/jobs/{job.id}", f"/jobs/{job.id}/retry")
    assert seed.get(job.id).state is JobState.AVAILABLE  # type: ignore[union-attr]
