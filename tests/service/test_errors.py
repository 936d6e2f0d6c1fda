"""Bad input gets a clear 4xx naming the problem, never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import db_snapshot

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
JSON = {"content-type": "application/json"}


def test_malformed_json_is_422_naming_the_place(service, sessions):
    before = db_snapshot(sessions)
    r = service.client.post(
        "/users", content=b'{"name": "x", ', headers=service.as_("admin") | JSON
    )
    assert r.status_code == 422
    body = r.json()
    assert "JSON" in body["detail"] and body["fields"][0]["type"] == "json_invalid"
    assert db_snapshot(sessions) == before


def test_unknown_and_wrong_fields_are_named(service, sessions):
    before = db_snapshot(sessions)
    r = service.client.post(
        "/users", json={"name": "ok", "role": "boss", "colour": 1}, headers=service.as_("admin")
    )
    assert r.status_code == 422
    named = {f["field"] for f in r.json()["fields"]}
    assert named == {"body.role", "body.colour"}
    r = service.client.post(
        "/users", json={"name": "a b", "role": "viewer"}, headers=service.as_("admin")
    )
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "body.name"
    assert db_snapshot(sessions) == before


def test_unknown_junction_is_404_naming_it_and_near_matches(service):
    r = service.client.get("/junctions/B1x", headers=service.as_("viewer"))
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "'B1x'" in detail and "did you mean 'B1'" in detail
    assert r.json()["error"] == "UnknownJunctionError"


def test_oversized_body_is_413_declared_or_streamed(service, sessions):
    before = db_snapshot(sessions)
    big = b'{"name": "' + b"x" * (70 * 1024) + b'", "role": "viewer"}'
    r = service.client.post("/users", content=big, headers=service.as_("admin") | JSON)
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit must count what actually arrives
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    r = service.client.post("/users", content=chunks(), headers=service.as_("admin") | JSON)
    assert r.status_code == 413
    assert db_snapshot(sessions) == before


def test_conflicts_and_unknown_ids_in_admin_routes(service, sessions):
    admin = service.as_("admin")
    before = db_snapshot(sessions)
    r = service.client.post("/users", json={"name": "viewer", "role": "admin"}, headers=admin)
    assert r.status_code == 409 and "exists" in r.json()["detail"]
    r = service.client.post("/users/nobody/keys", headers=admin)
    assert r.status_code == 404 and "'nobody'" in r.json()["detail"]
    r = service.client.delete("/keys/0badbeef", headers=admin)
    assert r.status_code == 404 and "'0badbeef'" in r.json()["detail"]
    r = service.client.delete("/keys/not-hex", headers=admin)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "path.key_id"
    assert db_snapshot(sessions) == before


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = json_values | st.fixed_dictionaries(
    {"name": st.text(max_size=70), "role": st.sampled_from(["viewer", "admin", "root", ""])},
    optional={"extra": json_values},
)


def test_random_bodies_to_post_users_never_give_a_5xx(service):
    headers = service.bearer("admin")  # a token: no 20 ms key hash per example

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def check(body):
        r = service.client.post("/users", json=body, headers=headers)
        assert r.status_code < 500, (body, r.text)
        assert r.status_code in (201, 409, 422), (body, r.text)

    check()
