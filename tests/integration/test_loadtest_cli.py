"""``clearway loadtest`` against a real ``clearway serve`` on loopback: requests created,
positions accepted, no 5xx, the audit log complete and its chain intact."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from clearway.cli.app import app
from tests.serve_process import ServeProcess, free_port

pytestmark = pytest.mark.sumo


@pytest.fixture
def served(tmp_path) -> Iterator[ServeProcess]:
    srv = ServeProcess(tmp_path)
    try:
        yield srv
    finally:
        srv.kill()


def test_loadtest_reports_accepted_updates_and_a_complete_audit(served, tmp_path):
    keys = served.start()
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
            f"http://127.0.0.1:{free_port()}",
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
