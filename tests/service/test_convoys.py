"""``/convoys``: planned police convoys, priority requests with role ``convoy``, against the
live runtime (3x3 grid in libsumo, corridor priority, ticking in the app's lifespan)."""

from __future__ import annotations

import pytest

from .conftest import Service

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

CONVOY = {
    "convoy_id": "POL-1",
    "incident_id": "OP-3",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "vehicle_count": 4,
    "length_m": 60.0,
    "cruise_speed_mps": 12.5,
}
AMBULANCE = {
    "vehicle_id": "AMB-1",
    "role": "ambulance",
    "incident_id": "INC-7",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "lease_s": 300,
}
FINAL = ("completed", "cancelled", "expired", "rejected")


def _ids(live: Service, url: str, **params: str) -> list[str]:
    r = live.client.get(url, params=params, headers=live.as_("viewer"))
    assert r.status_code == 200, r.text
    return [o["request_id"] for o in r.json()]


def test_convoys_are_requests_with_role_convoy(live_service):
    live = live_service
    r = live.client.post("/convoys", json=CONVOY, headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    now = r.json()
    assert now["role"] == "convoy" and now["vehicle_id"] == "POL-1", now
    assert now["owner"] == "dispatcher" and now["incident_id"] == "OP-3", now
    assert now["convoy"] == {"vehicle_count": 4, "length_m": 60.0, "cruise_speed_mps": 12.5}
    assert now["route"][0] == "A0A1" and now["route"][-1] == "B2C2", now
    assert now["state"] not in FINAL, now

    t0 = live.ctx.runtime.now_s()
    r = live.client.post(
        "/convoys",
        json=CONVOY | {"convoy_id": "POL-2", "depart_in_s": 60},
        headers=live.as_("dispatcher"),
    )
    t1 = live.ctx.runtime.now_s()
    assert r.status_code == 201, r.text
    later = r.json()
    assert later["state"] == "planned", later
    assert t0 + 60 <= later["depart_s"] <= t1 + 60, (t0, t1, later)
    assert later["depart_s"] - later["created_s"] == pytest.approx(60, abs=live.ctx.runtime.tick_s)

    r = live.client.post("/priority-requests", json=AMBULANCE, headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    amb = r.json()["request_id"]
    convoys = [now["request_id"], later["request_id"]]

    assert _ids(live, "/convoys") == convoys
    assert _ids(live, "/priority-requests") == [*convoys, amb]
    assert _ids(live, "/priority-requests", role="convoy") == convoys
    assert _ids(live, "/priority-requests", role="ambulance") == [amb]

    r = live.client.get(f"/convoys/{now['request_id']}", headers=live.as_("viewer"))
    assert r.status_code == 200 and r.json()["convoy"] == now["convoy"], r.text
    r = live.client.get(f"/convoys/{amb}", headers=live.as_("viewer"))
    assert r.status_code == 404 and amb in r.json()["detail"], r.text
    r = live.client.delete(f"/convoys/{amb}", headers=live.as_("dispatcher"))
    assert r.status_code == 404, r.text
    amb_state = live.client.get(f"/priority-requests/{amb}", headers=live.as_("viewer"))
    assert amb_state.json()["state"] not in FINAL, amb_state.text  # untouched

    url = f"/convoys/{now['request_id']}"
    r = live.client.delete(url, headers=live.as_("dispatcher2"))
    assert r.status_code == 403, r.text
    assert live.client.get(url, headers=live.as_("viewer")).json()["state"] not in FINAL
    r = live.client.delete(url, headers=live.as_("dispatcher"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    assert live.client.get(url, headers=live.as_("viewer")).json()["state"] == "cancelled"

    assert _ids(live, "/priority-requests", state="cancelled") == [now["request_id"]]
    assert _ids(live, "/priority-requests", role="convoy", state="cancelled") == [now["request_id"]]
    assert _ids(live, "/priority-requests", role="ambulance", state="cancelled") == []
    assert _ids(live, "/convoys") == convoys  # cancelled ones stay listed


def test_bad_convoys_are_refused(live_service):
    live = live_service
    for field, value in [("vehicle_count", 1), ("cruise_speed_mps", 0), ("length_m", -5)]:
        r = live.client.post(
            "/convoys", json=CONVOY | {field: value}, headers=live.as_("dispatcher")
        )
        assert r.status_code == 422, r.text
        assert [f["field"] for f in r.json()["fields"]] == [f"body.{field}"], r.text
    r = live.client.post("/convoys", json=CONVOY, headers=live.as_("viewer"))
    assert r.status_code == 403, r.text
    r = live.client.post(
        "/convoys", json=CONVOY | {"origin_edge": "A0A9"}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 404 and "A0A9" in r.json()["detail"], r.text
    assert _ids(live, "/convoys") == []
