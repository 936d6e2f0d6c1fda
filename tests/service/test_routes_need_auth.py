"""Route-enumerating test: every route of the app, found by walking ``app.routes``, refuses a
request without a credential (401) and, if it mutates, a caller whose role lacks the
permission (403) — and neither refusal changes users, keys or the audit log (beyond the
``auth.failed`` record of the refusal itself)."""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from clearway.service.auth import ROLE_PERMISSIONS, Permission
from clearway.service.transit_feed import TransitDesk
from tests.fakes.transit import POSITION, tiny_gtfs

from .conftest import ROLES, db_snapshot

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
#: The public alert feed for drivers and navigation apps (no personal data; rate-limited per
#: client address): answers without a credential, 503 when the service has no live runtime.
PUBLIC_FEEDS = {"/public/alerts", "/public/alerts/stream"}
PUBLIC = {
    "/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/",
} | PUBLIC_FEEDS  # fmt: skip
#: Routes any authenticated caller may use (exchanging one's own key changes nothing shared).
ANY_ROLE = {("POST", "/auth/token")}
#: The public transparency report, its key and its page (aggregates only, no credential).
PUBLIC |= {"/public/report", "/public/key", "/public/transparency"}


def _routes(app) -> list[tuple[str, str, Any]]:
    """(method, path template, route) of every route, routers included. FastAPI >= 0.16x
    keeps included routers nested in ``app.routes``; ``iter_route_contexts`` flattens them."""
    flat = getattr(routing, "iter_route_contexts", None)
    if flat is not None:
        found = [(rc.path, rc.methods, rc.original_route) for rc in flat(app.routes)]
    else:  # older FastAPI: app.routes is flat already
        found = [(r.path, getattr(r, "methods", None), r) for r in app.routes]
    return sorted(
        ((m, path, r) for path, methods, r in found for m in (methods or ()) if m != "HEAD"),
        key=lambda t: (t[0], t[1]),
    )


def _permission(route: APIRoute) -> Permission | None:
    """The permission a route's dependencies require (``require(...)`` tags it)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "permission", None)
        if perm is not None:
            return perm
        stack.extend(dep.dependencies)
    return None


PRIORITY_BODY = {
    "vehicle_id": "AMB-9",
    "role": "fire",
    "incident_id": "INC-9",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
}


CONVOY_BODY = {
    "convoy_id": "C-9",
    "incident_id": "OP-9",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "vehicle_count": 4,
    "length_m": 60.0,
    "cruise_speed_mps": 10.0,
}
_vehicles = itertools.count(1)


def _request(
    service, method: str, path: str, headers: dict[str, str], request_id: str = "none"
) -> Any:
    """A request that would *succeed* with the right role: valid ids and bodies, so a
    refusal is the auth check's doing and not a 404 or 422."""
    values = {
        "name": "viewer",
        "key_id": service.key_ids["spare"],
        "junction_id": "B1",
        "request_id": request_id,
        "plan_id": request_id,
    }
    url = path.format(**values)
    bodies = {
        ("POST", "/users"): {"name": "newcomer", "role": "dispatcher"},
        ("POST", "/priority-requests"): PRIORITY_BODY,
        ("POST", "/priority-requests/{request_id}/positions"): {
            "seq": 1, "edge_id": "A0A1", "offset_m": 5.0, "speed_mps": 10.0,
        },
        ("POST", "/convoys"): CONVOY_BODY,
        ("POST", "/positions"): {"updates": [{
            "request_id": request_id, "seq": 1, "edge_id": "A0A1", "speed_mps": 5.0,
        }]},
        ("PUT", "/junctions/{junction_id}/strategy"): {"strategy": "max-pressure"},
    }  # fmt: skip
    body = bodies.get((method, path))
    if path.startswith("/transit/"):
        # Transit feeds need a schedule: a one-trip GTFS feed, and a bus on its line.
        if service.ctx.transit is None:
            folder = tiny_gtfs(Path(tempfile.mkdtemp(prefix="cw-gtfs-")), service.ctx.network)
            service.ctx.transit = TransitDesk(folder, time.time() - 1200.0)
        feed = {"positions": [POSITION | {"time_s": time.time()}]}
        body = feed if path.endswith("positions") else None
    if (method, path) == ("POST", "/convoys/plans"):  # a departure window ahead of now
        now_s = service.ctx.runtime.now_s()
        body = CONVOY_BODY | {
            "convoy_id": f"P-{next(_vehicles)}", "window_start_s": now_s + 600,
            "window_end_s": now_s + 660,
        }  # fmt: skip
    if body is not None and "vehicle_id" in body | {"convoy_id": 1}:
        # One unfinished request per vehicle: each creation is for a vehicle of its own.
        fresh = f"V-{next(_vehicles)}"
        body = body | ({"vehicle_id": fresh} if "vehicle_id" in body else {"convoy_id": fresh})
    return service.client.request(method, url, json=body, headers=headers)


def _changes(before: dict, after: dict) -> dict:
    """What a refused request changed, per table (for the failure message)."""
    return {
        k: {"gone": sorted(set(before[k]) - set(after[k]), key=str)[:5],
            "new": sorted(set(after[k]) - set(before[k]), key=str)[:5]}
        for k in before if before[k] != after[k]
    }  # fmt: skip


@pytest.mark.sumo
def test_every_mutating_route_refuses_no_credential_and_a_wrong_role(live_service, sessions):
    service = live_service  # with the live runtime, so the priority routes can succeed
    routes = [(m, p, r) for m, p, r in _routes(service.app) if m in MUTATING]
    assert all(isinstance(r, APIRoute) for _, _, r in routes), routes
    assert len(routes) >= 4, routes  # the walk must find the users/keys/token routes
    assert {("POST", "/priority-requests"), ("DELETE", "/priority-requests/{request_id}"),
            ("POST", "/priority-requests/{request_id}/positions")} <= {(m, p) for m, p, _ in routes}  # fmt: skip
    for method, path, route in routes:
        request_id = "none"
        if "{plan_id}" in path:
            # A fresh convoy quote of the dispatcher's, for the confirmation to book.
            request_id = _request(service, "POST", "/convoys/plans", service.as_("dispatcher"))
            request_id = request_id.json()["plan_id"]
        if "{request_id}" in path or path == "/positions":
            # A fresh request of the first role allowed (the dispatcher), made before the
            # snapshot: each route acts on one it may succeed on.
            create = "/convoys" if path.startswith("/convoys") else "/priority-requests"
            request_id = _request(service, "POST", create, service.as_("dispatcher")).json()[
                "request_id"
            ]
        before = db_snapshot(sessions)
        r = _request(service, method, path, {}, request_id)
        assert r.status_code == 401, (method, path, r.text)
        assert "WWW-Authenticate" in r.headers, (method, path)
        after = db_snapshot(sessions)
        assert after == before, (method, path, _changes(before, after))
        if (method, path) in ANY_ROLE:
            continue
        perm = _permission(route)
        assert perm is not None, f"{method} {path} mutates but requires no permission"
        denied = [role for role in ROLES if perm not in ROLE_PERMISSIONS[role]]
        assert denied, f"{method} {path}: every role may do it"
        for role in denied:
            r = _request(service, method, path, service.as_(role), request_id)
            assert r.status_code == 403, (method, path, role, r.text)
            after = db_snapshot(sessions)
            assert after == before, (method, path, role, _changes(before, after))
        # The same request with a role that has the permission does change something, so
        # the refusals above are the auth check's doing.
        allowed = next(role for role in ROLES if perm in ROLE_PERMISSIONS[role])
        r = _request(service, method, path, service.as_(allowed), request_id)
        assert r.status_code < 300, (method, path, allowed, r.text)
        assert db_snapshot(sessions) != before, (method, path)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_read_route_refuses_no_credential(service):
    gets = [(m, p) for m, p, _ in _routes(service.app) if m == "GET" and p not in PUBLIC]
    assert len(gets) >= 5, gets
    assert {"/junctions", "/junctions/{junction_id}", "/audit", "/users"} <= {p for _, p in gets}
    for method, path in gets:
        r = _request(service, method, path, {})
        assert r.status_code == 401, (method, path, r.text)
        r = _request(service, method, path, {"X-API-Key": "cwk_00000000_" + "x" * 43})
        assert r.status_code == 401, (method, path, r.text)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_public_routes_answer_without_credential(service):
    for path in sorted(PUBLIC - {"/docs/oauth2-redirect"} - PUBLIC_FEEDS):
        assert service.client.get(path).status_code == 200, path
    # No live runtime behind this service: the feeds say so (their 200s: test_public_alerts).
    for path in sorted(PUBLIC_FEEDS):
        r = service.client.get(path)
        assert r.status_code == 503 and "runtime" in r.json()["detail"], (path, r.text)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_openapi_declares_both_credentials(service):
    schemes = service.client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert {"ApiKey", "BearerToken"} <= set(schemes)
