"""The live runtime audits what the independent safety monitor sees: a violation (here a
conflicting all-green shown to the monitor, as a broken controller would) becomes a
``monitor.violation`` record with its junction, rule and time, and the public transparency
report counts it."""

from __future__ import annotations

import time

from clearway.service.runtime import ServiceRuntime
from clearway.service.runtime_monitor import MONITOR_VIOLATION_KIND
from clearway.storage.public_report import build_report, parse_period

from .conftest import make_service


def _records(svc) -> list:
    return list(svc.ctx.audit.query(kind=MONITOR_VIOLATION_KIND, limit=100).records)


def test_a_monitor_violation_is_audited_and_counted_in_the_public_report(
    engine, sessions, live_scenario
):
    runtime = ServiceRuntime(live_scenario, strategy="corridor", speed=20.0)
    svc = make_service(engine, sessions, None, runtime=runtime)
    with svc.client:
        time.sleep(0.3)
        assert _records(svc) == []  # a sound run writes none
        with runtime.lock:
            wired = runtime._wired
            assert wired is not None
            now = runtime.now_s()
            n = wired.net.traffic_lights["B1"].link_count
            wired.monitor.observe(now + 0.5, {"B1": "G" * n})  # every movement green at once
        end = time.monotonic() + 10.0
        while not _records(svc) and time.monotonic() < end:
            time.sleep(0.05)
        found = _records(svc)
    assert found, "the violation was not audited"
    first = found[0]
    assert first.junction_id == "B1" and first.payload["rule"] == "conflict"
    assert first.payload["time_s"] >= now and first.payload["count"] == 1
    assert runtime.violations  # the in-memory list as before
    day = first.recorded_at.date().isoformat()
    with sessions() as s:
        rep = build_report(s, parse_period(day=day))
    seen = sum(r.payload["count"] for r in _records(svc))
    assert rep["totals"]["monitor_violations"] == {"value": seen, "records": seen}
