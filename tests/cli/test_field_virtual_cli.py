"""``clearway field virtual`` as a process: it prints where its agents listen, ``clearway field
check --live`` reaches them, and Ctrl-C (SIGINT) stops it cleanly with the monitor's count."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import clearway.cli.field as field_cli
from clearway.cli.app import app
from clearway.evaluation.priority_scenarios import named_setup
from tests.field.street_harness import free_port_base

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

CLEARWAY = Path(sys.executable).with_name("clearway")
CRED_ENV = "CW_TEST_FIELD_VIRTUAL"
SIGNALS = ("cluster_261705708_987195315", "1525212345")


def test_virtual_street_listens_answers_a_live_check_and_stops_on_ctrl_c(tmp_path, monkeypatch):
    monkeypatch.setenv(CRED_ENV, "ops:authkey-virtual-1:privkey-virtual-1")
    monkeypatch.setattr(field_cli, "console", Console(width=400, no_color=True))
    setup = named_setup("berlin", tmp_path)
    routes = setup.build(1, 600.0).route_files
    cfg = tmp_path / "junctions.toml"
    port = free_port_base(len(SIGNALS))
    res = CliRunner().invoke(app, ["field", "config", str(setup.net_file), "--signals",
                                   ",".join(SIGNALS), "--first-port", str(port),
                                   "--credentials-ref", f"env:{CRED_ENV}", "-o", str(cfg)])  # fmt: skip
    assert res.exit_code == 0, res.output
    log = tmp_path / "virtual.log"
    cmd = [str(CLEARWAY), "field", "virtual", str(cfg), "--net", str(setup.net_file),
           "--out-dir", str(tmp_path / "out"), "--status", str(tmp_path / "street.json")]  # fmt: skip
    for r in routes:
        cmd += ["--routes", str(r)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
                                cwd=tmp_path)  # fmt: skip
    try:
        end = time.monotonic() + 60.0
        while "Ctrl-C stops it" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < end, log.read_text(errors="replace")
            time.sleep(0.2)
        text = log.read_text(errors="replace")
        for k, sid in enumerate(SIGNALS):
            assert re.search(rf"{re.escape(sid)}\s*│\s*127\.0\.0\.1:{port + k}\s*│\s*v3", text), (
                text
            )
        res = CliRunner().invoke(app, ["field", "check", str(cfg), "--net", str(setup.net_file),
                                       "--live", "--timeout-s", "2"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert len(re.findall(r"│\s*ok\s*│\s*ok\s*│", res.output)) == len(SIGNALS), res.output
        assert (tmp_path / "street.json").exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text(errors="replace")
        assert "monitor violations: 0" in log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # Its ports are free again: the agents closed their sockets.
    res = CliRunner().invoke(app, ["field", "check", str(cfg), "--net", str(setup.net_file),
                                   "--live", "--timeout-s", "0.3"])  # fmt: skip
    assert res.exit_code == 1 and "unreachable" in res.output
