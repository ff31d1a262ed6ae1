"""The dashboard in a real browser: Playwright driving Debian's chromium against uvicorn.

Screenshots of the main pages go to tests/ui/artifacts/ (or $RIVER_UI_ARTIFACTS).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import create_async_engine
from ui_helpers import Seed, driver_url

from river_core.job import JobState
from river_core.ui import create_app
from river_driver_psycopg import PsycopgDriver

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("RIVER_UI_ARTIFACTS", Path(__file__).parent / "artifacts"))

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

if not shutil.which(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def live_url(database_url: str, ui_schema: str) -> Iterator[str]:
    """The dashboard on the module's schema, served by uvicorn in a thread (refresh: 0.5 s)."""
    servers: list[uvicorn.Server] = []

    async def serve() -> None:
        engine = create_async_engine(driver_url(database_url, "psycopg"), pool_size=3)
        app = create_app(PsycopgDriver(engine, schema=ui_schema), refresh_interval=0.5)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        servers.append(uvicorn.Server(config))
        try:
            await servers[0].serve()
        finally:
            await engine.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (servers and servers[0].started):
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = servers[0].servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    servers[0].should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_url: str) -> Iterator[Any]:
    """A fresh browser page (light theme) whose console errors fail the test."""
    context = browser.new_context(
        base_url=live_url, viewport={"width": 1280, "height": 860}, color_scheme="light"
    )
    context.set_default_timeout(5000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == [], errors  # no script error, no CSP violation


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_jobs_page_filters_by_state_and_kind(page: Any, seed: Seed) -> None:
    seed.queue("default")
    seed.queue("mail")
    for i in range(3):
        seed.job("send_email", state=JobState.DISCARDED, queue="mail", args={"to": f"u{i}@x"})
    seed.job("resize_image", state=JobState.DISCARDED, args={"w": 640}, tags=["images"])
    seed.job("resize_image", state=JobState.RUNNING)
    page.goto("/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)  # running by default

    page.get_by_role("navigation", name="Job states").get_by_role(
        "link", name=re.compile("discarded")
    ).click()
    expect(page).to_have_url(re.compile(r"state=discarded"))
    expect(page.locator("table.jobs tbody tr")).to_have_count(4)

    kind = page.get_by_label("Kind")
    kind.click()
    expect(page.locator("#kind-options option")).to_have_count(2)  # autocomplete
    kind.fill("send_email")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"kinds=send_email"))
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)
    expect(page.locator("td.kind")).to_have_text(["send_email"] * 3)
    screenshot(page, "jobs")


def test_open_a_job_and_retry_it(page: Any, seed: Seed) -> None:
    trace = 'Traceback (most recent call last):\n  File "jobs.py", line 12, in work\nValueError: no'
    errors = [
        {"at": "2025-05-01T10:00:00Z", "attempt": n, "error": f"failure {n}", "trace": trace}
        for n in (1, 2)
    ]
    job = seed.job(
        "charge_card",
        state=JobState.DISCARDED,
        args={"customer": 42, "amount_cents": 1999},
        metadata={"origin": "checkout"},
        errors=errors,
        tags=["billing"],
    )
    page.goto("/jobs?state=discarded")
    page.get_by_role("link", name=str(job.id), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job.id}$"))
    expect(page.locator("#job-state")).to_have_text("discarded")
    expect(page.locator("#job-args")).to_contain_text('"amount_cents": 1999')
    expect(page.locator(".attempt-error")).to_have_count(2)
    page.locator(".attempt-error details summary").first.click()
    expect(page.locator(".attempt-error pre.trace").first).to_be_visible()
    screenshot(page, "job")

    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#job-state")).to_have_text("available")
    expect(page.get_by_role("status")).to_have_text("Retried 1 job(s).")
    assert seed.get(job.id).state is JobState.AVAILABLE  # type: ignore[union-attr]


def test_pause_and_resume_a_queue(page: Any, seed: Seed) -> None:
    for name in ("default", "mail", "reports"):
        seed.queue(name)
    for _ in range(3):
        seed.job(queue="mail")
    seed.job(queue="mail", state=JobState.RUNNING)
    page.goto("/queues")
    row = page.locator("tr", has=page.get_by_role("link", name="mail", exact=True))
    expect(row.locator(".badge")).to_have_text("active")
    row.get_by_role("button", name="Pause queue mail").click()
    expect(row.locator(".badge")).to_have_text("paused")
    assert seed.paused("mail")
    screenshot(page, "queues")

    page.get_by_role("link", name="mail", exact=True).click()
    expect(page.get_by_role("heading", name="mail")).to_be_visible()
    page.get_by_role("button", name="Resume queue").click()
    expect(page.locator(".page-head .badge")).to_have_text("active")
    assert not seed.paused("mail")
    screenshot(page, "queue")


def test_bulk_cancel_selected_jobs(page: Any, seed: Seed) -> None:
    jobs = [seed.job("sync_account", args={"account": i}) for i in range(4)]
    page.goto("/jobs?state=available")
    expect(page.locator("table.jobs tbody tr")).to_have_count(4)
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_disabled()
    page.get_by_label(f"Select job {jobs[0].id}").check()
    page.get_by_label(f"Select job {jobs[2].id}").check()
    expect(page.locator(".selected-count")).to_have_text("2 selected")
    expect(cancel).to_be_enabled()
    page.wait_for_timeout(1200)  # live refresh stays paused while jobs are selected
    expect(page.get_by_label(f"Select job {jobs[2].id}")).to_be_checked()
    cancel.click()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"Cancelled 2 job\(s\)"))
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    states = [seed.get(j.id).state for j in jobs]  # type: ignore[union-attr]
    assert states == [
        JobState.CANCELLED,
        JobState.AVAILABLE,
        JobState.CANCELLED,
        JobState.AVAILABLE,
    ]

    page.get_by_label("Select every job on this page").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Deleted 2 job(s).")
    assert seed.get(jobs[1].id) is None


def test_live_refresh_and_dark_theme(page: Any, seed: Seed) -> None:
    seed.queue("default")
    seed.queue("mail", paused=True)
    for state, count in ((JobState.COMPLETED, 5), (JobState.AVAILABLE, 2), (JobState.RETRYABLE, 1)):
        for _ in range(count):
            seed.job(state=state)
    page.goto("/")
    available = page.locator(".card", has_text="available").locator(".card-count")
    expect(available).to_have_text("2")
    screenshot(page, "overview")
    seed.job()
    expect(available).to_have_text("3", timeout=8000)  # without a reload

    page.get_by_role("button", name="Switch between light and dark themes").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    screenshot(page, "overview-dark")
    page.goto("/jobs?state=completed")
    screenshot(page, "jobs-dark")


def test_job_data_is_shown_as_text(page: Any, seed: Seed) -> None:
    payload = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    job = seed.job(
        "render",
        state=JobState.RETRYABLE,
        args={"html": payload},
        tags=["<b>t</b>"],
        errors=[{"at": "2025-01-01T00:00:00Z", "attempt": 1, "error": payload, "trace": ""}],
    )
    page.goto(f"/jobs/{job.id}")
    expect(page.locator("#job-args")).to_contain_text("<script>window.pwned = 1</script>")
    expect(page.locator(".attempt-error pre.message")).to_have_text(payload)
    page.goto("/jobs?state=retryable")
    expect(page.locator("td.args")).to_contain_text("<img src=x")
    assert page.evaluate("window.pwned") is None
    assert page.locator("img").count() == 0
