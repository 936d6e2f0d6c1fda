"""The live service acts on the bus feed: on a 3x3 twin with two bus lines (``clearway.sim.
bus_lines``), a transit operator's AVL (here the test, reading the twin's buses as an AVL unit
would and stamping them in UTC) feeds ``POST /transit/positions``; the twin's fixed-time
signals give the late buses green extensions and early greens, each audited as
``transit.priority`` with the junction and the bus's line and trip, and ``GET /transit/buses``
shows the last priority given. A decision at a signal held for an emergency never goes out
and is not audited. A field runtime refuses a GTFS schedule."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from clearway.control.transit_control import TransitAction
from clearway.errors import ConfigError
from clearway.network import load_network
from clearway.service.runtime import ServiceRuntime
from clearway.service.runtime_transit import TRANSIT_PRIORITY_KIND, transit_controllers
from clearway.sim.bus_lines import BusService, bus_trips, grid_bus_lines, with_buses, write_gtfs
from clearway.sim.scenario import grid_scenario

from .conftest import make_service

libsumo = pytest.importorskip("libsumo")

#: Every bus leaves its terminal this late (s): all of them qualify (threshold 60 s).
LATE_START_S = 120.0
#: The ambulance goes up the middle column, across the EW bus line at B1.
AMBULANCE = {
    "vehicle_id": "AMB-3", "role": "ambulance", "incident_id": "INC-3",
    "origin_edge": "bottom1B0", "destination_edge": "B2top1", "lease_s": 300, "simulate": True,
}  # fmt: skip


def _bus_city(tmp: Path):
    base = grid_scenario(tmp, "3x3", seed=2, end_s=1200, load="light")
    net = load_network(base.net_file)
    lines = grid_bus_lines(net, 3, 3)
    service = BusService(headway_s=60.0, first_s=10.0, last_s=400.0)
    trips = [
        dataclasses.replace(b, depart_s=b.scheduled_s + LATE_START_S)
        for b in bus_trips(net, lines, service, seed=2)
    ]
    gtfs = write_gtfs(tmp / "gtfs", lines, trips)
    return with_buses(base, lines, trips, service, tmp), gtfs, {b.trip_id for b in trips}


def _avl(runtime: ServiceRuntime, trip_ids: set[str]) -> list[dict]:
    """The twin's buses as an AVL unit reports them: place, speed, UTC time."""
    with runtime.lock:
        clock = runtime.traffic_clock()
        if clock is None:
            return []
        now_utc = clock.to_utc_s(runtime.now_s())
        out = []
        for vid in sorted(set(libsumo.vehicle.getIDList()) & trip_ids):
            edge = libsumo.vehicle.getRoadID(vid)
            if edge.startswith(":"):
                continue  # inside a junction: no edge of the line
            out.append({
                "vehicle_id": vid, "trip_id": vid, "time_s": now_utc, "edge_id": edge,
                "offset_m": max(libsumo.vehicle.getLanePosition(vid), 0.0),
                "speed_mps": min(libsumo.vehicle.getSpeed(vid), 40.0),
            })  # fmt: skip
    return out


def _given(svc) -> list:
    return list(svc.ctx.audit.query(kind=TRANSIT_PRIORITY_KIND, limit=500).records)


def test_late_buses_get_greens_through_the_service_and_an_emergency_wins(
    engine, sessions, tmp_path
):
    scenario, gtfs, trip_ids = _bus_city(tmp_path)
    runtime = ServiceRuntime(scenario, strategy="corridor", speed=25.0, gtfs_dir=str(gtfs))
    svc = make_service(engine, sessions, None, runtime=runtime)
    with svc.client:
        st = svc.client.get("/transit/status", headers=svc.as_("viewer")).json()
        assert st == {"configured": True, "live": True, "late_threshold_s": 60.0}
        end = time.monotonic() + 60.0
        fed = 0
        while not _given(svc) and time.monotonic() < end:
            body = _avl(runtime, trip_ids)
            if body:
                r = svc.client.post("/transit/positions", json={"positions": body},
                                    headers=svc.as_("dispatcher"))  # fmt: skip
                assert r.status_code == 200, r.text
                # Times converted to the twin's: each bus ~120 s late at its start (a UTC stamp
                # taken as traffic time would make it ~1.7e9 s late).
                lates = [x for x in r.json()["lateness"] if x["lateness_s"] is not None]
                assert all(x["qualifies"] and 60 < x["lateness_s"] < 600 for x in lates), lates
                fed += 1
            time.sleep(0.04)
        given = _given(svc)
        assert given, f"no green moved for a late bus after {fed} feeds"
        rec = given[0]
        assert rec.junction_id in {"A1", "B1", "C1", "B0", "B2"}
        assert rec.payload["action"] in {"extend", "early"}
        assert 0 < rec.payload["moved_s"] <= 10.0 + 1.0
        (bus,) = rec.payload["buses"][:1]
        assert bus["trip_id"] in trip_ids and bus["line_id"] in {"EW", "NS"}
        assert 60.0 < bus["lateness_s"] < 600.0
        assert set(bus) == {"vehicle_id", "trip_id", "line_id", "lateness_s"}  # no place
        # The operator's view: the bus and the last priority it got.
        shown = svc.client.get("/transit/buses", headers=svc.as_("viewer")).json()
        got = {b["vehicle_id"]: b for b in shown}
        if bus["vehicle_id"] in got:  # still on the network
            last = got[bus["vehicle_id"]]["last_priority"]
            assert last is not None and last["action"] in {"extend", "early"}

        # An emergency hold wins: a decision at a held signal never went out, so it is not
        # audited (the controller's commands there are dropped by the preemption layer).
        r = svc.client.post("/priority-requests", json=AMBULANCE, headers=svc.as_("dispatcher"))
        assert r.status_code == 201, r.text
        end = time.monotonic() + 20.0
        while time.monotonic() < end:
            with runtime.lock:
                held = set(runtime.desk().held)
                if held:
                    ctrl = transit_controllers(runtime.normal_control())[0]
                    now = runtime.now_s()
                    sid = sorted(held)[0]
                    free = next(s for s in ("A1", "C1", "A0", "C2") if s not in held)
                    ctrl.decisions += [
                        TransitAction(now, sid, "extend", 4.0, ("HELD-BUS",)),
                        TransitAction(now, free, "extend", 4.0, ("FREE-BUS",)),
                    ]
                    break
            time.sleep(0.02)
        assert held, "the ambulance's corridor held no junction"
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            ids = {b["vehicle_id"] for r in _given(svc) for b in r.payload["buses"]}
            if "FREE-BUS" in ids:
                break
            time.sleep(0.05)
        assert "FREE-BUS" in ids and "HELD-BUS" not in ids
    assert runtime.violations == [], runtime.violations[:3]


def test_a_field_runtime_refuses_a_gtfs_schedule(grid_net, tmp_path):
    """Refused before any controller is contacted (the config is not even looked at)."""
    with pytest.raises(ConfigError, match="field controllers run their own programs"):
        ServiceRuntime(None, field=object(), net=grid_net, gtfs_dir=str(tmp_path))  # type: ignore[arg-type]


def test_status_without_a_schedule_is_an_answer_not_a_503(service):
    """The dashboard asks before reading the buses (a 503 would be a console error)."""
    st = service.client.get("/transit/status", headers=service.as_("viewer"))
    assert st.status_code == 200 and st.json()["configured"] is False
    assert service.client.get("/transit/buses", headers=service.as_("viewer")).status_code == 503


def test_status_with_a_schedule_but_no_runtime(engine, sessions, grid_net, tmp_path):
    from tests.fakes.transit import tiny_gtfs

    fed = make_service(engine, sessions, grid_net, gtfs_dir=str(tiny_gtfs(tmp_path, grid_net)))
    st = fed.client.get("/transit/status", headers=fed.as_("viewer")).json()
    assert st["configured"] is True and st["live"] is False  # no runtime: taken, not acted on


def test_feed_times_are_turned_into_traffic_time_with_the_clock(tmp_path, grid_net):
    """A twin at 5x real time whose traffic time 0 was at UTC 1e9: a GTFS-realtime vehicle
    stopped at s1 (due at day+1100 s) at traffic time 1250 s is 150 s late, in traffic
    seconds; a position stamped then is placed at traffic time 1250 s."""
    from google.transit import gtfs_realtime_pb2

    from clearway.control.priority.bus_board import BusReport
    from clearway.service.clock import TrafficClock
    from clearway.service.transit_feed import TransitDesk
    from tests.fakes.transit import POSITION, tiny_gtfs

    clock = TrafficClock(epoch_utc_s=1e9, speed=5.0)
    desk = TransitDesk(tiny_gtfs(tmp_path, grid_net), 0.0)
    at_utc = clock.to_utc_s(1250.0)  # 1e9 + 250 s
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    vp = msg.entity.add(id="1").vehicle
    vp.trip.trip_id, vp.current_stop_sequence = "L.0", 2
    vp.current_status = gtfs_realtime_pb2.VehiclePosition.STOPPED_AT
    vp.timestamp = int(at_utc)
    (delay,) = desk.feed(msg.SerializeToString(), at_utc, clock).delays
    assert delay.delay_s == pytest.approx(150.0) and delay.time_s == pytest.approx(1250.0)
    rep = BusReport("L.0", POSITION["edge_id"], 150.0, 7.0, at_utc)
    (late,) = desk.positions([("bus7", rep)], clock)
    assert late == pytest.approx(150.0)  # at s1 at 1250 s; the operator's delay is as fresh
    (bus,) = desk.buses(at_utc + 1.0, clock)  # 1 s later is 5 traffic seconds later: fresh
    assert bus["vehicle_id"] == "bus7" and bus["trip_id"] == "L.0" and bus["line_id"] == "L"
    assert desk.buses(at_utc + 7.0, clock) == []  # 35 traffic seconds: stale (30 s)
