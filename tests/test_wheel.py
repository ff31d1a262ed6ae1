"""The built wheel carries River's revisions and migrates from a fresh virtualenv."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_wheel_installs_and_migrates(tmp_path: Path, database_url: str, fresh_schema: str) -> None:
    # Without build isolation when hatchling is at hand: no download of the build backend.
    no_isolation = ["--no-isolation"] if importlib.util.find_spec("hatchling") else []
    run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        *no_isolation,
        "--outdir",
        tmp_path / "dist",
        ROOT,
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("river_queue-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "river_core/_alembic/versions/river_008_job_id_autoincrement.py" in names
    assert "river_core/_alembic/env.py" in names
    assert not any(n.startswith("alembic/") or n.endswith("_alembic/__init__.py") for n in names)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
    run(*pip, f"{wheel}[psycopg,cli]", cwd=tmp_path)

    location = run(
        python,
        "-c",
        "import river_core.migrate as m; print(m.script_directory().dir)",
        cwd=tmp_path,
    )
    assert Path(location.strip()).is_relative_to(venv)
    assert Path(location.strip()).parts[-2:] == ("river_core", "_alembic")

    river = venv / "bin" / "river"
    url = ["--database-url", database_url, "--schema", fresh_schema]
    assert run(river, "migrate", "up", *url, cwd=tmp_path).endswith("applied migration 008 [up]\n")
    assert run(river, "migrate", "current", *url, cwd=tmp_path) == "8\n"
