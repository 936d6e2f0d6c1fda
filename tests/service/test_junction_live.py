"""A junction's live state and its normal strategy, against the live runtime (3x3 grid in
libsumo, corridor priority on fixed-time, ticking in the app's lifespan)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from .conftest import AMBULANCE, Service

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

BODY = dict(AMBULANCE)


def _state(live: Service, junction_id: str) -> dict:
    r = live.client.get(f"/junctions/{junction_id}/state", headers=live.as_("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def _poll(fetch: Callable[[], dict], done: Callable[[dict], bool], timeout_s: float = 15.0) -> dict:
    end = time.monotonic() + timeout_s
    while not done(out := fetch()):
        assert time.monotonic() < end, f"not reached within {timeout_s} s: {out}"
        time.sleep(0.05)
    return out


def _admin_records(live: Service) -> list[dict]:
    r = live.client.get(
        "/audit", params={"kind": "admin", "limit": 1000}, headers=live.as_("operator")
    )
    assert r.status_code == 200, r.text
    return r.json()["records"]


def test_state_and_strategy_switch(live_service):
    live = live_service
    r = live.client.get("/junctions", headers=live.as_("viewer"))
    assert r.status_code == 200, r.text
    link_counts = {j["id"]: j["link_count"] for j in r.json()}
    assert "B1" in link_counts, sorted(link_counts)

    for sid, count in link_counts.items():
        st = _state(live, sid)
        assert st["signal_id"] == sid
        assert isinstance(st["state"], str) and len(st["state"]) == count, (sid, st)
        assert set(st["state"]) <= set("rRyYgGuOos"), st
        assert st["strategy"] == "fixed-time", st
        assert st["held"] is False and st["recovering"] is False and st["requests"] == [], st

    url = "/junctions/B1/strategy"
    body = {"strategy": "max-pressure"}
    r = live.client.put(url, json=body, headers=live.as_("dispatcher"))
    assert r.status_code == 403, r.text
    assert _state(live, "B1")["strategy"] == "fixed-time"

    r = live.client.put(url, json=body, headers=live.as_("operator"))
    assert r.status_code == 200, r.text
    assert r.json() == {"signal_id": "B1", "strategy": "max-pressure", "changed": True}
    assert _state(live, "B1")["strategy"] == "max-pressure"
    assert _state(live, "A1")["strategy"] == "fixed-time"  # only that junction
    records = _admin_records(live)
    assert len(records) == 1, records
    rec = records[0]
    assert rec["principal"] == "operator" and rec["junction_id"] == "B1", rec
    assert rec["payload"]["action"] == "junction.strategy", rec
    assert (rec["payload"]["from"], rec["payload"]["to"]) == ("fixed-time", "max-pressure"), rec

    r = live.client.put(url, json=body, headers=live.as_("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is False
    assert len(_admin_records(live)) == 1

    r = live.client.put("/junctions/Z9/strategy", json=body, headers=live.as_("operator"))
    assert r.status_code == 404 and "Z9" in r.json()["detail"], r.text
    r = live.client.get("/junctions/Z9/state", headers=live.as_("viewer"))
    assert r.status_code == 404 and "Z9" in r.json()["detail"], r.text
    r = live.client.put(url, json={"strategy": "chaos"}, headers=live.as_("operator"))
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["fields"]] == ["body.strategy"], r.text
    assert len(_admin_records(live)) == 1
    assert _state(live, "B1")["strategy"] == "max-pressure"

    # The signal keeps running under its new strategy: time moves on, its state changes.
    first = _state(live, "B1")
    later = _poll(
        lambda: _state(live, "B1"),
        lambda st: st["state"] != first["state"] and st["time_s"] > first["time_s"],
    )
    assert len(later["state"]) == link_counts["B1"] and later["strategy"] == "max-pressure"
    assert live.ctx.runtime.error is None and live.ctx.runtime.running
    assert live.client.get("/audit/verify", headers=live.as_("operator")).json()["ok"]


def test_a_granted_junction_shows_held_with_the_request(live_service):
    live = live_service
    r = live.client.post("/priority-requests", json=BODY, headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    on_route = [j["signal_id"] for j in r.json()["junctions"]]
    assert on_route, r.json()

    def granted_somewhere() -> dict:
        return {sid: _state(live, sid) for sid in on_route}

    def held_for_us(states: dict) -> bool:
        return any(
            st["held"] and {"request_id": rid, "status": "granted"}.items() <= req.items()
            for st in states.values()
            for req in st["requests"]
        )

    states = _poll(granted_somewhere, held_for_us)
    st = next(
        st
        for st in states.values()
        if st["held"] and any(q["request_id"] == rid for q in st["requests"])
    )
    assert [q["request_id"] for q in st["requests"]] == [rid], st
    assert st["strategy"] == "fixed-time", st  # a hold does not change the normal strategy
    # Off the route, nothing is held for it.
    off_route = _state(live, "C0")
    assert off_route["held"] is False and off_route["requests"] == [], off_route
