"""``clearway loadtest`` against a real ``clearway serve`` on loopback: requests created,
positions accepted, no 5xx, the audit log complete and its chain intact."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from clearway.cli.app import app
from tests.service.conftest import UNLIMITED_ENV

pytestmark = pytest.mark.sumo

CLEARWAY = Path(sys.executable).with_name("clearway")
START_TIMEOUT_S = 25.0
KEY_LINE = re.compile(r"^\s*(viewer|dispatcher|operator|admin)\s+key:\s*(cwk_\S+)", re.M)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``clearway serve --dev --demo-users`` as a child process; its output in a file."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        cmd = [
            str(CLEARWAY), "serve", "--dev", "--demo-users", "--scenario", "grid:3x3:light",
            "--speed", "5", "--db", f"sqlite:///{tmp / 'x.db'}", "--port", str(self.port),
            "--out-dir", str(tmp / "out"),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "CLEARWAY_TOKEN_SECRET"}
        env |= UNLIMITED_ENV
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, env=env
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def wait_healthy(self) -> dict[str, str]:
        """Wait for ``/health``; the demo keys by role."""
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
        keys = dict(KEY_LINE.findall(self.log.read_text(errors="replace")))
        assert {"dispatcher", "admin"} <= set(keys), f"no demo keys printed:\n{self.output()}"
        return keys

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    srv = Served(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def test_loadtest_reports_accepted_updates_and_a_complete_audit(served, tmp_path):
    keys = served.wait_healthy()
    report_path = tmp_path / "report.json"
    t0 = time.monotonic()
    result = CliRunner().invoke(
        app,
        [
            "loadtest",
            "--url",
            served.url,
            "--key",
            keys["dispatcher"],
            "--admin-key",
            keys["admin"],
            "--requests",
            "4",
            "--clients",
            "4",
            "--rate",
            "0",
            "--duration",
            "4",
            "--timeout",
            "10",
            "--json",
            str(report_path),
        ],  # fmt: skip
        env={"COLUMNS": "140"},
    )
    wall = time.monotonic() - t0
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}\n{served.output()}"
    report = json.loads(report_path.read_text())
    assert report["ok"], report["failures"]
    assert report["requests_created"] == 4
    assert report["accepted"] > 0 and report["accepted_per_s"] > 0
    assert report["status_5xx"] == 0 and report["transport_errors"] == 0, report
    pos = report["calls"]["position"]
    assert pos["status"] == {"201": report["accepted"]}, pos
    for kind in ("create", "position", "cancel"):
        lat = report["calls"][kind]["latency"]
        assert lat["n"] > 0 and lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert report["calls"]["cancel"]["status"].get("200", 0) >= 4
    audit = report["audit"]
    assert audit["complete"] and audit["verify_ok"], audit
    assert audit["position_audit_records"] == audit["accepted_201"] == report["accepted"]
    assert "request.position records" in result.output and "ok" in result.output
    # Bounded: the positions stop at --duration; creates, cancels and the audit are short.
    assert wall < 4 + 20, wall


def test_loadtest_fails_with_exit_1_when_nothing_answers(tmp_path):
    """No service on the port: transport errors, exit 1, and quickly."""
    t0 = time.monotonic()
    result = CliRunner().invoke(
        app,
        [
            "loadtest",
            "--url",
            f"http://127.0.0.1:{_free_port()}",
            "--key",
            "cwk_x",
            "--duration",
            "1",
            "--timeout",
            "1",
            "--json",
            str(tmp_path / "r.json"),
        ],  # fmt: skip
    )
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert not report["ok"] and report["failures"], report
    assert time.monotonic() - t0 < 10
