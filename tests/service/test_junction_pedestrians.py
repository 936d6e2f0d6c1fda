"""People waiting at a junction's crossings in the junction's live state and the feed: counts
from the pedestrian detectors, kept until the walk is shown (``grid:3x3:moderate:peds`` in a
live runtime, libsumo, corridor priority on fixed-time), and nothing on a net without them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from clearway.service.runtime import ServiceRuntime
from clearway.signals.model import GREEN_CHARS
from clearway.sim.pedestrians import ped_grid_scenario

from .conftest import Service, make_service

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]


@pytest.fixture
def ped_service(engine, sessions, tmp_path_factory) -> Iterator[Service]:
    sc = ped_grid_scenario(
        tmp_path_factory.mktemp("peds"), size="3x3", seed=1, end_s=3600, load="moderate"
    )
    runtime = ServiceRuntime(sc, strategy="corridor", speed=50.0)
    svc = make_service(engine, sessions, None, runtime=runtime)
    with svc.client:
        yield svc
    assert runtime.error is None, runtime.error
    assert runtime.violations == [], runtime.violations[:5]


def _state(live: Service, sid: str) -> dict:
    r = live.client.get(f"/junctions/{sid}/state", headers=live.as_("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def _check(state: dict, crossing_links: set[int]) -> None:
    """What one junction's pedestrian field must say, whatever the moment."""
    peds = state["pedestrians"]
    assert peds is not None, state
    rows = peds["crossings"]
    assert {c["link_index"] for c in rows} == crossing_links, (rows, crossing_links)
    assert peds["waiting"] == sum(c["waiting"] for c in rows)
    assert peds["walk"] == any(c["walk"] for c in rows)
    for c in rows:
        assert set(c) == {"link_index", "waiting", "walk"}  # counts only, nobody's id
        assert isinstance(c["waiting"], int) and c["waiting"] >= 0, c
        # The walk shown is the shown state's crossing link; showing it answers the call.
        assert c["walk"] == (state["state"][c["link_index"]] in GREEN_CHARS), (c, state["state"])
        if c["walk"]:
            assert c["waiting"] == 0, c


def test_a_junction_shows_the_people_waiting_at_its_crossings(ped_service):
    live = ped_service
    listed = live.client.get("/junctions", headers=live.as_("viewer")).json()
    crossings = {}
    for j in listed:
        model = live.client.get(f"/junctions/{j['id']}", headers=live.as_("viewer")).json()
        crossings[j["id"]] = {lk["index"] for lk in model["links"] if lk["is_crossing"]}
    assert all(crossings.values()), crossings
    seen_waiting, seen_walk, answered = 0, 0, set()
    waited: dict[tuple[str, int], bool] = {}
    end = time.monotonic() + 20.0  # ~1000 simulated seconds
    while time.monotonic() < end and not (seen_waiting and answered):
        for sid, links in crossings.items():
            st = _state(live, sid)
            _check(st, links)
            for c in st["pedestrians"]["crossings"]:
                key = (sid, c["link_index"])
                seen_waiting += c["waiting"] > 0
                seen_walk += c["walk"]
                if c["walk"] and waited.get(key):
                    answered.add(key)  # people waited there, then their walk came
                waited[key] = c["waiting"] > 0
        time.sleep(0.05)
    assert seen_waiting, "nobody was ever seen waiting at a crossing"
    assert seen_walk, "no walk was ever shown"
    assert answered, "no call was seen answered by its walk"

    with live.client.websocket_connect("/feed") as ws:
        ws.send_json({"type": "auth", "key": live.keys["viewer"]})
        assert ws.receive_json()["type"] == "hello"
        snap = ws.receive_json()
        assert snap["type"] == "snapshot"
        assert set(snap["pedestrians"]) == set(crossings), sorted(snap["pedestrians"])
        for sid, peds in snap["pedestrians"].items():
            _check({"state": snap["signals"][sid], "pedestrians": peds}, crossings[sid])
        for _ in range(200):  # updates carry the junctions whose calls or walks changed
            msg = ws.receive_json()
            if msg.get("pedestrians"):
                break
        else:
            pytest.fail("no feed update carried pedestrians")
        assert set(msg["pedestrians"]) <= set(crossings)


def test_a_net_without_pedestrian_detectors_has_none(live_service):
    state = _state(live_service, "B1")
    assert state["pedestrians"] is None, state
    with live_service.client.websocket_connect("/feed") as ws:
        ws.send_json({"type": "auth", "key": live_service.keys["viewer"]})
        ws.receive_json()
        assert ws.receive_json()["pedestrians"] == {}
