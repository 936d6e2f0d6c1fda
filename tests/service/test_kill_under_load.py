"""``clearway serve`` SIGKILLed while under load (requests being created, positions posted):
after a restart on the same database the audit chain verifies and nothing acknowledged is
lost — every request answered 201 is there and taken up again, every position answered 201
is stored with its ``request.position`` audit record."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from clearway.loadtest import LoadConfig, LoadResult, run_load
from tests.serve_process import CLEARWAY, ServeProcess

pytestmark = pytest.mark.sumo

#: Load before the kill (s), and how long the load generator would go on.
KILL_AFTER_S = 3.0
LOAD_S = 5.0
#: Trips of the 3x3 grid the side creator uses in turn.
TRIPS = (("A0A1", "B2C2"), ("left0A0", "A0bottom0"), ("C2C1", "A1A0"), ("B0B1", "C1C2"))
FINAL = ("completed", "cancelled", "expired", "rejected")


@pytest.fixture
def server(tmp_path) -> Iterator[ServeProcess]:
    srv = ServeProcess(tmp_path)
    try:
        yield srv
    finally:
        srv.kill()


def _create_until(server: ServeProcess, stop: threading.Event, acked: list[str]) -> None:
    """Create requests one after another until ``stop`` (the kill): the 201s go to ``acked``."""
    headers = {"X-API-Key": server.keys["dispatcher"]}
    with httpx.Client(base_url=server.url, timeout=3.0) as client:
        i = 0
        while not stop.is_set():
            origin, dest = TRIPS[i % len(TRIPS)]
            body = {"vehicle_id": f"KILL-{i}", "role": "fire", "incident_id": f"INC-K{i}",
                    "origin_edge": origin, "destination_edge": dest, "lease_s": 300}  # fmt: skip
            i += 1
            try:
                r = client.post("/priority-requests", json=body, headers=headers)
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if r.status_code == 201:
                acked.append(r.json()["request_id"])


def test_sigkill_under_load_loses_nothing_acknowledged(server):
    t_start = time.monotonic()
    server.start()
    results: list[LoadResult] = []
    cfg = LoadConfig(
        url=server.url, key=server.keys["dispatcher"], requests=6, clients=6, rate=0.0,
        duration_s=LOAD_S, call_timeout_s=3.0, cancel=False, seed=7,
    )  # fmt: skip
    load = threading.Thread(target=lambda: results.append(run_load(cfg)), daemon=True)
    created_aside: list[str] = []
    stop = threading.Event()
    creator = threading.Thread(
        target=_create_until, args=(server, stop, created_aside), daemon=True
    )
    load.start()
    creator.start()
    time.sleep(KILL_AFTER_S)
    killed_at = time.monotonic()
    server.kill()
    stop.set()
    load.join(LOAD_S + 15)
    creator.join(10)
    assert not load.is_alive() and not creator.is_alive(), "the load did not stop"
    assert results, "the load generator raised"
    res = results[0]
    accepted = {rid: seqs for rid, seqs in res.accepted.items() if seqs}
    n_positions = sum(len(s) for s in accepted.values())
    assert len(res.created) == 6, res.report
    assert n_positions > 0 and created_aside, (res.report, created_aside)
    # The load was really on at the kill: positions were refused only by transport errors.
    assert res.report["transport_errors"] > 0, res.report
    assert res.report["status_5xx"] == 0, res.report

    # Restarted on the same database: the chain verifies (offline, from the file).
    server.start()
    done = subprocess.run(
        [str(CLEARWAY), "audit", "verify", "--db", server.db, "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{server.output()}"
    assert json.loads(done.stdout)["ok"], done.stdout

    # Every acknowledged request is there, unfinished, and served by the new process.
    headers = {"X-API-Key": server.keys["dispatcher"]}
    all_acked = [*res.created, *created_aside]
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        for rid in all_acked:
            r = client.get(f"/priority-requests/{rid}", headers=headers)
            assert r.status_code == 200, f"{rid}: {r.status_code} {r.text}\n{server.output()}"
            assert r.json()["state"] not in FINAL, r.json()
        # ... and takes new positions of a restored request (its seq keeps counting).
        rid = next(iter(accepted))
        edge = res.created[rid][0]
        r = client.post(
            f"/priority-requests/{rid}/positions", headers=headers,
            json={"seq": 10**9, "edge_id": edge, "offset_m": 1.0, "speed_mps": 0.0},
        )  # fmt: skip
        assert r.status_code == 201, f"{r.text}\n{server.output()}"
        stale = client.post(
            f"/priority-requests/{rid}/positions", headers=headers,
            json={"seq": max(accepted[rid]), "edge_id": edge, "offset_m": 1.0, "speed_mps": 0.0},
        )  # fmt: skip
        assert stale.status_code == 409, stale.text

    # Every acknowledged position is stored, with its audit record (read-only on the file).
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        rows = set(db.execute("SELECT request_id, seq FROM priority_positions").fetchall())
        audited = set()
        restored = set()
        for rid, kind, payload in db.execute(
            "SELECT request_id, kind, payload FROM audit_records WHERE kind IN (?, ?)",
            ("request.position", "request"),
        ):
            p = json.loads(payload)
            if kind == "request.position":
                audited.add((rid, p["stored_seq"]))
            elif p.get("event") == "restored":
                restored.add(rid)
        stored_requests = {r for (r,) in db.execute("SELECT request_id FROM priority_requests")}
    acked_positions = {(rid, n) for rid, seqs in accepted.items() for n in seqs}
    assert not set(all_acked) - stored_requests
    assert not acked_positions - rows, sorted(acked_positions - rows)[:10]
    assert not acked_positions - audited, sorted(acked_positions - audited)[:10]
    assert set(all_acked) <= restored, set(all_acked) - restored
    server.kill()
    print(
        f"\nkill under load: {len(res.created)} + {len(created_aside)} requests and "
        f"{n_positions} positions acknowledged before the SIGKILL at "
        f"{killed_at - t_start:.1f} s; {len(rows)} position rows, {len(audited)} position "
        f"audit records after the restart; wall {time.monotonic() - t_start:.1f} s"
    )
    assert time.monotonic() - t_start < 60
