"""A throwaway PostgreSQL server for the storage tests: ``initdb`` + ``pg_ctl`` in a temp dir.

One cluster per pytest process (each xdist worker starts its own; about 1.5 s), listening on
127.0.0.1 at a free port, fsync off (the data dies with the test run). PostgreSQL refuses to
run as root, so under uid 0 the server runs as the ``postgres`` user that Debian's package
creates. ``$CLEARWAY_TEST_PG_URL`` (a server URL whose user may CREATE DATABASE) skips all of
this and uses that server instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_URL_ENV = "CLEARWAY_TEST_PG_URL"
START_TIMEOUT_S = 30


def unavailable(reason: str) -> None:
    """Skip the PostgreSQL tests here, but fail them in CI: a CI run that silently skipped
    them would pass with half the storage tests missing."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"PostgreSQL is required in CI (.ci/run installs it): {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


def find_pg_bin(name: str) -> Path | None:
    """``name`` (initdb, pg_ctl) from Debian's /usr/lib/postgresql/<version>/bin, newest
    version first (Debian keeps them off PATH), else from PATH."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if found:
        return Path(found[0])
    on_path = shutil.which(name)
    return Path(on_path) if on_path else None


def _as_postgres() -> list[str]:
    """Command prefix running a program as the ``postgres`` user (we are root)."""
    for runuser in (shutil.which("runuser"), "/usr/sbin/runuser", "/sbin/runuser"):
        if runuser and os.path.exists(runuser):
            return [runuser, "-u", "postgres", "--"]
    return ["su", "postgres", "-s", "/bin/sh", "-c"]  # takes the command as one string


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A started cluster; :attr:`url` reaches its ``postgres`` database as superuser."""

    def __init__(self) -> None:
        initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            unavailable(
                "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin or on PATH "
                "(Debian: apt-get install postgresql)"
            )
        self.pg_ctl = pg_ctl
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no 'postgres' user to run the server")
            # /tmp, not $TMPDIR: the postgres user must be able to reach the directory.
            self.dir = Path(tempfile.mkdtemp(prefix="clearway-pg-", dir="/tmp"))
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.run_as = _as_postgres()
        else:
            self.dir = Path(tempfile.mkdtemp(prefix="clearway-pg-"))
        self.data = self.dir / "data"
        try:
            self._run(
                [
                    str(initdb),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
            self.port = self._start()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        full = (
            [*self.run_as, shlex.join(cmd)] if self.run_as[:1] == ["su"] else [*self.run_as, *cmd]
        )
        proc = subprocess.run(full, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stdout}{proc.stderr}")

    def _start(self) -> int:
        last = ""
        for _ in range(3):  # another process may take the free port before the server does
            port = _free_port()
            opts = (
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                self._run(
                    [
                        str(self.pg_ctl),
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.dir / "log"),
                        "-w",
                        "-t",
                        str(START_TIMEOUT_S),
                        "-o",
                        opts,
                        "start",
                    ]
                )
                return port
            except RuntimeError as exc:
                last = str(exc) + (self.dir / "log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start: {last}")

    def stop(self) -> None:
        try:
            self._run([str(self.pg_ctl), "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
