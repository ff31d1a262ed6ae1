"""`river demo` and `river bench` as a user runs them, against a database of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

ADMIN_URL = os.environ.get("RIVER_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _river(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "river_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture
def own_database() -> Iterator[str]:
    """A new empty database, dropped afterwards (demo and bench use its public schema)."""
    name = "river_cli_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(
        "postgresql+psycopg://" + ADMIN_URL.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_demo_works_every_kind_of_job(own_database: str) -> None:
    result = _river("demo", "--database-url", own_database)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "migrated River's schema (8 migrations applied)" in out
    assert "done. cancelled: 1, completed: 24, discarded: 1" in out
    assert "demo_flaky: completed after 2 attempt(s)" in out
    assert "demo_report: completed after 1 attempt(s) snoozes=1" in out
    assert "demo_refund: cancelled after 1 attempt(s)" in out
    runs = int(out.split("demo_heartbeat (every 2 s): ")[1].split(" ")[0])
    assert runs >= 1


def test_bench_burn_down_and_continuous(own_database: str) -> None:
    assert _river("migrate", "up", "--database-url", own_database).returncode == 0
    burn = _river("bench", "--database-url", own_database, "-n", "3000", "--json")
    assert burn.returncode == 0, burn.stderr
    result = json.loads(burn.stdout)
    assert result["mode"] == "burn_down" and result["jobs"] == 3000 and result["jobs_per_s"] > 0

    refused = _river("bench", "--database-url", own_database, "-n", "10")
    assert refused.returncode != 0
    assert "pass --truncate" in refused.stderr and "Traceback" not in refused.stderr

    rate = _river(
        "bench",
        "--database-url",
        own_database,
        "--duration",
        "2",
        "--rate",
        "100",
        "--truncate",
        "--json",
        "--driver",
        "asyncpg",
    )
    assert rate.returncode == 0, rate.stderr
    result = json.loads(rate.stdout)
    assert result["mode"] == "continuous" and result["driver"] == "asyncpg"
    assert 100 <= result["jobs"] <= 220
