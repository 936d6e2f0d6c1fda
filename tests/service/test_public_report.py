"""``/public/report``, ``/public/key`` and ``/public/transparency``: no credential, aggregates
only with the k floor, the audit head signed with the service's key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clearway.storage.public_report import body_of
from clearway.storage.signed_head import (
    check_against,
    check_signature,
    generate_keypair,
    load_public_key,
    report_digest,
)
from tests.fakes.trips import add_trip, assert_no_private_data

from .conftest import make_service

DAY = datetime(2026, 12, 3, 8, tzinfo=UTC)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def trips(sessions) -> list[str]:
    """Six ambulance trips on the grid (A0A1 -> A1B1 through signal A1) and one police one."""
    rids = [add_trip(sessions, DAY + timedelta(minutes=i), trip_s=30.0 + i) for i in range(6)]
    rids.append(add_trip(sessions, DAY + timedelta(hours=2), role="police", outcome="expired"))
    return rids


@pytest.fixture
def signed(engine, sessions, grid_net, tmp_path):
    key, pub = generate_keypair(tmp_path / "report.key")
    svc = make_service(engine, sessions, grid_net, report_key_file=key)
    return svc, pub


def test_the_report_answers_without_a_credential_and_suppresses_small_cells(signed, trips):
    svc, _ = signed
    r = svc.client.get("/public/report", params={"month": "2026-12"})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"].startswith("public")
    rep = r.json()
    totals = rep["totals"]
    assert totals["requests"] == {"value": 7, "requests": 7}
    assert totals["requests_by_role"]["ambulance"]["value"] == 6
    assert totals["requests_by_role"]["police"] == {
        "value": None,
        "suppressed": "fewer than 5 requests",
    }
    assert totals["outcomes"]["expired"]["suppressed"]
    # The network is the service's: the estimate of A0A1 -> A1B1 is positive, and the trips
    # of 30-35 s are compared with it.
    saved = totals["time_saved_median_s"]
    assert saved["requests"] == 6 and isinstance(saved["value"], float)
    assert list(totals["holds_per_junction"]) == ["A1"]
    day = next(d for d in rep["days"] if d["day"] == "2026-12-03")
    assert day["requests"]["value"] == 7


def test_the_published_head_is_signed_by_the_published_key_and_matches_the_chain(
    signed, trips, sessions
):
    svc, pub_file = signed
    key = svc.client.get("/public/key").json()
    assert key["algorithm"] == "Ed25519"
    assert (
        load_public_key(key["pem"]).public_bytes_raw()
        == load_public_key(pub_file.read_text()).public_bytes_raw()
    )
    rep = svc.client.get("/public/report", params={"day": "2026-12-03"}).json()
    head = rep["audit_head"]
    check_signature(head, load_public_key(key["public_key"]))
    assert head["report_digest"] == report_digest(body_of(rep))
    with sessions() as s:
        assert check_against(s, head).ok


def test_k_is_never_below_the_floor(signed, trips):
    svc, _ = signed
    assert svc.client.get("/public/report", params={"k": 4}).status_code == 422
    rep = svc.client.get("/public/report", params={"month": "2026-12", "k": 7}).json()
    assert rep["k"] == 7 and rep["totals"]["requests"]["value"] == 7
    assert rep["totals"]["requests_by_role"]["ambulance"]["suppressed"]  # 6 < 7
    # A service whose floor is set higher (CLEARWAY_PUBLIC_REPORT_K=10).
    svc.ctx.settings = svc.ctx.settings.model_copy(update={"public_report_k": 10})
    r = svc.client.get("/public/report", params={"k": 5})
    assert r.status_code == 400 and "floor of 10" in r.json()["detail"]
    assert svc.client.get("/public/report").json()["k"] == 10
    bad = svc.client.get("/public/report", params={"month": "2026-13"})
    assert bad.status_code == 400 and "not a date" in bad.json()["detail"]


def test_no_principal_request_vehicle_or_place_in_the_public_output(signed, trips):
    svc, _ = signed
    for params in ({"month": "2026-12"}, {"day": "2026-12-03"}):
        assert_no_private_data(svc.client.get("/public/report", params=params).json(), trips)


def test_without_a_key_the_head_is_published_unsigned(service, trips):
    rep = service.client.get("/public/report", params={"day": "2026-12-03"}).json()
    assert rep["audit_head"]["signature"] is None and "unsigned" in rep["audit_head"]
    assert service.client.get("/public/key").json()["public_key"] is None


def test_the_page_is_public_and_the_dashboard_links_to_it(service):
    page = service.client.get("/public/transparency")
    assert page.status_code == 200 and "transparency report" in page.text
    assert "/dashboard/transparency.js" in page.text
    assert service.client.get("/dashboard/transparency.js").status_code == 200
    assert 'href="/public/transparency"' in service.client.get("/").text


def test_the_floor_setting_cannot_go_below_five():
    from pydantic import ValidationError

    from clearway.service.settings import ServiceSettings

    with pytest.raises(ValidationError, match="public_report_k"):
        ServiceSettings(public_report_k=4)


@pytest.mark.sumo
@pytest.mark.slow
def test_the_live_runtime_s_records_make_the_report(live_service):
    """Five simulated ambulances through the live twin: their own audit records (created,
    served, active, completed) give the trip, the estimate and the holds."""
    import time

    live = live_service
    body = {"role": "ambulance", "origin_edge": "A0A1", "destination_edge": "B2C2",
            "lease_s": 300, "simulate": True}  # fmt: skip
    rids = []
    for i in range(5):
        r = live.client.post(
            "/priority-requests",
            json=body | {"vehicle_id": f"AMB-{i}", "incident_id": f"INC-{i}"},
            headers=live.as_("dispatcher"),
        )
        assert r.status_code == 201, r.text
        rids.append(r.json()["request_id"])
    end = time.monotonic() + 120
    states: list[str] = []
    while time.monotonic() < end:
        states = [
            live.client.get(f"/priority-requests/{rid}", headers=live.as_("viewer")).json()["state"]
            for rid in rids
        ]
        if all(s == "completed" for s in states):
            break
        time.sleep(0.5)
    assert states == ["completed"] * 5, states
    time.sleep(1.0)  # the writer's queue: the completion records
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    rep = live.client.get("/public/report", params={"day": today}).json()
    totals = rep["totals"]
    assert totals["requests"]["value"] == 5
    assert totals["outcomes"]["completed"]["value"] == 5
    saved = totals["time_saved_median_s"]
    assert saved["requests"] == 5 and isinstance(saved["value"], float), saved
    assert totals["holds_per_junction"], totals
    assert_no_private_data(rep, rids)
    print("live: median time saved", saved["value"], "s; holds", totals["holds_per_junction"])


def test_the_report_is_rate_limited_per_client_address(engine, sessions, grid_net):
    svc = make_service(engine, sessions, grid_net, rate_public_per_s=0.1)  # burst: 1 request
    assert svc.client.get("/public/report").status_code == 200
    r = svc.client.get("/public/report", params={"day": "2026-12-03"})
    assert r.status_code == 429 and "Retry-After" in r.headers, r.text
    assert svc.client.get("/public/transparency").status_code == 200  # the page is not


def test_a_key_that_cannot_sign_refuses_the_start(tmp_path):
    import os

    from pydantic import ValidationError

    from clearway.service.settings import ServiceSettings

    with pytest.raises(ValidationError, match="make one with `clearway audit keygen`"):
        ServiceSettings(report_key_file=tmp_path / "missing.key")
    key, _ = generate_keypair(tmp_path / "report.key")
    os.chmod(key, 0o640)
    with pytest.raises(ValidationError, match="may be read by others"):
        ServiceSettings(report_key_file=key)
    os.chmod(key, 0o600)
    assert ServiceSettings(report_key_file=key).report_key_file == key
