"""``clearway serve --dev [--demo-users]`` as a child process, for tests that need the real
server (kill it, restart it, load it): one SQLite file across restarts, a free port per start,
the demo users' keys read from its output (they are issued anew at each start), the output
of every run kept for failure messages. Limits are lifted (``UNLIMITED_ENV``)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.service.conftest import UNLIMITED_ENV

CLEARWAY = Path(sys.executable).with_name("clearway")
START_TIMEOUT_S = 25.0
KEY_LINE = re.compile(r"^\s*(viewer|dispatcher|operator|admin)\s+key:\s*(cwk_\S+)", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """The server on ``tmp``'s database; :meth:`start` (again after :meth:`kill`)."""

    def __init__(
        self,
        tmp: Path,
        *,
        scenario: str = "grid:3x3:light",
        speed: float = 5.0,
        demo_users: bool = True,
    ) -> None:
        self.tmp = tmp
        self.scenario = scenario
        self.speed = speed
        #: ``--demo-users``: keys printed at each start; without, users come from the CLI.
        self.demo_users = demo_users
        self.db_path = tmp / "x.db"
        self.db = f"sqlite:///{self.db_path}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.keys: dict[str, str] = {}
        self.url = ""

    def log(self, run: int) -> Path:
        return self.tmp / f"serve-{run}.log"

    def output(self) -> str:
        """The end of every run's output, for failure messages."""
        return "\n".join(
            f"--- serve run {k} ---\n" + self.log(k).read_text(errors="replace")[-4000:]
            for k in range(1, self.runs + 1)
            if self.log(k).exists()
        )

    def start(self) -> dict[str, str]:
        """Start it, wait for ``/health``; the demo keys by role (none without demo users)."""
        self.runs += 1
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [
            str(CLEARWAY), "serve", "--dev", "--scenario", self.scenario,
            "--speed", str(self.speed), "--db", self.db, "--port", str(port),
            "--out-dir", str(self.tmp / "out"),
        ]  # fmt: skip
        if self.demo_users:
            cmd.append("--demo-users")
        env = {k: v for k, v in os.environ.items() if k != "CLEARWAY_TOKEN_SECRET"}
        env |= UNLIMITED_ENV
        with self.log(self.runs).open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp, env=env
            )
        end = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc.poll() is None, f"serve exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < end, f"no /health in {START_TIMEOUT_S} s:\n{self.output()}"
            time.sleep(0.1)
        self.keys = dict(KEY_LINE.findall(self.log(self.runs).read_text(errors="replace")))
        if self.demo_users:
            assert {"dispatcher", "admin"} <= set(self.keys), f"no demo keys:\n{self.output()}"
        return self.keys

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, nothing flushed on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
