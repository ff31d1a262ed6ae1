"""`river ui`: its flags, its refusals, and a real server process."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from click.testing import CliRunner

from river_core.cli import main


def test_defaults_to_localhost() -> None:
    result = CliRunner().invoke(main, ["ui", "--help"])
    assert result.exit_code == 0
    output = " ".join(result.output.split())
    assert "[default: 127.0.0.1]" in output and "[default: 8080;" in output


def test_basic_auth_needs_both_user_and_password(database_url: str) -> None:
    args = ["ui", "--database-url", database_url, "--basic-auth-user", "u"]
    result = CliRunner().invoke(main, args, env={"RIVER_BASIC_AUTH_PASS": None})
    assert result.exit_code == 2
    assert "both --basic-auth-user and --basic-auth-password" in result.output


def test_refuses_a_schema_that_is_not_migrated(database_url: str, fresh_schema: str) -> None:
    args = ["ui", "--database-url", database_url, "--schema", fresh_schema, "--port", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "run `river migrate up`" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serves_the_dashboard(database_url: str, ui_schema: str) -> None:
    port = _free_port()
    env = {**os.environ, "RIVER_BASIC_AUTH_PASS": "pw"}
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "river_core.cli", "ui", "--database-url", database_url),
            *("--schema", ui_schema, "--port", str(port), "--path-prefix", "/river"),
            *("--basic-auth-user", "admin", "--read-only"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/river"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = _get(f"{base}/api/health-checks/complete")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0].decode()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert (status, body) == (200, b'{"status":"ok"}')
        assert _get(f"{base}/")[0] == 401
        auth = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
        status, body = _get(f"{base}/", auth)
        assert status == 200 and b"read-only" in body
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=20)[0].decode()
    assert server.returncode == 0, output
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
