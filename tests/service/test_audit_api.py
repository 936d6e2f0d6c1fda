"""Authentication failures and administrative actions land in the hash-chained audit log."""

from __future__ import annotations

import pytest


def test_refusals_and_admin_actions_are_audited_and_the_chain_holds(service):
    c, admin = service.client, service.as_("admin")
    assert c.get("/users").status_code == 401
    assert (
        c.get(
            "/users", headers={"X-API-Key": f"cwk_{service.key_ids['viewer']}_{'x' * 43}"}
        ).status_code
        == 401
    )
    assert (
        c.post(
            "/users", json={"name": "eve", "role": "admin"}, headers=service.as_("viewer")
        ).status_code
        == 403
    )
    created = c.post("/users", json={"name": "ann", "role": "dispatcher"}, headers=admin).json()
    issued = c.post("/users/ann/keys", headers=admin).json()
    assert c.delete(f"/keys/{issued['key_id']}", headers=admin).status_code == 200

    r = c.get("/audit", params={"kind": "auth.failed"}, headers=service.as_("operator"))
    failed = r.json()["records"]
    assert [f["payload"]["status"] for f in failed] == [401, 401, 403]
    assert failed[1]["payload"]["key_id"] == service.key_ids["viewer"]  # the id, never the key
    assert all("cwk_" not in str(f) for f in failed)
    assert failed[2]["principal"] == "viewer" and failed[2]["payload"]["route"] == "/users"

    admin_recs = c.get(
        "/audit", params={"kind": "admin", "principal": "admin"}, headers=admin
    ).json()
    actions = [(a["payload"]["action"], a["payload"].get("key_id")) for a in admin_recs["records"]]
    assert actions == [
        ("user.add", created["key_id"]), ("key.issue", issued["key_id"]),
        ("key.revoke", issued["key_id"]),
    ]  # fmt: skip
    assert all(created["key"] not in str(a) for a in admin_recs["records"])

    verdict = c.get("/audit/verify", headers=admin).json()
    assert verdict["ok"] and verdict["checked"] >= 6
    assert service.ctx.audit.verify().ok


@pytest.mark.parametrize("backend", ["sqlite"])
def test_audit_paging_and_time_filters(service):
    c, op = service.client, service.as_("operator")
    for _ in range(5):
        c.get("/junctions")  # five audited refusals
    first = c.get("/audit", params={"limit": 2}, headers=op).json()
    assert len(first["records"]) == 2 and first["next_after_seq"] == first["records"][-1]["seq"]
    rest = c.get(
        "/audit", params={"after_seq": first["next_after_seq"], "limit": 1000}, headers=op
    ).json()
    seqs = [r["seq"] for r in first["records"] + rest["records"]]
    assert seqs == list(range(1, len(seqs) + 1)) and rest["next_after_seq"] is None
    later = c.get("/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=op).json()
    assert later["records"] == []
    bad = c.get("/audit", params={"since": "yesterday"}, headers=op)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "query.since"
    assert c.get("/audit", headers=service.as_("dispatcher")).status_code == 403


@pytest.mark.parametrize("backend", ["sqlite"])
def test_metrics_count_requests_and_auth_failures(service):
    service.client.get("/junctions")
    service.client.get("/junctions", headers=service.as_("viewer"))
    text = service.client.get("/metrics").text
    assert 'clearway_auth_failures_total{status="401"} 1.0' in text
    assert 'route="/junctions",status="200"' in text
    health = service.client.get("/health").json()
    assert health["status"] == "ok" and health["database"] and health["network_loaded"]
