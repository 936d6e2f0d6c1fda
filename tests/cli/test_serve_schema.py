"""``clearway serve --dev`` on a fresh SQLite file makes its schema itself; outside dev mode an
unmigrated database is refused with the `clearway db upgrade` hint, before SUMO starts."""

from __future__ import annotations

import os
import secrets
import subprocess

import httpx
import pytest
from sqlalchemy import create_engine

from clearway.errors import StorageError
from clearway.storage.migrate import current_revision, head_revision


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_dev_mode_creates_the_schema_of_a_fresh_sqlite_file_once(tmp_path):
    from clearway.cli.serve import prepare_database

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    said = prepare_database(url, dev=True)
    assert said is not None and "created the schema" in said and head_revision() in said
    assert _revision(url) == head_revision()
    assert prepare_database(url, dev=True) is None  # already current: nothing to say


def test_outside_dev_mode_a_fresh_database_is_refused_and_left_alone(tmp_path):
    from clearway.cli.serve import prepare_database

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(StorageError, match=r"has no clearway schema.*run `clearway db upgrade"):
        prepare_database(url, dev=False)
    assert _revision(url) is None


@pytest.mark.sumo
def test_serve_dev_on_a_fresh_sqlite_file_serves_without_db_upgrade(tmp_path):
    from tests.serve_process import ServeProcess

    server = ServeProcess(tmp_path, demo_users=False)
    assert not server.db_path.exists()
    try:
        server.start()  # waits for /health: the server is up on the fresh file
        assert httpx.get(f"{server.url}/junctions", timeout=5.0).status_code == 401
    finally:
        server.kill()
    assert "dev mode: created the schema" in server.output()
    assert _revision(server.db) == head_revision()


def test_serve_outside_dev_mode_still_says_run_clearway_db_upgrade(tmp_path):
    from tests.serve_process import CLEARWAY, free_port

    db = tmp_path / "fresh.db"
    env = {**os.environ, "CLEARWAY_TOKEN_SECRET": secrets.token_urlsafe(48)}
    proc = subprocess.run(
        [str(CLEARWAY), "serve", "--scenario", "grid:3x3:light", "--db", f"sqlite:///{db}",
         "--port", str(free_port()), "--out-dir", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "has no clearway schema" in said and "run `clearway db upgrade" in said
    assert "Traceback" not in proc.stderr
    # Refused before anything was built: no scenario files, no schema.
    assert not (tmp_path / "out").exists() and _revision(f"sqlite:///{db}") is None
