"""The JSON API: River UI's endpoints, parameters, field names and errors, on real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_helpers import NOW, Seed

from river_core.gojson import format_time
from river_core.job import JobState

API = {"X-River-UI": "1"}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["data"]]


def test_job_list_defaults_to_running_jobs_in_river_ui_shape(
    client: TestClient, seed: Seed
) -> None:
    running = seed.job("email", state=JobState.RUNNING, args={"to": "a@b.c"}, tags=["t"])
    seed.job("email")  # available: not in the default list
    response = client.get("/api/jobs")
    (job,) = response.json()["data"]
    assert job == {
        "id": running.id,
        "args": '{"to": "a@b.c"}',
        "attempt": 1,
        "attempted_at": format_time(running.attempted_at),  # type: ignore[arg-type]
        "attempted_by": [],
        "created_at": format_time(running.created_at),
        "finalized_at": None,
        "kind": "email",
        "max_attempts": 25,
        "priority": 1,
        "queue": "default",
        "scheduled_at": format_time(running.scheduled_at),
        "state": "running",
        "tags": ["t"],
    }


def test_job_list_filters_and_orders_like_river_ui(client: TestClient, seed: Seed) -> None:
    old = seed.job("a", state=JobState.COMPLETED, at=NOW - timedelta(hours=2))
    new = seed.job("b", state=JobState.COMPLETED, at=NOW, queue="q2", priority=3, tags=["x"])
    assert ids(client.get("/api/jobs?state=completed")) == [new.id, old.id]  # newest first
    assert ids(client.get("/api/jobs?state=completed&limit=1")) == [new.id]
    assert ids(client.get("/api/jobs?state=completed&kinds=a")) == [old.id]
    assert ids(client.get("/api/jobs?state=completed&kinds=a&kinds=b")) == [new.id, old.id]
    assert ids(client.get("/api/jobs?state=completed&queues=q2")) == [new.id]
    assert ids(client.get("/api/jobs?state=completed&priorities=3")) == [new.id]
    assert ids(client.get(f"/api/jobs?state=completed&ids={old.id}")) == [old.id]
    assert ids(client.get("/api/jobs?state=completed&tags=x")) == [new.id]
    assert ids(client.get("/api/jobs?state=available")) == []


@pytest.mark.parametrize(
    "query",
    ["state=nope", "limit=0", "limit=1001", "limit=x", "ids=abc", "priorities=9"],
)
def test_job_list_rejects_bad_parameters(client: TestClient, query: str) -> None:
    response = client.get(f"/api/jobs?{query}")
    assert response.status_code == 400
    assert response.json()["message"]


def test_job_get_has_errors_and_metadata(client: TestClient, seed: Seed) -> None:
    error = {"at": "2025-01-02T03:04:05.5Z", "attempt": 1, "error": "boom", "trace": "line 1"}
    job = seed.job("email", state=JobState.RETRYABLE, errors=[error], metadata={"m": 1})
    body = client.get(f"/api/jobs/{job.id}").json()
    assert body["id"] == job.id and body["state"] == "retryable"
    assert body["errors"] == [error]
    assert body["metadata"] == {"m": 1}

    assert client.get("/api/jobs/999999").json() == {"message": "Job not found: 999999."}
    assert client.get("/api/jobs/999999").status_code == 404
    assert client.get("/api/jobs/abc").status_code == 400


def test_job_retry_cancel_delete(client: TestClient, seed: Seed) -> None:
    discarded = seed.job(state=JobState.DISCARDED)
    available = seed.job()
    running = seed.job(state=JobState.RUNNING)

    response = client.post("/api/jobs/retry", json={"ids": [str(discarded.id)]}, headers=API)
    assert response.json() == {"status": "ok"}
    assert seed.get(discarded.id).state is JobState.AVAILABLE  # type: ignore[union-attr]

    assert client.post("/api/jobs/cancel", json={"ids": [available.id]}, headers=API).is_success
    assert seed.get(available.id).state is JobState.CANCELLED  # type: ignore[union-attr]

    assert client.post("/api/jobs/delete", json={"ids": [available.id]}, headers=API).is_success
    assert seed.get(available.id) is None

    response = client.post("/api/jobs/delete", json={"ids": [running.id]}, headers=API)
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Job {running.id} is running and can't be deleted until it finishes."
    )


def test_job_action_of_a_missing_job_changes_nothing(client: TestClient, seed: Seed) -> None:
    job = seed.job(state=JobState.DISCARDED)
    response = client.post("/api/jobs/retry", json={"ids": [job.id, 999999]}, headers=API)
    assert response.status_code == 404
    assert response.json() == {"message": "Job not found: 999999."}
    assert seed.get(job.id).state is JobState.DISCARDED  # type: ignore[union-attr]  # rolled back


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"ids": []}', b'{"ids": ["x"]}', b'{"ids": [true]}', b'{"ids": 1}']
)
def test_job_action_rejects_bad_bodies(client: TestClient, body: bytes) -> None:
    response = client.post("/api/jobs/cancel", content=body, headers=API)
    assert response.status_code == 400


def test_unknown_job_action_is_not_found(client: TestClient) -> None:
    assert client.post("/api/jobs/explode", json={"ids": [1]}, headers=API).status_code == 404


def test_queues(client: TestClient, seed: Seed) -> None:
    seed.queue("default")
    seed.queue("mail", paused=True)
    seed.job(queue="default")
    seed.job(queue="default", state=JobState.RUNNING)
    queues = client.get("/api/queues").json()["data"]
    assert [(q["name"], q["count_available"], q["count_running"]) for q in queues] == [
        ("default", 1, 1),
        ("mail", 0, 0),
    ]
    mail = client.get("/api/queues/mail").json()
    assert set(mail) == {
        "count_available",
        "count_running",
        "created_at",
        "concurrency",
        "name",
        "paused_at",
        "updated_at",
    }
    assert mail["paused_at"] is not None and mail["concurrency"] is None
    assert client.get("/api/queues?limit=1").json()["data"][0]["name"] == "default"
    missing = client.get("/api/queues/nope")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Queue not found: nope."}


def test_queue_pause_and_resume(client: TestClient, seed: Seed) -> None:
    seed.queue("default")
    assert client.put("/api/queues/default/pause", headers=API).json() == {"status": "ok"}
    assert seed.paused("default")
    assert client.put("/api/queues/default/resume", headers=API).json() == {"status": "ok"}
    assert not seed.paused("default")
    assert client.put("/api/queues/nope/pause", headers=API).status_code == 404


def test_states_counts(client: TestClient, seed: Seed) -> None:
    seed.job()
    seed.job()
    seed.job(state=JobState.DISCARDED)
    assert client.get("/api/states").json() == {
        "available": 2,
        "cancelled": 0,
        "completed": 0,
        "discarded": 1,
        "pending": 0,
        "retryable": 0,
        "running": 0,
        "scheduled": 0,
    }


def test_autocomplete(client: TestClient, seed: Seed) -> None:
    for kind in ("send_email", "send_sms", "resize"):
        seed.job(kind)
    seed.queue("mail")
    seed.queue("default")
    get = client.get
    assert get("/api/autocomplete?facet=job_kind").json() == {
        "data": ["resize", "send_email", "send_sms"]
    }
    assert get("/api/autocomplete?facet=job_kind&match=SEND&exclude=send_sms").json() == {
        "data": ["send_email"]
    }
    assert get("/api/autocomplete?facet=job_kind&after=resize").json()["data"][0] == "send_email"
    assert get("/api/autocomplete?facet=queue_name&match=ai").json() == {"data": ["mail"]}
    bad = get("/api/autocomplete?facet=color")
    assert bad.status_code == 400
    assert "Valid facets are: job_kind, queue_name" in bad.json()["message"]


def test_features(make_client: Any) -> None:
    body = make_client(job_list_hide_args_by_default=True).get("/api/features").json()
    assert body == {"extensions": {}, "job_list_hide_args_by_default": True}


def test_health_checks(client: TestClient) -> None:
    assert client.get("/api/health-checks/minimal").json() == {"status": "ok"}
    assert client.get("/api/health-checks/complete").json() == {"status": "ok"}
    unknown = client.get("/api/health-checks/other")
    assert unknown.status_code == 404
    assert "Use either `complete` or `minimal`" in unknown.json()["message"]
