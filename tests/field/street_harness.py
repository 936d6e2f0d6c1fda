"""Runs clearway's corridor over SNMP against the virtual street in one process: the street
(twin + virtual NTCIP controllers + their agents) in a thread, the field control loop in the
caller's thread, dispatch and the AVL unit handed over in process (LocalDispatch)."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.control.priority.corridor import signal_of_junction
from clearway.evaluation.priority_scenarios import BERLIN_TRIP, named_setup
from clearway.field.config import config_for
from clearway.field.virtual.dispatch import TripPlan
from clearway.field.virtual.local import LocalDispatch
from clearway.field.virtual.street import VirtualStreet
from clearway.field.wiring import WallClock, open_field_run, virtual_cabinets
from clearway.network import load_network
from clearway.network.graph import build_routing_graph
from clearway.network.routing import fastest_route
from clearway.signals.build import build_intersections
from clearway.sim.priority_trips import write_priority_vtype
from clearway.sim.twin import SumoTwin

CRED_ENV = "CLEARWAY_TEST_SNMP"


@dataclass
class StreetRun:
    status: dict
    kill_s: float | None
    rtt_ms: list[float]
    granted: set[str]
    field_faults: list
    loop_rejected: int


def free_port_base(n: int) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n < 65000:
            return base
    raise RuntimeError("no free UDP ports")


def run_berlin(out: Path, *, speed: float = 2.0, kill_after_signals: int | None = None,
               backup_time_s: float = 5.0, timeout_s: float = 420.0) -> StreetRun:
    os.environ.setdefault(CRED_ENV, "clearway:authkey-123:privkey-456")
    setup = named_setup("berlin", out)
    net = load_network(setup.net_file)
    models = build_intersections(net, None)
    route = fastest_route(build_routing_graph(net, "emergency"), *BERLIN_TRIP)
    sj = signal_of_junction(net)
    sids = list(dict.fromkeys(sj[j] for j in route.junctions if j in sj))
    cfg = config_for(net, models, sids, "127.0.0.1", free_port_base(len(sids)),
                     f"env:{CRED_ENV}", backup_time_s=backup_time_s)
    scen = setup.build(1, 1500.0)
    vtype = write_priority_vtype(out / "priority.vtype.add.xml")
    scen = replace(scen, additional_files=(*scen.additional_files, vtype))
    twin = SumoTwin.start(scen)
    try:
        twin.advance(240.0)  # demand on the streets first
        t0 = twin.now_s()
        plan = TripPlan("AMB-1", BERLIN_TRIP[0], BERLIN_TRIP[1], depart_s=t0 + 12.0, lead_s=10.0,
                        type_id="cw_priority")
        # The street's clock fixes the epoch; clearway's clock reads the same traffic time.
        holder: dict = {}

        clock_box: list[WallClock] = []
        dispatch = LocalDispatch(None, lambda utc: clock_box[0].to_traffic_s(utc))
        street = VirtualStreet(twin, net, models, virtual_cabinets(cfg, net), speed=speed,
                               status_path=out / "street.json", trips=[plan], dispatch=dispatch)
        clock = WallClock(epoch_utc_s=street.utc_of(0.0), speed=speed)
        clock_box.append(clock)
        street.start_agents()
        th = threading.Thread(target=lambda: holder.setdefault("status", street.run(timeout_s * speed)),
                              daemon=True)
        th.start()
        rtt: list[float] = []
        granted: set[str] = set()
        kill_s = None
        with open_field_run(cfg, net, models, clock=clock) as run:
            dispatch.pushed = run.pushed
            deadline = time.monotonic() + timeout_s
            next_t = time.monotonic()
            while time.monotonic() < deadline and th.is_alive():
                dispatch.serve_pending(run.priority, clock.now_s())
                run.loop.tick()
                run.monitor.observe(clock.now_s(), dict(run.signals._states))
                rtt.extend(run.signals.last_rtt_ms.values())
                for req in run.priority.requests.values():
                    for sid, st in req.junctions.items():
                        if str(st) == "granted":
                            granted.add(sid)
                trip = street.status.trips.get("AMB-1", {})
                if trip.get("arrived_s") is not None or trip.get("error"):
                    break
                if kill_after_signals is not None and len(granted) >= kill_after_signals and run.priority.held:
                    kill_s = clock.now_s()
                    break
                next_t += 1.0 / speed
                time.sleep(max(0.0, next_t - time.monotonic()))
            faults = list(run.signals.faults)
            rejected = run.loop.stats.rejected
            if kill_s is not None:
                # clearway "dies": no release, no more SETs; the controllers must fall back on
                # their own within their backup time.
                run.signals._sent.clear()
                time.sleep((backup_time_s + 3.0) / speed)
        if kill_s is None:
            time.sleep(1.0)
        street.stop()
        th.join(30)
        street.close()
        return StreetRun(dict(street.status.__dict__), kill_s, rtt, granted, faults, rejected)
    finally:
        twin.close()
