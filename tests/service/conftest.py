"""A service on a fresh database (SQLite and PostgreSQL via ``db_url``), with one user per
role, and a 3x3 grid (five signals) as its network."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from clearway.network import Network, load_network
from clearway.service.app import create_app
from clearway.service.context import ServiceContext
from clearway.service.runtime import ServiceRuntime
from clearway.service.runtime_records import HOLD_ENDED_KIND
from clearway.service.settings import ServiceSettings
from clearway.sim.scenario import Scenario, grid_scenario
from clearway.storage.audit import AuditKind
from clearway.storage.db import write_session
from clearway.storage.models import ApiKeyRow, AuditRecordRow, PriorityRequestRow, UserRow
from clearway.storage.users import add_user, issue_key
from tests.fakes.networks import netgenerate_grid

with warnings.catch_warnings():
    # Starlette deprecates httpx for its test client in favour of a package not yet needed.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
#: A priority request across the 3x3 grid (A0A1 -> B2C2, three signals on its route); tests
#: add their own vehicle and incident ids.
AMBULANCE = {
    "vehicle_id": "AMB-1",
    "role": "ambulance",
    "incident_id": "INC-7",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "lease_s": 300,
}
#: Rate limits and a district cap no test reaches, except the tests of those limits (which
#: set their own).
UNLIMITED = {
    "rate_positions_per_s": 1e6,
    "rate_writes_per_s": 1e6,
    "rate_reads_per_s": 1e6,
    "max_corridors_per_area": 1_000_000,
}
#: The same for a `clearway serve` subprocess, through its environment.
UNLIMITED_ENV = {f"CLEARWAY_{k.upper()}": "1000000" for k in UNLIMITED}
ROLES = ("viewer", "dispatcher", "operator", "admin", "transit")
#: Audit kinds written by something other than the request under test: refusals, and the live
#: runtime's signal changes every tick.
_NOT_BY_REQUESTS = (
    AuditKind.AUTH_FAILED.value,
    AuditKind.SIGNAL_APPROVED.value,
    AuditKind.SIGNAL_REJECTED.value,
    HOLD_ENDED_KIND,  # the runtime's own, as a junction's hold ends
)


@pytest.fixture(scope="session")
def grid_net(tmp_path_factory) -> Network:
    path = netgenerate_grid(tmp_path_factory.mktemp("grid") / "grid.net.xml", 3)
    return load_network(path)


@dataclass
class Service:
    """A running app, its context and a key per role (user name = role name), plus a
    ``spare`` viewer key to revoke."""

    client: TestClient
    app: FastAPI
    ctx: ServiceContext
    keys: dict[str, str]
    key_ids: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        """Headers authenticating as the user of ``role``."""
        return {"X-API-Key": self.keys[role]}

    def token(self, role: str) -> str:
        r = self.client.post("/auth/token", headers=self.as_(role))
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def audit_kinds(self) -> list[str]:
        with self.ctx.sessions() as s:
            return list(s.scalars(select(AuditRecordRow.kind).order_by(AuditRecordRow.seq)))


def make_service(
    engine: Engine,
    sessions: sessionmaker[Session],
    network: Network | None,
    *,
    runtime: ServiceRuntime | None = None,
    **settings: Any,
) -> Service:
    keys, key_ids = {}, {}
    with write_session(sessions) as s:
        for role in ROLES:
            info, key = add_user(s, role, role)
            keys[role], key_ids[role] = key, info.keys[0].key_id
        # A second dispatcher, to show requests belong to their owner.
        info, keys["dispatcher2"] = add_user(s, "dispatcher2", "dispatcher")
        key_ids["dispatcher2"] = info.keys[0].key_id
        # A second viewer key that tests may revoke without locking anyone out.
        key_ids["spare"], keys["spare"] = issue_key(s, "viewer")
    opts: dict[str, Any] = {
        "token_secret": SECRET,
        "db_url": str(engine.url),
        **UNLIMITED,
    } | settings
    app = create_app(ServiceSettings(**opts), network=network, engine=engine, runtime=runtime)
    return Service(TestClient(app), app, app.state.clearway, keys, key_ids)


@pytest.fixture
def service(engine, sessions, grid_net) -> Service:
    return make_service(engine, sessions, grid_net)


@pytest.fixture(scope="session")
def live_scenario(tmp_path_factory) -> Scenario:
    """A 3x3 grid (nine signals) with light demand; generated once per worker."""
    return grid_scenario(tmp_path_factory.mktemp("live"), size="3x3", end_s=3600, load="light")


@pytest.fixture
def live_service(engine, sessions, live_scenario) -> Iterator[Service]:
    """A service with a live runtime (libsumo, corridor on fixed-time) ticking at 50x real
    time for the test's duration. libsumo runs one simulation per process: the runtime is
    stopped and its twin closed when the test ends, before the next test starts one."""
    runtime = ServiceRuntime(live_scenario, strategy="corridor", speed=50.0)
    svc = make_service(engine, sessions, None, runtime=runtime)
    with svc.client:  # runs the lifespan: starts and stops the runtime
        yield svc
    assert runtime.error is None or runtime.recoveries > 0, runtime.error
    assert runtime.violations == [], runtime.violations[:5]  # the safety monitor saw none
    assert not runtime.running


def db_snapshot(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Users, keys, priority requests (id, position count) and audit records other than
    ``auth.failed`` and what the live runtime writes on its own as it ticks (signal records,
    and request events with no principal: a status moving on as the vehicle is heard of):
    what no refused request may change. A refused cancel would still show, as a ``request``
    record with the caller as principal."""
    with sessions() as s:
        return {
            "users": sorted(s.execute(select(UserRow.name, UserRow.role)).all()),
            "keys": sorted(s.execute(select(ApiKeyRow.key_id, ApiKeyRow.revoked_at)).all()),
            "requests": sorted(
                s.execute(
                    select(PriorityRequestRow.request_id, PriorityRequestRow.last_position_seq)
                ).all()
            ),  # fmt: skip
            "audit": list(
                s.execute(
                    select(AuditRecordRow.seq, AuditRecordRow.kind, AuditRecordRow.hash)
                    .where(AuditRecordRow.kind.not_in(_NOT_BY_REQUESTS))
                    .where(
                        (AuditRecordRow.kind != AuditKind.REQUEST.value)
                        | AuditRecordRow.principal.is_not(None)
                    )
                    .order_by(AuditRecordRow.seq)
                ).all()
            ),
        }


def route_links(net: Network, route: list[str], sid: str) -> list[int]:
    """Signal indices of the route's movement through signal ``sid``."""
    k = next(i for i, e in enumerate(route[:-1]) if net.edge(e).to_junction == sid)
    return [
        lk.signal_index
        for lk in net.signal_links(sid)
        if lk.from_lane.rsplit("_", 1)[0] == route[k]
        and lk.to_lane.rsplit("_", 1)[0] == route[k + 1]
    ]
