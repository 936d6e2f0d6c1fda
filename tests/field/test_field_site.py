"""The service's field site: one audit event per change of a junction's field status, and a
runtime on field controllers (a virtual NTCIP agent, no SUMO) that ticks on the wall clock
at its control period — never faster, even when requests wake it — and audits a fault and
the recovery."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from clearway.control.runtime import ControlLoop
from clearway.evaluation.priority_scenarios import named_setup
from clearway.field.config import config_for
from clearway.field.snmp_agent import NtcipAgent
from clearway.field.snmp_client import SnmpRunner, SnmpV3Credentials
from clearway.field.virtual.mib import ControllerMib
from clearway.field.virtual.nema_controller import DualRingController
from clearway.field.virtual.phase_timings import phase_timings_from_model
from clearway.field.wiring import detector_lanes
from clearway.network import load_network
from clearway.service.runtime import ServiceRuntime
from clearway.service.runtime_records import field_entry
from clearway.service.sites import FieldEvent, FieldSite
from clearway.signals.build import build_intersections
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade
from clearway.storage.models import AuditRecordRow

CRED_ENV = "CW_TEST_FIELD_SITE"
SECRET = "ops:authkey-site-123:privkey-site-123"
SIGNAL = "cluster_261705708_987195315"  # on the Berlin ambulance route


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now_s(self) -> float:
        return self.t


def fake_run(degraded: dict[str, str]):
    signals = SimpleNamespace(
        degraded=degraded,
        controllers={
            s: SimpleNamespace(target=SimpleNamespace(address=f"10.0.0.{k}:161"))
            for k, s in enumerate(("A", "B"), 1)
        },  # fmt: skip
        signal_ids=lambda: ["A", "B"],
    )
    seen = []
    monitor = SimpleNamespace(observe=lambda t, states: seen.append((t, dict(states))))
    loop = SimpleNamespace(
        timers={"A": SimpleNamespace(state="Gr"), "B": SimpleNamespace(state="rG")}
    )
    return SimpleNamespace(net=None, guard=None, monitor=monitor, loop=loop, priority=None,
                           signals=signals), seen  # fmt: skip


def test_one_event_per_change_of_status_and_the_reason_kept_current():
    degraded: dict[str, str] = {}
    run, seen = fake_run(degraded)
    clock = FakeClock()
    site = FieldSite(run, clock)
    assert {s: j.status for s, j in site.field_status().items()} == {"A": "ok", "B": "ok"}
    site.advance(1.0)
    assert site.take_events() == []
    assert seen == [(1000.0, {"A": "Gr", "B": "rG"})]  # the monitor saw what was read

    clock.t, degraded["A"] = 1001.0, "ControllerUnreachableError: no reply to GET"
    site.advance(1.0)
    assert site.take_events() == [
        FieldEvent(
            "fault", "A", "10.0.0.1:161", "ControllerUnreachableError: no reply to GET", 1001.0
        )
    ]
    # Still degraded, for another reason: shown, not a new event; since stays.
    clock.t, degraded["A"] = 1002.0, "ControllerUnreachableError: no reply to SET"
    site.advance(1.0)
    assert site.take_events() == []
    a = site.field_status()["A"]
    assert (a.status, a.reason, a.since_s) == ("degraded", degraded["A"], 1001.0)
    assert site.field_status()["B"].status == "ok"

    clock.t = 1005.0
    del degraded["A"]
    site.advance(1.0)
    assert site.take_events() == [
        FieldEvent(
            "recovered", "A", "10.0.0.1:161", "ControllerUnreachableError: no reply to SET", 1005.0
        )
    ]
    a = site.field_status()["A"]
    assert (a.status, a.reason, a.since_s) == ("ok", None, 1005.0)
    assert site.take_events() == []


def test_field_entries_name_junction_controller_and_reason_only():
    e = field_entry(FieldEvent("fault", "A", "10.0.0.1:161", "ControllerAuthError: refused", 5.0))
    assert (e.kind, e.junction_id, e.principal, e.request_id) == ("field.fault", "A", None, None)
    assert dict(e.payload) == {"controller": "10.0.0.1:161", "reason": "ControllerAuthError: refused",
                               "time_s": 5.0}  # fmt: skip
    r = field_entry(FieldEvent("recovered", "A", "10.0.0.1:161", "x", 6.0))
    assert r.kind == "field.recovered"


@pytest.fixture
def agent_and_config(tmp_path, monkeypatch):
    monkeypatch.setenv(CRED_ENV, SECRET)
    net = load_network(named_setup("berlin", tmp_path).net_file)
    models = build_intersections(net, None)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = config_for(net, models, [SIGNAL], "127.0.0.1", port, f"env:{CRED_ENV}", 5.0)
    pm = cfg.controllers[0].phase_map
    ctl = DualRingController(pm, phase_timings_from_model(pm, models[SIGNAL]))
    runner = SnmpRunner("test-site-agent")
    mib = ControllerMib(ctl, detector_count=len(detector_lanes(net, pm)))
    agent = NtcipAgent(mib, "127.0.0.1", port,
                       v3_users=[SnmpV3Credentials(*SECRET.split(":"))])  # fmt: skip
    runner.run(agent.start(), timeout_s=10.0)
    try:
        yield net, cfg, agent, runner
    finally:
        runner.run(agent.stop(), timeout_s=5.0)
        runner.close()


@pytest.mark.slow
def test_field_runtime_paces_on_the_wall_clock_and_audits_a_fault(tmp_path, agent_and_config,
                                                                 monkeypatch):  # fmt: skip
    net, cfg, agent, runner = agent_and_config
    ticks: list[float] = []
    original = ControlLoop.tick

    def counted(self):
        ticks.append(time.monotonic())  # when each tick starts
        original(self)

    monkeypatch.setattr(ControlLoop, "tick", counted)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    rt = ServiceRuntime(None, field=cfg, net=net, tick_s=0.5)
    rt.start(session_factory(engine))
    try:
        assert rt.traffic_clock().to_traffic_s(1.0e9) == 1.0e9  # traffic time is UTC
        assert abs(rt.now_s() - time.time()) < 1.0
        end = time.monotonic() + 2.6
        while time.monotonic() < end:
            rt._wake.set()  # what a new request does: a twin would tick at once
            time.sleep(0.05)
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
        assert len(ticks) <= 7 and gaps, ticks
        assert min(gaps) >= 0.5 - 0.05, gaps
        assert rt.field_status()[SIGNAL].status == "ok", rt.field_status()

        runner.run(agent.stop(), timeout_s=5.0)
        deadline = time.monotonic() + 10.0
        while rt.field_status()[SIGNAL].status != "degraded":
            assert time.monotonic() < deadline, rt.field_status()
            time.sleep(0.1)
        runner.run(agent.start(), timeout_s=10.0)
        while rt.field_status()[SIGNAL].status != "ok":
            assert time.monotonic() < deadline + 10.0, rt.field_status()
            time.sleep(0.1)
    finally:
        rt.stop()
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditRecordRow.kind, AuditRecordRow.junction_id)
            .where(AuditRecordRow.kind.like("field.%"))
            .order_by(AuditRecordRow.seq)
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("field.fault", SIGNAL), ("field.recovered", SIGNAL)]
