"""The public alert feed over HTTP: no credential, GeoJSON of the windows ahead of a live
corridor, ETag and 304, cache headers, per-address rate limit (429 with Retry-After), the
Server-Sent Events variant with keep-alives — and, while a request is live, nothing in it
that names the request, the vehicle, the incident or the owner, or places the vehicle."""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterator

import pytest

from clearway.evaluation.priority_scenarios import BERLIN_NET, BERLIN_TRIP
from clearway.network.geo import xy_to_lonlat
from clearway.service.runtime import ServiceRuntime
from clearway.sim.scenario import Scenario, user_scenario
from clearway.sim.sumo_env import sumo_home

from .conftest import AMBULANCE, Service, make_service

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BODY = AMBULANCE | {"vehicle_id": "AMB-PUB", "incident_id": "INC-PUB", "simulate": True}
ALERTS = "/public/alerts"


def _features_soon(svc: Service, timeout_s: float = 20.0) -> dict:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        r = svc.client.get(ALERTS)
        assert r.status_code == 200, r.text
        doc = r.json()
        if doc["features"]:
            return doc
        time.sleep(0.05)
    pytest.fail("no alert feature while a corridor is live")


@pytest.mark.sumo
@pytest.mark.parametrize("backend", ["sqlite"])
def test_alerts_need_no_credential_and_answer_304_to_their_etag(live_service):
    svc = live_service
    r = svc.client.get(ALERTS)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.json()["type"] == "FeatureCollection" and r.json()["features"] == []
    created = svc.client.post("/priority-requests", json=BODY, headers=svc.as_("dispatcher"))
    assert created.status_code == 201, created.text
    on_route = {j["signal_id"] for j in created.json()["junctions"]}
    doc = _features_soon(svc)
    props = [f["properties"] for f in doc["features"]]
    assert {p["junction_id"] for p in props if p["kind"] == "junction"} <= on_route
    assert {p["edge_id"] for p in props if p["kind"] == "edge"} <= set(created.json()["route"])
    assert all(p["reason"] == "emergency" and p["from"] < p["to"] for p in props)
    assert all(f["geometry"] is None for f in doc["features"])  # the grid has no geo-reference
    r = svc.client.get(ALERTS)
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert r.headers["cache-control"].startswith("public, max-age=")
    again = svc.client.get(ALERTS, headers={"If-None-Match": etag})
    if again.status_code == 200:  # the corridor moved on between the two: try once more
        etag = again.headers["etag"]
        again = svc.client.get(ALERTS, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    stale = svc.client.get(ALERTS, headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.json()["type"] == "FeatureCollection"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_each_address_is_rate_limited_with_retry_after(engine, sessions, grid_net):
    # One request per address in a burst, one more every 4 s; no runtime: the feed answers 503.
    svc = make_service(engine, sessions, grid_net, rate_public_per_s=0.25, rate_burst_s=4.0)
    first = svc.client.get(ALERTS)
    assert first.status_code == 503 and "runtime" in first.json()["detail"]
    r = svc.client.get(ALERTS)
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 4
    assert r.json()["error"] == "RateLimitedError"
    assert svc.client.get(ALERTS + "/stream").status_code == 429
    # Another address has its own bucket.
    other = TestClient(svc.app, client=("203.0.113.9", 40000))
    assert other.get(ALERTS).status_code == 503
    # Nothing audited: an anonymous flood does not write to the audit log.
    assert "auth.throttled" not in svc.audit_kinds()


@pytest.fixture
def streaming(engine, sessions, live_scenario) -> Iterator[Service]:
    """A live service whose alert streams last 2 s, with keep-alives every 0.3 s."""
    runtime = ServiceRuntime(live_scenario, strategy="corridor", speed=20.0)
    svc = make_service(
        engine, sessions, None, runtime=runtime, feed_interval_s=0.05,
        public_stream_max_s=2.0, public_keepalive_s=0.3,
    )  # fmt: skip
    with svc.client:
        yield svc
    assert runtime.violations == [], runtime.violations[:5]


def _events(text: str) -> tuple[list[tuple[str, dict]], int]:
    """(id, data) of each ``alerts`` event, and the number of keep-alive comments."""
    events, keepalives = [], 0
    for block in text.split("\n\n"):
        lines = block.split("\n")
        keepalives += sum(1 for ln in lines if ln == ": keep-alive")
        fields = dict(
            ln.split(": ", 1) for ln in lines if ln and not ln.startswith(":") and ": " in ln
        )
        if fields.get("event") == "alerts":
            events.append((fields["id"], json.loads(fields["data"])))
    return events, keepalives


@pytest.mark.sumo
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_stream_sends_the_collection_when_it_changes_and_keeps_alive(streaming):
    svc = streaming
    # Nothing live: one event (no feature), then only keep-alives.
    r = svc.client.get(ALERTS + "/stream")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.text.startswith("retry: ")
    events, keepalives = _events(r.text)
    assert [data["features"] for _, data in events] == [[]]
    assert keepalives >= 3
    created = svc.client.post("/priority-requests", json=BODY, headers=svc.as_("dispatcher"))
    assert created.status_code == 201, created.text
    _features_soon(svc)
    r = svc.client.get(ALERTS + "/stream")
    events, _ = _events(r.text)
    assert events and events[0][1]["features"]
    ids = [i for i, _ in events]
    assert all(a != b for a, b in zip(ids, ids[1:], strict=False)), ids  # only on change
    assert all(data["type"] == "FeatureCollection" for _, data in events)
    # Each event is the body the plain route served under that ETag.
    last_id, last = events[-1]
    now = svc.client.get(ALERTS)
    if now.headers["etag"] == last_id:
        assert now.json() == last


# -- privacy, on a geo-referenced city --------------------------------------------------------
@pytest.fixture(scope="module")
def berlin(tmp_path_factory) -> Scenario:
    out = tmp_path_factory.mktemp("berlin-public")
    routes = out / "none.rou.xml"
    origin, destination = BERLIN_TRIP
    routes.write_text(
        f'<routes><trip id="keep-alive" depart="3500" from="{origin}" to="{destination}"/>'
        "</routes>\n"
    )
    return user_scenario(sumo_home() / BERLIN_NET, [routes], out, end_s=3600)


def _keys(doc) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


def _points(doc) -> list[tuple[float, float]]:
    out = []
    for f in doc["features"]:
        g = f["geometry"]
        out += (
            [tuple(g["coordinates"])]
            if g["type"] == "Point"
            else [tuple(p) for p in g["coordinates"]]
        )
    return out


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return 6_371_000 * math.hypot(
        math.radians(a[0] - b[0]) * math.cos(lat), math.radians(a[1] - b[1])
    )


@pytest.mark.sumo
@pytest.mark.parametrize("backend", ["sqlite"])
def test_while_a_request_is_live_the_feed_names_and_places_no_one(engine, sessions, berlin):
    runtime = ServiceRuntime(berlin, strategy="corridor", speed=10.0)
    svc = make_service(engine, sessions, None, runtime=runtime, rate_public_per_s=1e6)
    origin, destination = BERLIN_TRIP
    body = {"vehicle_id": "AMB-PRIV-7", "role": "ambulance", "incident_id": "INC-PRIV-3",
            "origin_edge": origin, "destination_edge": destination, "simulate": True}  # fmt: skip
    with svc.client:
        created = svc.client.post("/priority-requests", json=body, headers=svc.as_("dispatcher"))
        assert created.status_code == 201, created.text
        rid = created.json()["request_id"]
        net = runtime.net
        seen: dict[str, set[tuple[str, float]]] = {}
        end = time.monotonic() + 25.0
        checked = 0
        while time.monotonic() < end and (
            checked < 40 or max(map(len, seen.values()), default=0) < 2
        ):
            view = runtime.view()
            r = svc.client.get(ALERTS)
            assert r.status_code == 200, r.text
            text, doc = r.text, r.json()
            for secret in (rid, "AMB-PRIV-7", "INC-PRIV-3", "dispatcher", "ambulance"):
                assert secret not in text, secret
            assert not _keys(doc) & {"vehicle_id", "request_id", "incident_id", "owner", "eta_s",
                                     "offset_m", "speed_mps", "x_m", "y_m", "position"}  # fmt: skip
            car = view.vehicles.get("AMB-PRIV-7")
            if car is None or not doc["features"]:
                time.sleep(0.05)
                continue
            assert all(f["geometry"] is not None for f in doc["features"])
            lonlat = xy_to_lonlat(net.geo, car.x_m, car.y_m)
            # No point of the feed is where the vehicle is.
            assert min(_distance_m(lonlat, p) for p in _points(doc)) > 1.0
            seen.setdefault(r.headers["etag"], set()).add((car.edge_id, round(car.offset_m, 1)))
            checked += 1
            time.sleep(0.1)
        assert checked >= 10, "the corridor was never live with its vehicle on the map"
        # The body does not follow the vehicle: one ETag held while it moved.
        assert max(len(places) for places in seen.values()) >= 2, seen
    assert runtime.violations == [], runtime.violations[:5]
