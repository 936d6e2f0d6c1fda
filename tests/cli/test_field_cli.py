"""``clearway field config|check``: a derived config passes, a broken one names the signal and
the problem, ``--live`` asks a running NTCIP agent (ok, wrong credentials, closed port) and
``clearway serve --field`` refuses a config that does not match the network."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import clearway.cli.field as field_cli
from clearway.cli.app import app
from clearway.errors import ConfigError
from clearway.evaluation.priority_scenarios import named_setup
from clearway.field.config import check_config, config_for, load_config
from clearway.field.snmp_agent import NtcipAgent
from clearway.field.snmp_client import SnmpRunner, SnmpV3Credentials
from clearway.field.virtual.mib import ControllerMib
from clearway.field.virtual.nema_controller import DualRingController
from clearway.field.virtual.phase_timings import phase_timings_from_model
from clearway.network import load_network
from clearway.signals.build import build_intersections

CRED_ENV = "CW_TEST_FIELD_CLI"
SECRET = "ops:authkey-123456:privkey-123456"
# Two signals of the Berlin network on the ambulance's route (tests/field/street_harness.py).
SIGNALS = ("cluster_261705708_987195315", "1525212345")


@pytest.fixture(scope="module")
def berlin(tmp_path_factory):
    net_file = named_setup("berlin", tmp_path_factory.mktemp("berlin")).net_file
    net = load_network(net_file)
    return net_file, net, build_intersections(net, None)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # The table folds long cells at the terminal's width; a wide one keeps each on one line.
    monkeypatch.setattr(field_cli, "console", Console(width=400, no_color=True))
    monkeypatch.setenv(CRED_ENV, SECRET)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def write_config(tmp_path: Path, net_file: Path, port: int, signals=SIGNALS) -> Path:
    out = tmp_path / "junctions.toml"
    res = invoke("field", "config", net_file, "--signals", ",".join(signals), "--host",
                 "127.0.0.1", "--first-port", port, "--credentials-ref", f"env:{CRED_ENV}",
                 "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        f"{len(signals)} controllers at 127.0.0.1:{port}..{port + len(signals) - 1}" in res.output
    )
    return out


def test_a_derived_config_checks_ok_and_reads_back(tmp_path, berlin):
    net_file, net, models = berlin
    path = write_config(tmp_path, net_file, 20161)
    cfg = load_config(path)
    assert [c.signal_id for c in cfg.controllers] == list(SIGNALS)
    assert [c.port for c in cfg.controllers] == [20161, 20162]
    assert cfg.controllers[0].credentials_ref == f"env:{CRED_ENV}"
    assert SECRET not in path.read_text()  # a reference only, never the secret
    res = invoke("field", "check", path, "--net", net_file)
    assert res.exit_code == 0, res.output
    assert "all controllers ok" in res.output
    for sid in SIGNALS:
        assert re.search(rf"{re.escape(sid)}\s*│\s*127\.0\.0\.1:\d+ \(v3\)\s*│\s*ok", res.output)


def test_a_broken_config_names_the_signal_and_the_problem(tmp_path, berlin):
    net_file, net, models = berlin
    path = write_config(tmp_path, net_file, 20161)
    text = path.read_text()
    # Phase 1 of the second controller now also drives a link of no such index.
    second = text.index('signal_id = "1525212345"')
    at = text.index("links = [", text.index("[[controller.phase]]", second)) + len("links = [")
    path.write_text(text[:at] + "99, " + text[at:])
    problems = check_config(load_config(path), models, net)
    assert problems  # an independent look: the checker itself objects
    res = invoke("field", "check", path, "--net", net_file)
    assert res.exit_code == 1, res.output
    assert "1 problem(s)" in res.output
    row = next(line for line in res.output.splitlines() if "1525212345" in line)
    assert "99" in row, res.output
    ok_row = next(line for line in res.output.splitlines() if SIGNALS[0] in line)
    assert re.search(r"\(v3\)\s*│\s*ok\s*│", ok_row), res.output


def test_an_unknown_signal_is_named(tmp_path, berlin):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, 20161)
    path.write_text(path.read_text().replace(f'"{SIGNALS[1]}"', '"no-such-light"'))
    res = invoke("field", "check", path, "--net", net_file)
    assert res.exit_code == 1
    assert "no-such-light" in res.output and "1 problem(s)" in res.output


@pytest.fixture
def agent(berlin):
    """A virtual controller of SIGNALS[0] behind an SNMPv3 agent on a free UDP port."""
    _net_file, net, models = berlin

    c = config_for(net, models, [SIGNALS[0]], "127.0.0.1", 1, f"env:{CRED_ENV}").controllers[0]
    ctl = DualRingController(c.phase_map, phase_timings_from_model(c.phase_map, models[SIGNALS[0]]))
    port = free_udp_port()
    runner = SnmpRunner("test-agent")
    user = SnmpV3Credentials(*SECRET.split(":"))
    ag = NtcipAgent(ControllerMib(ctl), "127.0.0.1", port, v3_users=[user])
    runner.run(ag.start(), timeout_s=10.0)
    try:
        yield port
    finally:
        runner.run(ag.stop(), timeout_s=5.0)
        runner.close()


def test_live_check_reaches_a_running_agent(tmp_path, berlin, agent):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, agent, signals=SIGNALS[:1])
    res = invoke("field", "check", path, "--net", net_file, "--live", "--timeout-s", "2")
    assert res.exit_code == 0, res.output
    assert re.search(r"│\s*ok\s*│\s*ok\s*│\s*\d+ phases, green", res.output), res.output


def test_live_check_reports_refused_credentials(tmp_path, berlin, agent, monkeypatch):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, agent, signals=SIGNALS[:1])
    monkeypatch.setenv(CRED_ENV, "ops:wrongkey-123456:privkey-123456")
    res = invoke("field", "check", path, "--net", net_file, "--live", "--timeout-s", "2")
    assert res.exit_code == 1, res.output
    assert re.search(r"│\s*ok\s*│\s*auth\s*│", res.output), res.output
    assert "wrongkey" not in res.output and "privkey" not in res.output


def test_live_check_reports_a_closed_port_unreachable(tmp_path, berlin):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, free_udp_port(), signals=SIGNALS[:1])
    res = invoke("field", "check", path, "--net", net_file, "--live", "--timeout-s", "0.5")
    assert res.exit_code == 1, res.output
    assert re.search(r"│\s*ok\s*│\s*unreachable\s*│", res.output), res.output
    assert "1 problem(s)" in res.output


def test_live_check_reports_a_missing_secret(tmp_path, berlin, monkeypatch):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, free_udp_port(), signals=SIGNALS[:1])
    monkeypatch.delenv(CRED_ENV)
    res = invoke("field", "check", path, "--net", net_file, "--live", "--timeout-s", "0.5")
    assert res.exit_code == 1
    assert re.search(rf"credentials\s*│.*{CRED_ENV}", res.output), res.output


def test_serve_field_refuses_a_config_that_does_not_match(tmp_path, berlin, monkeypatch):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, 20161)
    path.write_text(path.read_text().replace(f'"{SIGNALS[1]}"', '"no-such-light"'))
    with pytest.raises(ConfigError, match=r"(?s)does not match the network.*no-such-light"):
        invoke("serve", "--dev", "--field", path, "--net", net_file, "--db",
               f"sqlite:///{tmp_path}/x.db")  # fmt: skip


def test_serve_field_refuses_twin_options(tmp_path, berlin, monkeypatch):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, 20161)
    with pytest.raises(ConfigError, match="--speed: not with --field"):
        invoke("serve", "--dev", "--field", path, "--net", net_file, "--speed", "5")
    with pytest.raises(ConfigError, match="--field needs --net"):
        invoke("serve", "--dev", "--field", path, "--scenario", "grid:2x2")


def test_serve_field_refuses_a_missing_secret(tmp_path, berlin, monkeypatch):
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, 20161)
    monkeypatch.delenv(CRED_ENV)
    with pytest.raises(ConfigError, match=f"environment variable '{CRED_ENV}' is not set"):
        invoke("serve", "--dev", "--field", path, "--net", net_file)


def test_serve_field_refuses_a_gtfs_schedule(tmp_path, berlin, monkeypatch):
    """Transit priority stretches clearway's own fixed-time programs; field controllers run
    theirs: refused at start, naming why, before any controller is contacted."""
    net_file, _net, _models = berlin
    path = write_config(tmp_path, net_file, 20161)
    monkeypatch.setenv("CLEARWAY_GTFS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="unset CLEARWAY_GTFS_DIR for --field"):
        invoke("serve", "--dev", "--field", path, "--net", net_file, "--db",
               f"sqlite:///{tmp_path}/x.db")  # fmt: skip
