"""Re-routing in the service: a street on the ambulance's planned route jams just after it is
dispatched; the live runtime gives the request a way round, the change is audited with its
reason, and the twin's simulated vehicle takes it and arrives. Without re-routing it keeps
its route through the jam."""

from __future__ import annotations

import time

import pytest

from clearway.service.runtime import ServiceRuntime
from clearway.sim.scenario import grid_scenario

from .conftest import make_service

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

BODY = {
    "vehicle_id": "AMB-9",
    "role": "ambulance",
    "incident_id": "INC-9",
    "origin_edge": "left2A2",
    "destination_edge": "E2right2",
    "lease_s": 300,
    "simulate": True,
}
#: Traffic runs this long before the ambulance is dispatched (s).
WARM_UP_S = 300.0
#: Speed on the jammed street (m/s): a crash blocks all but a crawl.
JAM_SPEED_MPS = 2.0
#: Where on each lane of that street vehicles crawl when it jams (share of the lane's length):
#: both soon reach its stop-line detector.
CRAWLER_POS_SHARES = (0.3, 0.6)


def _until(done, timeout_s: float, what: str):
    end = time.monotonic() + timeout_s
    while not (out := done()):
        assert time.monotonic() < end, f"{what} not within {timeout_s} s"
        time.sleep(0.05)
    return out


@pytest.mark.parametrize("reroute", [True, False])
def test_the_service_reroutes_a_simulated_ambulance_round_a_jam(engine, sessions, tmp_path, reroute):
    scenario = grid_scenario(tmp_path, "5x5", seed=3, end_s=1200, load="moderate")
    # As fast as the machine goes through the warm-up, then 10x real time: the test must get
    # its jam in before the ambulance reaches the street.
    runtime = ServiceRuntime(scenario, strategy="corridor", speed=0.0, reroute=reroute)
    svc = make_service(engine, sessions, None, runtime=runtime)
    with svc.client:
        _until(lambda: runtime.now_s() >= WARM_UP_S - 30.0, 60.0, "the warm-up")
        with runtime.lock:
            runtime.speed = 10.0
        _until(lambda: runtime.now_s() >= WARM_UP_S, 60.0, "the warm-up")
        r = svc.client.post("/priority-requests", json=BODY, headers=svc.as_("dispatcher"))
        assert r.status_code == 201, r.text
        rid, planned = r.json()["request_id"], r.json()["route"]
        jammed = planned[4]  # a few blocks ahead: time enough to turn off
        with runtime.lock:  # the world, not clearway: a crash on that street
            sim = runtime._site.wired.twin._sim
            lanes = runtime.net.edge(jammed).lane_ids
            for lane in lanes:
                sim.lane.setMaxSpeed(lane, JAM_SPEED_MPS)
            # ... and traffic crawling along it. Detectors see a jam only in vehicles that
            # cross them: left to the seeded demand, whether one enters the street before
            # the ambulance nears it depends on how far the twin ran before the request.
            sim.route.add("crash", [jammed])
            for i, lane in enumerate(lanes):
                for k, share in enumerate(CRAWLER_POS_SHARES):
                    sim.vehicle.add(f"crash-{i}-{k}", "crash", departLane=str(i),
                                    departPos=str(share * sim.lane.getLength(lane)),
                                    departSpeed=str(JAM_SPEED_MPS))  # fmt: skip

        def final():
            out = svc.client.get(f"/priority-requests/{rid}", headers=svc.as_("viewer")).json()
            return out if out["state"] in ("completed", "expired", "cancelled") else None

        out = _until(final, 120.0, "the ambulance's arrival")
        records = svc.ctx.audit.query(kind="request", request_id=rid, limit=1000).records
        report = svc.ctx.audit.verify()
    assert out["state"] == "completed", out
    assert report.ok, report.message
    rerouted = [r for r in records if r.payload.get("event") == "rerouted"]
    if reroute:
        assert 1 <= len(rerouted) <= 2, [r.payload for r in records]  # taken, no flapping
        assert "faster" in rerouted[0].payload["reason"]
        assert " via " not in rerouted[0].payload["reason"]  # no streets in the log
        assert jammed not in out["route"]  # the way it was driven, and its vehicle arrived
        assert runtime._drivers.reroutes == {"AMB-9": len(rerouted)}
    else:
        assert rerouted == []
        assert jammed in out["route"]
    assert runtime.violations == []
