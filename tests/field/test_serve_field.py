"""``clearway serve --field`` as its own process against the virtual street (in this process):
dispatch asks it for passage over HTTP and the ambulance's AVL unit sends GPS positions; the
corridor reaches the street's signals only through SNMP. A stopped agent shows in /health and
the audit log and recovers; when serve is SIGKILLed, every controller it commanded is back on
its own program within its unitBackupTime."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from clearway.control.priority.corridor import signal_of_junction
from clearway.evaluation.priority_scenarios import BERLIN_TRIP, named_setup
from clearway.field.config import config_for, write_config
from clearway.field.virtual.dispatch import DispatchClient, TripPlan
from clearway.field.virtual.street import VirtualStreet
from clearway.field.wiring import virtual_cabinets
from clearway.network import load_network
from clearway.network.graph import build_routing_graph
from clearway.network.routing import fastest_route
from clearway.signals.build import build_intersections
from clearway.sim.priority_trips import write_priority_vtype
from clearway.sim.twin import SumoTwin
from tests.field.street_harness import free_port_base
from tests.serve_process import KEY_LINE, free_port
from tests.service.conftest import UNLIMITED_ENV

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

CLEARWAY = Path(sys.executable).with_name("clearway")
CRED_ENV = "CLEARWAY_TEST_SERVE_SNMP"
SECRET = "clearway:authkey-serve-1:privkey-serve-1"
BACKUP_S = 4.0
#: Controllers on the ambulance's route, from its start (fewer: a lighter street).
N_SIGNALS = 4


@dataclass
class Site:
    street: VirtualStreet
    serve: subprocess.Popen
    url: str
    keys: dict[str, str]
    log: Path
    signals: list[str]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def audit(self, kind: str) -> list[dict]:
        r = httpx.get(f"{self.url}/audit", params={"kind": kind, "limit": 500},
                      headers={"X-API-Key": self.keys["admin"]}, timeout=5.0)  # fmt: skip
        r.raise_for_status()
        return r.json()["records"]

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=5.0).json()


def wait_for(what: str, check, timeout_s: float, site: Site | None = None):
    end = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"no {what} within {timeout_s} s\n{site.output() if site else ''}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-field")
    os.environ[CRED_ENV] = SECRET
    setup = named_setup("berlin", tmp)
    net = load_network(setup.net_file)
    models = build_intersections(net, None)
    route = fastest_route(build_routing_graph(net, "emergency"), *BERLIN_TRIP)
    sj = signal_of_junction(net)
    sids = list(dict.fromkeys(sj[j] for j in route.junctions if j in sj))[:N_SIGNALS]
    cfg = config_for(net, models, sids, "127.0.0.1", free_port_base(len(sids)),
                     f"env:{CRED_ENV}", backup_time_s=BACKUP_S)  # fmt: skip
    cfg_path = write_config(tmp / "junctions.toml", cfg)
    scen = setup.build(1, 1500.0)
    vtype = write_priority_vtype(tmp / "priority.vtype.add.xml")
    twin = SumoTwin.start(replace(scen, additional_files=(*scen.additional_files, vtype)))
    serve = None
    street = None
    try:
        twin.advance(200.0)  # demand on the streets first
        t0 = twin.now_s()
        plan = TripPlan("AMB-1", *BERLIN_TRIP, depart_s=t0 + 25.0, lead_s=10.0)
        street = VirtualStreet(twin, net, models, virtual_cabinets(cfg, net), speed=1.0,
                               status_path=tmp / "street.json", trips=[plan])  # fmt: skip
        street.start_agents()
        runner = threading.Thread(target=street.run, args=(600.0,), daemon=True)
        runner.start()
        port = free_port()
        log = tmp / "serve.log"
        env = {k: v for k, v in os.environ.items() if k != "CLEARWAY_TOKEN_SECRET"}
        env |= UNLIMITED_ENV
        with log.open("wb") as out:
            serve = subprocess.Popen(
                [str(CLEARWAY), "serve", "--dev", "--demo-users", "--field", str(cfg_path),
                 "--net", str(setup.net_file), "--db", f"sqlite:///{tmp / 'x.db'}",
                 "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=env,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        s = Site(street, serve, url, {}, log, sids)

        def up() -> bool:
            assert serve.poll() is None, f"serve exited:\n{s.output()}"
            try:
                return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("/health", up, 40.0, s)
        s.keys = dict(KEY_LINE.findall(log.read_text(errors="replace")))
        street.dispatch = DispatchClient(url, s.keys["dispatcher"])
        yield s
    finally:
        if serve is not None and serve.poll() is None:
            serve.kill()
            serve.wait(10)
        if street is not None:
            street.stop()
            time.sleep(0.5)
            street.close()
        twin.close()


def test_gps_request_gets_a_corridor_and_a_stopped_agent_degrades_then_recovers(site):
    # The ambulance's request and GPS positions reach serve over HTTP; its corridor is
    # commanded through the controllers.
    corridor = wait_for(
        "corridor command in the audit log",
        lambda: [r for r in site.audit("signal.approved") if r["payload"]["source"] == "corridor"],
        90.0, site,
    )  # fmt: skip
    assert {r["junction_id"] for r in corridor} <= set(site.signals)
    # (the corridor may start clearing the first junction's queue before the ambulance sets
    # off; its GPS reports follow once it drives)
    wait_for(
        "GPS reports sent", lambda: site.street.status.trips["AMB-1"]["samples_sent"] > 0,
        60.0, site,
    )  # fmt: skip
    assert site.street.status.trips["AMB-1"]["error"] is None, site.street.status.errors
    assert site.health()["status"] == "ok", site.health()

    # One controller's agent goes away: the junction is degraded in /health and audited.
    sid = site.signals[-1]
    agent = next(a for a in site.street.agents if a.address.endswith(f":{site_port(site, sid)}"))
    site.street.runner.run(agent.stop(), timeout_s=5.0)
    h = wait_for("degraded junction in /health",
                 lambda: (h := site.health())["field"][sid]["status"] == "degraded" and h,
                 15.0, site)  # fmt: skip
    assert h["status"] == "degraded"
    assert "ControllerUnreachableError" in h["field"][sid]["reason"]
    assert any(sid in d for d in h["degraded"])
    assert all(j["status"] == "ok" for k, j in h["field"].items() if k != sid)
    faults = wait_for("field.fault record", lambda: site.audit("field.fault"), 10.0, site)
    assert [(r["junction_id"], r["payload"]["controller"]) for r in faults] == [
        (sid, f"127.0.0.1:{site_port(site, sid)}")
    ]
    # It comes back: one recovery record, /health ok again.
    site.street.runner.run(agent.start(), timeout_s=10.0)
    back = wait_for("field.recovered record", lambda: site.audit("field.recovered"), 15.0, site)
    assert [r["junction_id"] for r in back] == [sid]
    assert wait_for("ok /health", lambda: site.health()["status"] == "ok", 10.0, site)
    assert len(site.audit("field.fault")) == 1  # one record per change, not one per tick
    every = json.dumps([site.audit(k) for k in ("field.fault", "field.recovered")])
    for part in SECRET.split(":")[1:]:
        assert part not in every


def site_port(site: Site, sid: str) -> int:
    return site.street.cabinets[sid].port


def test_killed_serve_leaves_every_commanded_controller_on_its_own_program(site):
    commanding = wait_for(
        "a controller under central control",
        lambda: [s for s, c in site.street.status.controllers.items() if not c["own_program"]],
        60.0, site,
    )  # fmt: skip
    os.kill(site.serve.pid, signal.SIGKILL)
    site.serve.wait(10)
    time.sleep(BACKUP_S + 3.0)
    st = json.loads(json.dumps(site.street.status.__dict__, default=str))
    assert st["violations"] == 0, st["first_violation"]
    commanded = {s: c for s, c in st["controllers"].items() if c["last_control_utc"] is not None}
    assert set(commanding) <= set(commanded)
    for sid, c in commanded.items():
        assert c["own_program"] and c["in_backup"], (sid, c)
        waited_s = c["backup_since_utc"] - c["last_control_utc"]
        assert waited_s <= c["backup_time_s"] + 1.0 + 1e-6, (sid, waited_s)
