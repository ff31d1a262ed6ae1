"""`river worker module:client` in a real process, for each client variant (AsyncClient on
asyncpg and on psycopg, sync Client on psycopg): it works jobs, SIGTERM stops it softly with
exit code 0, a second signal stops it hard; a bad target is one clear line and exit code 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from river_core import migrate

APP = textwrap.dedent(
    """
    import asyncio
    import os
    from dataclasses import dataclass
    from typing import ClassVar

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    import river_core as river


    @dataclass
    class CliArgs:
        block: bool = False
        kind: ClassVar[str] = "cli_job"


    class CliWorker(river.Worker[CliArgs]):
        async def work(self, job: river.Job[CliArgs]) -> None:
            if job.args.block:
                await asyncio.sleep(60)


    workers = river.Workers()
    workers.add(CliWorker())
    config = river.Config(queues={"default": river.QueueConfig(max_workers=5)}, workers=workers)
    variant, url = os.environ["CLI_VARIANT"], os.environ["CLI_URL"]
    schema = os.environ["CLI_SCHEMA"]
    if variant == "psycopg-sync":
        from river_driver_psycopg import PsycopgDriver

        engine = sa.create_engine(f"postgresql+psycopg://{url}", pool_size=2)
        client = river.Client(PsycopgDriver(engine, schema=schema), config)
    elif variant == "psycopg-async":
        from river_driver_psycopg import PsycopgDriver

        engine = create_async_engine(f"postgresql+psycopg://{url}", pool_size=2)
        client = river.AsyncClient(PsycopgDriver(engine, schema=schema), config)
    else:
        from river_driver_asyncpg import AsyncpgDriver

        engine = create_async_engine(f"postgresql+asyncpg://{url}", pool_size=2)
        client = river.AsyncClient(AsyncpgDriver(engine, schema=schema), config)
    """
)


@pytest.fixture(scope="module")
def cli_schema(sync_engine: sa.Engine) -> Iterator[str]:
    name = "tw_" + uuid.uuid4().hex[:12]
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    with sync_engine.connect() as conn:
        migrate.upgrade(conn, schema=name)
    yield name
    with sync_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True))


class WorkerProcess:
    """`river worker cli_app:client` with its stderr collected line by line."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "river_core.cli", "worker", "cli_app:client"],
            cwd=cwd,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float = 15.0) -> None:
        wait_for(lambda: any(text in line for line in self.lines), f"{text!r}", timeout)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def exit_code(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def start_worker(
    tmp_path: Path, database_url: str, cli_schema: str, sync_engine: sa.Engine
) -> Iterator[Callable[[str], WorkerProcess]]:
    (tmp_path / "cli_app.py").write_text(APP)
    with sync_engine.begin() as conn:
        conn.exec_driver_sql(f'TRUNCATE "{cli_schema}".river_job, "{cli_schema}".river_leader')
    started: list[WorkerProcess] = []

    def start(variant: str) -> WorkerProcess:
        env = os.environ | {
            "CLI_VARIANT": variant,
            "CLI_URL": database_url.split("://", 1)[1],
            "CLI_SCHEMA": cli_schema,
        }
        started.append(WorkerProcess(tmp_path, env))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(5)


def insert_job(sync_engine: sa.Engine, schema: str, block: bool) -> int:
    with sync_engine.begin() as conn:
        job_id: int = conn.scalar(
            sa.text(
                f'INSERT INTO "{schema}".river_job (args, kind, max_attempts) '
                "VALUES (CAST(:args AS jsonb), 'cli_job', 25) RETURNING id"
            ),
            {"args": '{"block": true}' if block else "{}"},
        )
        conn.exec_driver_sql(
            f"SELECT pg_notify('{schema}.river_insert', '{{\"queue\":\"default\"}}')"
        )
    return job_id


def job_state(sync_engine: sa.Engine, schema: str, job_id: int) -> str:
    with sync_engine.connect() as conn:
        state: str = conn.scalar(
            sa.text(f'SELECT state FROM "{schema}".river_job WHERE id = :id'), {"id": job_id}
        )
        return state


@pytest.mark.parametrize("variant", ["asyncpg", "psycopg-async", "psycopg-sync"])
def test_works_jobs_and_stops_softly_on_sigterm(
    variant: str,
    start_worker: Callable[[str], WorkerProcess],
    sync_engine: sa.Engine,
    cli_schema: str,
) -> None:
    worker = start_worker(variant)
    worker.wait_for_line("started, working default")
    job_id = insert_job(sync_engine, cli_schema, block=False)
    wait_for(lambda: job_state(sync_engine, cli_schema, job_id) == "completed", "completion")
    worker.signal(signal.SIGTERM)
    assert worker.exit_code() == 0, worker.lines
    assert any("SIGTERM: stopping softly" in line for line in worker.lines)
    assert worker.lines[-1] == "river worker: stopped"


def test_a_second_signal_stops_hard(
    start_worker: Callable[[str], WorkerProcess], sync_engine: sa.Engine, cli_schema: str
) -> None:
    worker = start_worker("asyncpg")
    worker.wait_for_line("started")
    job_id = insert_job(sync_engine, cli_schema, block=True)
    wait_for(lambda: job_state(sync_engine, cli_schema, job_id) == "running", "the job to run")
    worker.signal(signal.SIGINT)
    worker.wait_for_line("SIGINT: stopping softly")
    time.sleep(0.2)  # the soft stop waits for the blocked job
    assert worker.proc.poll() is None
    worker.signal(signal.SIGTERM)
    assert worker.exit_code() == 1, worker.lines
    assert any("SIGTERM: stopping hard" in line for line in worker.lines)
    assert job_state(sync_engine, cli_schema, job_id) == "available"


def test_a_bad_target_is_one_clear_line(tmp_path: Path) -> None:
    for target, message in [
        ("no_such_module:client", "cannot import 'no_such_module': ModuleNotFoundError"),
        ("os:getcwd", "os:getcwd is builtin_function_or_method, not a river Client"),
        ("no_colon", "expected module.path:attribute"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "river_core.cli", "worker", target],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2
        assert len(lines) == 1 and lines[0].startswith(f"river worker: {message}"), lines
