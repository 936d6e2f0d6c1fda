"""Abuse resistance at the API: per-principal rate limits (429 with Retry-After, the first
refusal in a minute audited, other principals unaffected) and the cap on corridors crossing
one district (409 naming the district and the requests filling it; operators may exceed it)."""

from __future__ import annotations

import time

import pytest

from clearway.service.rate_limit import RateLimitedError, RateLimiter
from clearway.service.runtime import ServiceRuntime

from .conftest import make_service

BODY = {
    "role": "ambulance",
    "incident_id": "INC-L",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "lease_s": 300,
}


def test_token_bucket_exactly():
    lim = RateLimiter({"positions": 10.0, "writes": 1.0, "reads": 5.0}, burst_s=2.0)
    for _ in range(20):  # a burst of 2 s' worth
        lim.take("a", "positions", now=0.0)
    with pytest.raises(RateLimitedError) as first:
        lim.take("a", "positions", now=0.0)
    assert first.value.retry_after_s == pytest.approx(0.1)
    assert first.value.audit  # the first refusal in a minute is audited ...
    with pytest.raises(RateLimitedError) as second:
        lim.take("a", "positions", now=0.01)
    assert not second.value.audit  # ... not the ones after it
    lim.take("b", "positions", now=0.0)  # another principal has its own bucket
    lim.take("a", "writes", now=0.0)  # another kind too
    lim.take("a", "positions", now=0.1)  # one token back after 1/rate
    with pytest.raises(RateLimitedError):
        lim.take("a", "positions", now=0.1)
    for _ in range(20):
        lim.take("a", "positions", now=10.0)  # refilled, never beyond the burst
    with pytest.raises(RateLimitedError):
        lim.take("a", "positions", now=10.0)


_live = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]


def _service(engine, sessions, scenario, **settings):
    runtime = ServiceRuntime(scenario, strategy="corridor", speed=20.0)
    return make_service(engine, sessions, None, runtime=runtime, **settings)


@pytest.fixture
def rate_limited(engine, sessions, live_scenario):
    svc = _service(engine, sessions, live_scenario, rate_writes_per_s=0.5, rate_burst_s=6.0)
    with svc.client:
        yield svc


@pytest.fixture
def district_capped(engine, sessions, live_scenario):
    svc = _service(engine, sessions, live_scenario, max_corridors_per_area=2, area_cell_m=1000.0)
    with svc.client:
        yield svc


@_live[0]
@_live[1]
def test_rate_limit_answers_429_and_audits_once(rate_limited):
    svc = rate_limited
    codes = []
    for i in range(5):  # burst: 0.5/s x 6 s = 3 writes
        r = svc.client.post(
            "/priority-requests",
            json=BODY | {"vehicle_id": f"R-{i}", "origin_edge": "A2B2", "destination_edge": "B2C2"}
            if i % 2
            else BODY | {"vehicle_id": f"R-{i}"},
            headers=svc.as_("operator"),
        )
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            body = r.json()
            assert (
                body["error"] == "RateLimitedError"
                and "writes" in body["detail"]
                and "at most 0.5/s" in body["detail"]
            )
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429], codes
    # Reads are counted apart; another principal is unaffected.
    assert svc.client.get("/priority-requests", headers=svc.as_("operator")).status_code == 200
    r = svc.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "OTHER"}, headers=svc.as_("dispatcher2")
    )
    assert r.status_code == 201, r.text
    throttled = [k for k in svc.audit_kinds() if k == "auth.throttled"]
    assert len(throttled) == 1  # the first refusal in a minute only


@_live[0]
@_live[1]
def test_the_district_cap_refuses_a_third_corridor_but_not_for_an_operator(district_capped):
    svc = district_capped
    made = []
    for who, vid in (("dispatcher", "D-1"), ("dispatcher2", "D-2")):
        r = svc.client.post(
            "/priority-requests", json=BODY | {"vehicle_id": vid}, headers=svc.as_(who)
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["request_id"])
    ids = lambda: [  # noqa: E731 - the requests of the run, by id (their status moves on)
        r["request_id"]
        for r in svc.client.get("/priority-requests", headers=svc.as_("viewer")).json()
    ]
    before = ids()
    r = svc.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "D-3"}, headers=svc.as_("dispatcher")
    )
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert r.json()["error"] == "AreaBusyError"
    assert "district" in detail and all(rid in detail for rid in made) and "at most 2" in detail
    # Nothing of the refused request is kept.
    assert ids() == before
    # An operator sees the whole picture and may exceed the cap.
    r = svc.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "OP-1"}, headers=svc.as_("operator")
    )
    assert r.status_code == 201, r.text
    # Once a corridor ends, the district takes a new one.
    svc.client.delete(f"/priority-requests/{made[0]}", headers=svc.as_("dispatcher"))
    time.sleep(0.1)
    r = svc.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "D-4"}, headers=svc.as_("dispatcher2")
    )
    assert r.status_code == 409  # still two others (D-2 and the operator's) cross it
    svc.client.delete(f"/priority-requests/{made[1]}", headers=svc.as_("dispatcher2"))
    r = svc.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "D-5"}, headers=svc.as_("dispatcher2")
    )
    assert r.status_code == 201, r.text
