"""The position fast path (:mod:`clearway.service.fast_positions`) answers as the FastAPI
route does, and hands the route every call it does not take: no credential in the cache, a
role that may not, a body that does not validate, a spent rate limit."""

from __future__ import annotations

import pytest

from clearway.service import usecases
from clearway.service.fast_positions import ROUTE_PATH

from .conftest import AMBULANCE

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]


@pytest.fixture
def routed(live_service, monkeypatch):
    """The live service, a request of the dispatcher's, and a count of the calls the
    FastAPI route answered (the fast path calls the use case directly, not through the
    ``usecases`` package the router uses)."""
    calls = {"n": 0}
    real = usecases.add_position

    async def counting(*args, **kwargs):
        calls["n"] += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(usecases, "add_position", counting)
    r = live_service.client.post(
        "/priority-requests", json=dict(AMBULANCE), headers=live_service.as_("dispatcher")
    )
    assert r.status_code == 201, r.text
    return live_service, r.json(), calls


def _post(live, rid, body, headers, **kw):
    return live.client.post(f"/priority-requests/{rid}/positions", json=body, headers=headers, **kw)


def _update(seq: int, out: dict) -> dict:
    return {"seq": seq, "edge_id": out["route"][0], "offset_m": 1.0 * seq, "speed_mps": 9.0}


def test_a_cached_credential_is_answered_as_the_route_answers(routed):
    live, out, calls = routed
    rid, auth = out["request_id"], live.bearer("dispatcher")
    live.ctx.credentials.clear()
    by_route = _post(live, rid, _update(1, out), auth)  # checks and caches the token
    assert calls["n"] == 1 and by_route.status_code == 201, by_route.text
    fast = _post(live, rid, _update(2, out), auth)
    assert calls["n"] == 1 and fast.status_code == 201, fast.text
    a, b = by_route.json(), fast.json()
    assert a.keys() == b.keys() and (a["stored_seq"], b["stored_seq"]) == (1, 2)
    assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
    assert fast.headers["content-type"] == by_route.headers["content-type"]
    # A replayed seq is refused alike by both.
    stale_fast = _post(live, rid, _update(2, out), auth)
    live.ctx.credentials.clear()
    stale_route = _post(live, rid, _update(2, out), auth)
    assert calls["n"] == 2
    assert stale_fast.status_code == stale_route.status_code == 409
    assert stale_fast.json() == stale_route.json()
    # Counted under the route's template either way.
    metrics = live.client.get("/metrics", headers=live.as_("admin")).text
    line = f'route="{ROUTE_PATH}",status="201"'
    assert any(line in m and m.rstrip().endswith(" 2.0") for m in metrics.splitlines()), metrics


def test_what_the_fast_path_does_not_take_goes_to_the_route(routed):
    live, out, calls = routed
    rid, auth = out["request_id"], live.bearer("dispatcher")
    assert _post(live, rid, _update(1, out), auth).status_code == 201  # cached from now on
    seen = calls["n"]
    # A body that does not validate: the route's 422, field by field.
    bad = _post(live, rid, {**_update(2, out), "speed_mps": -1}, auth)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "body.speed_mps"
    # Not JSON by its content type.
    text = live.client.post(
        f"/priority-requests/{rid}/positions", content=b'{"seq": 2}', headers=auth | {
            "content-type": "text/plain"},
    )  # fmt: skip
    assert text.status_code == 422, text.text
    assert calls["n"] == seen  # both refused before the use case, by the route's validation
    # A role that may not send positions (its credential cached by a read): 403, audited.
    viewer = live.bearer("viewer")
    assert live.client.get("/priority-requests", headers=viewer).status_code == 200
    refused = _post(live, rid, _update(2, out), viewer)
    assert refused.status_code == 403 and "may not do this" in refused.json()["detail"]
    # Another dispatcher's update of a request it does not own: refused and audited too.
    other = live.bearer("dispatcher2")
    _post(live, rid, _update(2, out), other)  # caches its token
    foreign = _post(live, rid, _update(3, out), other)
    assert foreign.status_code == 403 and "only the owner" in foreign.json()["detail"]
    assert live.audit_kinds().count("auth.failed") >= 3
    # The request's own updates still go on where they were.
    assert _post(live, rid, _update(2, out), auth).json()["stored_seq"] == 2


def test_a_spent_rate_limit_is_refused_and_audited_as_by_the_route(routed):
    live, out, calls = routed
    rid, auth = out["request_id"], live.bearer("dispatcher")
    assert _post(live, rid, _update(1, out), auth).status_code == 201
    live.ctx.limiter.rates_per_s["positions"] = 0.01  # a bucket of one, refilled in 100 s
    answers = [_post(live, rid, _update(seq, out), auth) for seq in (2, 3, 4)]
    assert [a.status_code for a in answers] == [201, 429, 429], [a.text for a in answers]
    assert int(answers[1].headers["retry-after"]) >= 1
    assert answers[1].json()["error"] == "RateLimitedError"
    assert live.audit_kinds().count("auth.throttled") == 1  # the first refusal in a minute
