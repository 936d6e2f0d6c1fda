"""A restart takes up the unfinished requests: in process (a new app and runtime on the same
database, SQLite and PostgreSQL) and as the operator sees it (``clearway serve`` killed with
SIGKILL and started again on the same database)."""

from __future__ import annotations

import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from clearway.service.app import create_app
from clearway.service.runtime import ServiceRuntime
from clearway.service.settings import ServiceSettings
from clearway.storage import requests as request_store
from tests.serve_process import CLEARWAY, ServeProcess

from .conftest import AMBULANCE, SECRET, Service, make_service

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.sumo

BODY = dict(AMBULANCE)


def _granted(out: dict) -> bool:
    return any(j["status"] == "granted" for j in out["junctions"])


def _create(live: Service, **changes: Any) -> dict:
    r = live.client.post("/priority-requests", json=BODY | changes, headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    return r.json()


def _wait(live: Service, rid: str, done: Callable[[dict], bool], timeout_s: float = 15.0) -> dict:
    """Poll the request until ``done``; fails (with the last answer) after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while True:
        r = live.client.get(f"/priority-requests/{rid}", headers=live.as_("viewer"))
        assert r.status_code == 200, r.text
        if done(r.json()):
            return r.json()
        assert time.monotonic() < end, f"not reached within {timeout_s} s: {r.json()}"
        time.sleep(0.05)


def _restarted(before: Service, engine, runtime: ServiceRuntime) -> Service:
    """A new app with a new runtime on ``before``'s database, with its users' keys."""
    settings = ServiceSettings(token_secret=SECRET, db_url=str(engine.url))
    app = create_app(settings, engine=engine, runtime=runtime)
    return Service(TestClient(app), app, app.state.clearway, before.keys, before.key_ids)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_unfinished_request_is_taken_up_after_a_restart(engine, sessions, live_scenario):
    first = ServiceRuntime(live_scenario, strategy="corridor", speed=50.0)
    live = make_service(engine, sessions, None, runtime=first)
    with live.client:
        out = _create(live)
        rid = out["request_id"]
        pos_url = f"/priority-requests/{rid}/positions"
        pos = {"seq": 5, "edge_id": "A0A1", "offset_m": 5.0, "speed_mps": 10.0}
        r = live.client.post(pos_url, json=pos, headers=live.as_("dispatcher"))
        assert r.status_code == 201, r.text
        _wait(live, rid, _granted)
        # A second request, finished before the restart: it stays finished.
        done = _create(live, vehicle_id="AMB-2", incident_id="INC-8")["request_id"]
        r = live.client.delete(f"/priority-requests/{done}", headers=live.as_("dispatcher"))
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        before = _wait(live, rid, lambda o: True)
        assert before["state"] not in ("completed", "cancelled", "expired", "rejected"), before
    assert first.error is None, first.error
    assert not first.running

    second = ServiceRuntime(live_scenario, strategy="corridor", speed=50.0)
    again = _restarted(live, engine, second)
    with again.client:
        out = _wait(again, rid, lambda o: True)
        assert out["request_id"] == rid
        assert out["owner"] == "dispatcher"
        assert out["vehicle_id"] == "AMB-1" and out["incident_id"] == "INC-7"
        assert out["state"] in ("planned", "active"), out
        assert out["route"] == before["route"]
        # Served again: the new twin's signals are held for it anew.
        _wait(again, rid, _granted)

        # The finished one: not taken up, but still answered from the database.
        listed = again.client.get("/priority-requests", headers=again.as_("viewer")).json()
        assert [o["request_id"] for o in listed] == [rid]
        r = again.client.get(f"/priority-requests/{done}", headers=again.as_("viewer"))
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "cancelled" and r.json()["owner"] == "dispatcher"

        # seq survives the restart: a replay of the earlier run's last one is refused.
        pos_url = f"/priority-requests/{rid}/positions"
        r = again.client.post(pos_url, json=pos, headers=again.as_("dispatcher"))
        assert r.status_code == 409 and "seq" in r.json()["detail"], r.text
        r = again.client.post(pos_url, json=pos | {"seq": 6}, headers=again.as_("dispatcher"))
        assert r.status_code == 201, r.text
        with again.ctx.sessions() as s:
            assert [p.seq for p in request_store.positions(s, rid)] == [1, 2]
            assert request_store.get_request(s, done).status == "cancelled"
            assert [st.request_id for st in request_store.active_requests(s)] == [rid]

        records = again.ctx.audit.query(kind="request", limit=1000).records
        restored = [r for r in records if r.payload.get("event") == "restored"]
        assert [r.request_id for r in restored] == [rid], [r.to_dict() for r in records]
        assert restored[0].principal is None
        report = again.ctx.audit.verify()
        assert report.ok, report.message
    assert second.error is None, second.error
    assert not second.running


# -- the process, killed ------------------------------------------------------------------------


def _cli(*args: str) -> str:
    done = subprocess.run(
        [str(CLEARWAY), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"clearway {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def server(tmp_path) -> Iterator[ServeProcess]:
    srv = ServeProcess(tmp_path, speed=20.0, demo_users=False)
    try:
        yield srv
    finally:
        srv.kill()


def test_killed_server_takes_up_its_request_again(server):
    _cli("db", "upgrade", "--db", server.db)
    key = _cli("users", "add", "disp", "--role", "dispatcher", "--db", server.db).strip()
    assert key.startswith("cwk_"), key
    headers = {"X-API-Key": key}

    def get(rid: str) -> dict:
        r = httpx.get(f"{server.url}/priority-requests/{rid}", headers=headers, timeout=5)
        assert r.status_code == 200, f"{r.text}\n{server.output()}"
        return r.json()

    def wait_granted(rid: str, timeout_s: float = 15.0) -> dict:
        end = time.monotonic() + timeout_s
        while not _granted(out := get(rid)):
            assert time.monotonic() < end, f"never granted: {out}\n{server.output()}"
            time.sleep(0.1)
        return out

    server.start()
    r = httpx.post(f"{server.url}/priority-requests", json=BODY, headers=headers, timeout=10)
    assert r.status_code == 201, f"{r.text}\n{server.output()}"
    created = r.json()
    rid = created["request_id"]
    assert created["route"][0] == "A0A1" and created["route"][-1] == "B2C2", created
    wait_granted(rid)

    server.kill()
    server.start()
    out = get(rid)
    assert out["owner"] == "disp" and out["state"] in ("planned", "active"), out
    assert out["route"] == created["route"]
    wait_granted(rid)
    server.kill()
    _cli("audit", "verify", "--db", server.db)
