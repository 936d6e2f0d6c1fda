"""The HTTP service under load: the ``service`` case of ``make bench``.

``clearway serve`` runs as a subprocess (a live 3x3 grid at real-time speed, corridor on
fixed-time, SQLite) on a free loopback port; the clients are asyncio tasks in this process:
httpx for the setup and the measured requests, and for the position load one lean HTTP/1.1
keep-alive connection per client (:mod:`http_wire`) — the load shares the 2 cores with the
server, and httpx spent as much CPU per call as the service did. The load's own CPU per
update is reported beside the server's. One dispatcher owns every request; clients
authenticate with a bearer token (``POST /auth/token``: an HMAC check, then the credential
cache, as a high-rate client would), and a short extra run with ``X-API-Key`` on every call
shows what a key check costs.

1. Sustained position updates: ``THROUGHPUT_CLIENTS`` clients, each owning one active request,
   post updates (one per call) with strictly increasing ``seq`` as fast as the service
   answers for ``THROUGHPUT_S`` s. Reported: accepted updates/s, statuses, latency p50/p99 of
   the calls, the server's and the load's CPU per accepted update.
2. Request → first control decision: with a paced background of ``BACKGROUND_RATE``
   updates/s (``BACKGROUND_CLIENTS`` clients on requests of their own, all at signal
   ``BACKGROUND_SIGNAL`` so their holds cannot be taken for the measured ones'),
   ``LATENCY_REQUESTS`` requests, one every ``LATENCY_SPACING_S`` s, each with a fresh vehicle
   id and its origin ``ORIGIN_BEFORE_STOP_M`` before a signal, followed at once by one
   position there. The first decision: from the client's wall-clock send time of the create
   call to the time the runtime's ``served`` record gives for the tick decision that first
   took the request in (``decided_at_s``), and to that record's own audit ``time`` (when it
   was written, behind the writer's queue). The first command: to the audit ``time`` of the
   first ``signal.approved`` record with source ``corridor`` at a signal of the request's
   route (``junctions[*].signal_id``), looked for within ``WINDOW_S``; each request is
   cancelled when its window closes. A request with no such command is counted by what its
   first signal showed for its movement at the send time (already green: nothing to change;
   red: the corridor did not act in the window), never dropped silently. The same is measured
   first with ``IDLE_REQUESTS`` requests and no background, to tell load from the tick path.
   Each phase cancels its requests when it ends, so the next one runs with its own only.
3. Audit completeness, after the server stopped: per request, the ``request.position`` records
   in the database against the 201s its client received (none lost, none extra); and
   ``clearway audit verify``.

Targets of issue 17: ≥ 1,000 accepted single updates/s (one per call, 16 clients) and request
→ first control decision p99 ≤ 25 ms under a background of that rate, on the 2-core bench
machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from http_wire import WireClient, WireError

SCENARIO = "grid:3x3:light"
SPEED = 1.0
THROUGHPUT_CLIENTS = 16
THROUGHPUT_S = 10.0
API_KEY_CLIENTS = 8
API_KEY_S = 3.0
#: The batched feed: clients, and updates (one per request of the client) per call.
BATCH_CLIENTS = 4
BATCH_SIZE = 25
BACKGROUND_RATE = 1000.0
BACKGROUND_CLIENTS = 16
#: Every background request runs left0A0 -> A0bottom0: its only signal is A0, and the
#: measured requests start elsewhere heading north/east, so they never cross A0.
BACKGROUND_SIGNAL = "A0"
BACKGROUND_ROUTE = ("left0A0", "A0bottom0")
LATENCY_REQUESTS = 30
#: Requests measured first on an otherwise idle service (no background updates).
IDLE_REQUESTS = 10
LATENCY_SPACING_S = 0.3
WINDOW_S = 3.0
ORIGIN_BEFORE_STOP_M = 10.0
#: Speed of the first position sent for a measured request (m/s).
APPROACH_SPEED_MPS = 12.0
P99_TARGET_MS = 25.0
UPDATES_TARGET_PER_S = 1000.0
STARTUP_TIMEOUT_S = 90.0

_BIN = Path(sys.executable).parent
_CLEARWAY = str(_BIN / "clearway")


# -- the server --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str) -> str:
    proc = subprocess.run([_CLEARWAY, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"clearway {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip()


class _Server:
    """``clearway serve`` in a fresh folder and database, with a dispatcher and an admin."""

    def __init__(self, work: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.work = work
        self.db_path = work / "bench.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = work / "serve.log"
        self.startup_s = float("nan")

    def __enter__(self) -> _Server:
        _cli("db", "upgrade", "--db", self.db_url)
        self.dispatcher_key = _cli("users", "add", "bench-dispatcher", "--role", "dispatcher",
                                   "--db", self.db_url).splitlines()[-1]  # fmt: skip
        self.admin_key = _cli("users", "add", "bench-admin", "--role", "admin",
                              "--db", self.db_url).splitlines()[-1]  # fmt: skip
        # The per-principal rate limits are lifted: this measures what the service can take.
        env = {**os.environ, "CLEARWAY_TOKEN_SECRET": secrets.token_urlsafe(48),
               "CLEARWAY_RATE_POSITIONS_PER_S": "1000000", "CLEARWAY_RATE_WRITES_PER_S": "1000000",
               "CLEARWAY_RATE_READS_PER_S": "1000000",
               "CLEARWAY_MAX_CORRIDORS_PER_AREA": "1000000"}  # fmt: skip
        cmd = [_CLEARWAY, "serve", "--scenario", SCENARIO, "--speed", str(SPEED),
               "--db", self.db_url, "--port", str(self.port), "--out-dir", str(self.work / "out")]  # fmt: skip
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        import httpx

        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clearway serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > STARTUP_TIMEOUT_S:
                raise RuntimeError(f"clearway serve not healthy after {STARTUP_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - t0
        self.net_file = next((self.work / "out" / "scenarios").glob("*.net.xml"))
        return self

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # uvicorn shuts down on SIGTERM: the lifespan stops the runtime
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- helpers ------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def _summary_ms(seconds: list[float]) -> dict:
    ms = [1e3 * s for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": _pct(ms, 50),
        "p99_ms": _pct(ms, 99),
        "max_ms": max(ms) if ms else None,
    }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class _Counts:
    """201s per request id as the clients saw them, and statuses/latencies per phase."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()

    def phase(self) -> dict:
        return {"status": Counter(), "latency_s": [], "errors": Counter()}


def _wire(server, headers: dict[str, str]) -> WireClient:
    """A lean keep-alive connection of one load client (see :mod:`http_wire`)."""
    return WireClient("127.0.0.1", server.port, headers)


async def _post_position(wire, rid, seq, edge, offset_m, speed, counts, ph) -> None:
    t0 = time.perf_counter()
    try:
        status, _ = await wire.post_json(
            f"/priority-requests/{rid}/positions",
            {"seq": seq, "edge_id": edge, "offset_m": offset_m, "speed_mps": speed},
        )
    except WireError as exc:
        ph["errors"][str(exc).split(":", 1)[0]] += 1
        return
    ph["latency_s"].append(time.perf_counter() - t0)
    ph["status"][status] += 1
    if status == 201:
        counts.accepted[rid] += 1


async def _create(client, headers, vehicle_id, origin, destination, offset_m=0.0) -> dict:
    r = await client.post(
        "/priority-requests",
        headers=headers,
        json={
            "vehicle_id": vehicle_id,
            "role": "ambulance",
            "incident_id": f"INC-{vehicle_id}",
            "origin_edge": origin,
            "origin_offset_m": offset_m,
            "destination_edge": destination,
            "lease_s": 300,
        },
    )
    if r.status_code != 201:
        raise RuntimeError(f"create {origin} -> {destination}: {r.status_code} {r.text[:300]}")
    return r.json()


async def _cancel_all(client, headers, rids: list[str]) -> None:
    """End a phase's requests: the next phase measures its own load, not the corridor
    planning of requests nobody sends positions for any more (they would stay active for
    their 300 s lease)."""
    for rid in rids:
        r = await client.delete(f"/priority-requests/{rid}", headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"cancel {rid}: {r.status_code} {r.text[:300]}")


def _phase_out(ph: dict, wall_s: float) -> dict:
    accepted = ph["status"].get(201, 0)
    return {
        "wall_s": wall_s,
        "calls": sum(ph["status"].values()) + sum(ph["errors"].values()),
        "accepted": accepted,
        "accepted_per_s": accepted / wall_s if wall_s > 0 else 0.0,
        "status": {str(k): v for k, v in sorted(ph["status"].items())},
        "transport_errors": dict(ph["errors"]),
        "latency": _summary_ms(ph["latency_s"]),
    }


# -- 1. sustained throughput ----------------------------------------------------------------
async def _throughput(server, client, headers, counts, clients: int, duration_s: float,
                      tag: str) -> dict:  # fmt: skip
    rids = [
        (await _create(client, headers, f"TP-{tag}-{i}", *BACKGROUND_ROUTE))["request_id"]
        for i in range(clients)
    ]
    ph = _Counts().phase()
    end = time.perf_counter() + duration_s

    async def worker(rid: str) -> None:
        seq, wire = 0, _wire(server, headers)
        try:
            while time.perf_counter() < end:
                seq += 1
                await _post_position(wire, rid, seq, BACKGROUND_ROUTE[0], 5.0 + seq % 100,
                                     8.0, counts, ph)  # fmt: skip
        finally:
            await wire.close()

    cpu0, t0, mine0 = server.cpu_s(), time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(r) for r in rids))
    wall = time.perf_counter() - t0
    cpu = server.cpu_s() - cpu0
    load_cpu = time.process_time() - mine0
    await _cancel_all(client, headers, rids)
    out = {"clients": clients, "duration_s": duration_s, **_phase_out(ph, wall)}
    out["server_cpu_s"] = cpu
    out["server_cpu_share_of_one_core"] = cpu / wall
    out["server_cpu_ms_per_accepted"] = 1e3 * cpu / out["accepted"] if out["accepted"] else None
    # The load generator's own CPU (this process, the same machine): what it leaves the server.
    out["load_cpu_ms_per_accepted"] = (
        1e3 * load_cpu / out["accepted"] if out["accepted"] else None
    )
    return out


async def _throughput_batched(server, client, headers, counts, clients: int, per_call: int,
                              duration_s: float, tag: str) -> dict:  # fmt: skip
    """The same, as an AVL feed sends it: each client posts ``per_call`` updates (of its
    ``per_call`` requests, one each) per call to ``POST /positions``. Counted per update."""
    rids = [
        [(await _create(client, headers, f"TB-{tag}-{c}-{k}", *BACKGROUND_ROUTE))["request_id"]
         for k in range(per_call)]
        for c in range(clients)
    ]  # fmt: skip
    ph = _Counts().phase()
    end = time.perf_counter() + duration_s

    async def worker(mine: list[str]) -> None:
        seq, wire = 0, _wire(server, headers)
        while time.perf_counter() < end:
            seq += 1
            body = {"updates": [
                {"request_id": rid, "seq": seq, "edge_id": BACKGROUND_ROUTE[0],
                 "offset_m": 5.0 + seq % 100, "speed_mps": 8.0} for rid in mine
            ]}  # fmt: skip
            t0 = time.perf_counter()
            try:
                status, raw = await wire.post_json("/positions", body)
            except WireError as exc:
                ph["errors"][str(exc).split(":", 1)[0]] += 1
                continue
            ph["latency_s"].append(time.perf_counter() - t0)
            if status != 200:
                ph["status"][status] += len(mine)
                continue
            for item in json.loads(raw)["results"]:
                ph["status"][item["status"]] += 1
                if item["status"] == 201:
                    counts.accepted[item["request_id"]] += 1
        await wire.close()

    cpu0, t0 = server.cpu_s(), time.perf_counter()
    await asyncio.gather(*(worker(m) for m in rids))
    wall = time.perf_counter() - t0
    cpu = server.cpu_s() - cpu0
    await _cancel_all(client, headers, [rid for mine in rids for rid in mine])
    out = {"clients": clients, "per_call": per_call, "duration_s": duration_s,
           **_phase_out(ph, wall)}  # fmt: skip
    out["server_cpu_ms_per_accepted"] = 1e3 * cpu / out["accepted"] if out["accepted"] else None
    return out


# -- 2. request -> first approved command ---------------------------------------------------
def _measured_trips(net_file: Path, n: int, seed: int = 1) -> list[tuple[str, str, float]]:
    """(origin, destination, offset) per measured request: an origin edge into a signal other
    than the background one, its destination on the top or right fringe."""
    from clearway.network import load_network

    net = load_network(net_file)
    signals = set(net.traffic_lights)
    origins = sorted(
        e.id
        for e in net.edges.values()
        if e.is_normal
        and e.to_junction in signals
        and e.to_junction != BACKGROUND_SIGNAL
        and e.from_junction != BACKGROUND_SIGNAL
    )
    exits = sorted(
        e.id
        for e in net.edges.values()
        if e.is_normal
        and e.to_junction not in signals
        and e.to_junction.startswith(("top", "right"))
    )
    rng = random.Random(seed)
    trips = []
    for i in range(n):
        origin = origins[i % len(origins)]
        dest = rng.choice(
            [d for d in exits if net.edges[d].from_junction != net.edges[origin].from_junction]
        )
        offset = max(0.0, net.edges[origin].length_m - ORIGIN_BEFORE_STOP_M)
        trips.append((origin, dest, offset))
    return trips


async def _junction_links(client, headers, sids) -> dict[str, list[dict]]:
    out = {}
    for sid in sids:
        r = await client.get(f"/junctions/{sid}", headers=headers)
        r.raise_for_status()
        out[sid] = r.json()["links"]
    return out


async def _audit_records(client, headers, kind: str, after_seq: int) -> list[dict]:
    records, cursor = [], after_seq
    while True:
        r = await client.get(
            "/audit", headers=headers, params={"kind": kind, "after_seq": cursor, "limit": 1000}
        )
        r.raise_for_status()
        page = r.json()
        records += page["records"]
        if page["next_after_seq"] is None:
            return records
        cursor = page["next_after_seq"]


def _lane_edge(lane: str | None) -> str | None:
    return lane.rsplit("_", 1)[0] if lane else None


def _shown_at(approved: list[dict], sid: str, at: float) -> str | None:
    state = None
    for rec in approved:  # in seq order
        if rec["junction_id"] == sid and _epoch(rec["time"]) <= at:
            state = rec["payload"]["state"]
    return state


async def _latency(
    server, client, headers, admin_headers, counts, n: int, rate: float, tag: str
) -> dict:
    trips = _measured_trips(server.net_file, n)
    bg_rids = [
        (await _create(client, headers, f"BG-{tag}-{i}", *BACKGROUND_ROUTE))["request_id"]
        for i in range(BACKGROUND_CLIENTS if rate > 0 else 0)
    ]
    bg = _Counts().phase()
    stop = asyncio.Event()
    interval = BACKGROUND_CLIENTS / rate if rate > 0 else 0.0

    async def background(rid: str, k: int) -> None:
        seq, due = 0, time.perf_counter() + k * interval / BACKGROUND_CLIENTS
        wire = _wire(server, headers)
        while not stop.is_set():
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            seq += 1
            due += interval
            await _post_position(wire, rid, seq, BACKGROUND_ROUTE[0], 5.0 + seq % 100,
                                 8.0, counts, bg)  # fmt: skip
        await wire.close()

    bg_tasks = [asyncio.create_task(background(r, k)) for k, r in enumerate(bg_rids)]
    await asyncio.sleep(1.0)  # the background reaches its pace first
    bg_t0 = time.perf_counter()
    sent: list[dict] = []
    create_s: list[float] = []
    cancels: list[asyncio.Task] = []

    async def cancel_later(rid: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        await client.delete(f"/priority-requests/{rid}", headers=headers)

    measured = _wire(server, headers)
    t_start = time.perf_counter()
    for i, (origin, dest, offset) in enumerate(trips):
        await asyncio.sleep(max(0.0, t_start + i * LATENCY_SPACING_S - time.perf_counter()))
        vid = f"LAT-{tag}-{secrets.token_hex(4)}-{i}"
        p0, send = time.perf_counter(), time.time()
        out = await _create(client, headers, vid, origin, dest, offset)
        create_s.append(time.perf_counter() - p0)
        rid = out["request_id"]
        await _post_position(
            measured, rid, 1, origin, offset, APPROACH_SPEED_MPS, counts, bg
        )
        sent.append({"send": send, "rid": rid, "route": out["route"],
                     "signals": [j["signal_id"] for j in out["junctions"]]})  # fmt: skip
        cancels.append(asyncio.create_task(cancel_later(rid, send + WINDOW_S)))
    await asyncio.gather(*cancels)
    await measured.close()
    stop.set()
    await asyncio.gather(*bg_tasks)
    bg_wall = time.perf_counter() - bg_t0

    # Every approved command since the start (seq order): the hits, and what each signal showed.
    approved = await _audit_records(client, admin_headers, "signal.approved", 0)
    links = await _junction_links(
        client, admin_headers, sorted({s["signals"][0] for s in sent if s["signals"]})
    )
    # The runtime's "served" event: its first control decision after the request, with the
    # route signals it commanded at once and those held but waiting on a safety timer.
    served = {
        r["request_id"]: r
        for r in await _audit_records(client, admin_headers, "request", 0)
        if r["payload"].get("event") == "served"
    }
    decision, recorded, immediate, waited, server_ms = [], [], [], [], []
    latencies, changed, kinds, matched_index, per_request = [], [], Counter(), Counter(), []
    for s, made in zip(sent, create_s, strict=True):
        row = {"create_ms": 1e3 * made, "signals": s["signals"]}
        per_request.append(row)
        ev = served.get(s["rid"])
        if ev is not None:
            # When the tick made the decision (older records: when it was written).
            decided = ev["payload"].get("decided_at_s", _epoch(ev["time"]))
            decision.append(decided - s["send"])
            recorded.append(_epoch(ev["time"]) - s["send"])
            server_ms.append(ev["payload"]["latency_ms"] / 1e3)
            row.update(decision_ms=1e3 * decision[-1], commanded_at_once=ev["payload"]["commanded"],
                       waiting_on_timers=ev["payload"]["waiting"])  # fmt: skip
        if not s["signals"]:
            kinds["no_signal_on_route"] += 1
            row["outcome"] = "no_signal_on_route"
            continue
        # What the first signal of the route showed the vehicle's movement at the send time.
        sid, route = s["signals"][0], s["route"]
        shown = _shown_at(approved, sid, s["send"])
        ours = [
            lk["index"] for lk in links[sid]
            if _lane_edge(lk["from_lane"]) in route
            and route.index(_lane_edge(lk["from_lane"])) + 1 < len(route)
            and route[route.index(_lane_edge(lk["from_lane"])) + 1] == _lane_edge(lk["to_lane"])
        ]  # fmt: skip
        green = bool(shown is not None and ours and all(shown[i] in "Gg" for i in ours))
        row["green_at_send"] = green
        hits = [
            r for r in approved
            if r["payload"].get("source") == "corridor" and r["junction_id"] in s["signals"]
            and s["send"] <= _epoch(r["time"]) <= s["send"] + WINDOW_S
        ]  # fmt: skip
        if hits:
            hit = min(hits, key=lambda r: r["seq"])
            latencies.append(_epoch(hit["time"]) - s["send"])
            if ev is not None and ev["payload"]["commanded"]:
                immediate.append(latencies[-1])
            elif ev is not None and ev["payload"]["waiting"]:
                waited.append(latencies[-1])
            if not green:
                changed.append(latencies[-1])
            matched_index[str(s["signals"].index(hit["junction_id"]))] += 1
            row.update(outcome="commanded_while_green" if green else "commanded_needed_change",
                       latency_ms=1e3 * latencies[-1], at=hit["junction_id"],
                       sim_time_s=hit["payload"].get("time_s"))  # fmt: skip
        else:
            row["outcome"] = "no_command_already_green" if green else "no_command_not_green"
        kinds[row["outcome"]] += 1
    bg_ph = _phase_out(bg, bg_wall)
    lat = _summary_ms(changed)
    first = _summary_ms(decision)
    at_once = _summary_ms(immediate)
    return {
        # The service's own latency: request -> the first control decision on it, and ->
        # the first approved command where that decision could change a signal at once.
        "first_decision": first,
        "first_decision_server": _summary_ms(server_ms),
        # ... -> its ``served`` audit record written (behind the writer's queue).
        "first_decision_recorded": _summary_ms(recorded),
        "command_at_once": at_once,
        # Commands that had to wait for a minimum green / yellow / red clearance: the safety
        # rules' time, not the service's.
        "command_after_safety_wait": _summary_ms(waited),
        "served_events": len(served),
        # Issue 17's target: request -> first control decision.
        "service_p99_met": first["p99_ms"] is not None and first["p99_ms"] <= P99_TARGET_MS,
        # Stricter, shown beside it: the first command's record written within the target too.
        "command_at_once_p99_met": at_once["p99_ms"] is None
        or at_once["p99_ms"] <= P99_TARGET_MS,
        "requests": len(sent),
        "spacing_s": LATENCY_SPACING_S,
        "window_s": WINDOW_S,
        "outcomes": dict(kinds),
        "matched_route_signal_index": dict(matched_index),
        "latency": lat,
        "latency_all_commanded": _summary_ms(latencies),
        "create_call": _summary_ms(create_s),
        "background": {"target_per_s": rate, "clients": len(bg_rids), **bg_ph},
        "p99_target_ms": P99_TARGET_MS,
        "p99_met": lat["p99_ms"] is not None and lat["p99_ms"] <= P99_TARGET_MS,
        "per_request": per_request,
    }


# -- 3. audit completeness -------------------------------------------------------------------
def _audit_check(server: _Server, counts: _Counts) -> dict:
    with sqlite3.connect(server.db_path) as db:
        stored = Counter(
            dict(
                db.execute(
                    "SELECT request_id, COUNT(*) FROM audit_records WHERE kind = ? "
                    "GROUP BY request_id",
                    ("request.position",),
                ).fetchall()
            )
        )
        rows = db.execute("SELECT COUNT(*) FROM priority_positions").fetchone()[0]
    ids = set(counts.accepted) | set(stored)
    lost = sum(max(0, counts.accepted[r] - stored[r]) for r in ids)
    extra = sum(max(0, stored[r] - counts.accepted[r]) for r in ids)
    proc = subprocess.run(
        [_CLEARWAY, "audit", "verify", "--db", server.db_url, "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {"raw": proc.stdout[-500:] + proc.stderr[-500:]}
    return {
        "accepted_201": sum(counts.accepted.values()),
        "position_audit_records": sum(stored.values()),
        "position_rows": rows,
        "lost": lost,
        "extra": extra,
        "complete": lost == 0 and extra == 0,
        "verify_exit": proc.returncode,
        "verify_ok": proc.returncode == 0,
        "verify": report,
    }


# -- the case -------------------------------------------------------------------------------
async def _run(server: _Server) -> dict:
    import httpx

    counts = _Counts()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=60.0) as client:
        tok = await client.post("/auth/token", headers={"X-API-Key": server.dispatcher_key})
        tok.raise_for_status()
        bearer = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        atok = await client.post("/auth/token", headers={"X-API-Key": server.admin_key})
        atok.raise_for_status()
        admin = {"Authorization": f"Bearer {atok.json()['access_token']}"}
        throughput = await _throughput(
            server, client, bearer, counts, THROUGHPUT_CLIENTS, THROUGHPUT_S, "bearer"
        )
        api_key = await _throughput(
            server, client, {"X-API-Key": server.dispatcher_key}, counts, API_KEY_CLIENTS,
            API_KEY_S, "apikey",
        )  # fmt: skip
        batched = await _throughput_batched(
            server, client, bearer, counts, BATCH_CLIENTS, BATCH_SIZE, THROUGHPUT_S, "batch"
        )
        idle = await _latency(server, client, bearer, admin, counts, IDLE_REQUESTS, 0.0, "idle")
        latency = await _latency(
            server, client, bearer, admin, counts, LATENCY_REQUESTS, BACKGROUND_RATE, "load"
        )
    return {"throughput": throughput, "throughput_api_key": api_key,
            "throughput_batched": batched, "latency": latency,
            "latency_idle": idle, "_counts": counts}  # fmt: skip


def case_service(out: Path) -> dict:
    """Run the three measurements against a fresh ``clearway serve``; see the module doc."""
    t0 = time.perf_counter()
    load_before = os.getloadavg()  # the bench machine is shared: context for the numbers
    with _Server(out / "service") as server:
        startup_s = server.startup_s
        result = asyncio.run(_run(server))
    counts = result.pop("_counts")
    result["audit"] = _audit_check(server, counts)
    tp = result["throughput"]
    result.update(
        {
            "scenario": SCENARIO,
            "speed": SPEED,
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "server_startup_s": startup_s,
            "updates_target_per_s": UPDATES_TARGET_PER_S,
            "updates_met": tp["accepted_per_s"] >= UPDATES_TARGET_PER_S
            and result["audit"]["complete"],
            "updates_met_batched": bool(result.get("throughput_batched"))
            and result["throughput_batched"]["accepted_per_s"] >= UPDATES_TARGET_PER_S
            and result["audit"]["complete"],
            "wall_s": time.perf_counter() - t0,
        }
    )
    return result


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _latency_line(name: str, lat: dict) -> str:
    o, bg = lat["outcomes"], lat["background"]
    load = (
        f"background {bg['accepted_per_s']:.0f} updates/s (target {bg['target_per_s']:.0f}, "
        f"call p99 {_ms(bg['latency']['p99_ms'])} ms)"
        if bg["target_per_s"] > 0
        else "no background load"
    )
    return (
        f"| {name} | {load} | {_ms(lat['latency']['p50_ms'])} | {_ms(lat['latency']['p99_ms'])} "
        f"| {_ms(lat['latency']['max_ms'])} | {lat['latency']['n']} / "
        f"{o.get('commanded_while_green', 0)} / {lat['requests']} "
        f"| {o.get('no_command_already_green', 0)} / {o.get('no_command_not_green', 0)} "
        f"| {_ms(lat['create_call']['p50_ms'])} / {_ms(lat['create_call']['p99_ms'])} |"
    )


def markdown(r: dict | None) -> list[str]:
    """Lines for ``bench/results.md``."""
    if not r:
        return []
    tp, ak, lat, au = r["throughput"], r["throughput_api_key"], r["latency"], r["audit"]
    verdict_u = "met" if r["updates_met"] else "NOT met"
    lines = [
        "",
        f"## Service — `clearway serve` {r['scenario']} at speed {r['speed']:g}, SQLite, "
        f"clients on loopback in one asyncio process ({r['cores']} cores, load average "
        f"{r.get('load_average_before', [float('nan')])[0]:.1f} before, case wall "
        f"{r['wall_s']:.0f} s)",
        "",
        "| position updates | clients | accepted updates/s | call p50 (ms) | call p99 (ms) "
        "| statuses | server CPU (ms per update) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    rows = [("bearer token", tp), ("X-API-Key per call", ak)]
    if r.get("throughput_batched"):
        b = r["throughput_batched"]
        rows.append((f"POST /positions, {b['per_call']} updates a call", b))
    for name, t in rows:
        st = ", ".join(f"{k}: {v}" for k, v in t["status"].items())
        if t["transport_errors"]:
            st += ", " + ", ".join(f"{k}: {v}" for k, v in t["transport_errors"].items())
        lines.append(
            f"| {name}, {t['duration_s']:g} s | {t['clients']} | {t['accepted_per_s']:.0f} "
            f"| {_ms(t['latency']['p50_ms'])} | {_ms(t['latency']['p99_ms'])} | {st} "
            f"| {_ms(t['server_cpu_ms_per_accepted'])} |"
        )
    lines += [
        "",
        f"| request → first corridor command (window {lat['window_s']:g} s) | load | p50 (ms) "
        "| p99 (ms) | max (ms) | commanded: change needed / was green / requests "
        "| no command: already green / not green "
        "| create call p50 / p99 (ms) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if r.get("latency_idle"):
        lines.append(_latency_line("idle service", r["latency_idle"]))
    lines += [_latency_line("under load", lat), ""]
    if "first_decision" in lat:
        lines += [
            "| the service's own latency | p50 (ms) | p99 (ms) | max (ms) | requests |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for label, key in (
            ("request → first control decision on it", "first_decision"),
            ("… → that decision's audit record written", "first_decision_recorded"),
            ("… → first command, where that decision could change a signal at once",
             "command_at_once"),
            ("… → first command, after a minimum green / clearance still running (safety "
             "rules' wait)", "command_after_safety_wait"),
        ):  # fmt: skip
            for name, d in (("idle", r.get("latency_idle")), ("under load", lat)):
                if d and key in d:
                    x = d[key]
                    lines.append(
                        f"| {label} ({name}) | {_ms(x['p50_ms'])} | {_ms(x['p99_ms'])} "
                        f"| {_ms(x['max_ms'])} | {x['n']} |"
                    )
        met = "met" if lat["service_p99_met"] else "NOT met"
        cmd_met = "within" if lat.get("command_at_once_p99_met") else "NOT within"
        lines += [
            "",
            f"- the service's latency target (request → first control decision p99 ≤ "
            f"{lat['p99_target_ms']:.0f} ms) under load: {met} — p99 "
            f"{_ms(lat['first_decision']['p99_ms'])} ms; that decision's record written by p99 "
            f"{_ms(lat['first_decision_recorded']['p99_ms'])} ms; the first command where it "
            f"could change at once recorded by p99 {_ms(lat['command_at_once']['p99_ms'])} ms "
            f"({cmd_met} the target)",
            "",
        ]
    lines += [
        f"- sustained updates target, one update a call: {verdict_u} with "
        f"{tp['accepted_per_s']:.0f} accepted/s; batched (`POST /positions`): "
        + (
            f"{'met' if r.get('updates_met_batched') else 'NOT met'} with "
            f"{r['throughput_batched']['accepted_per_s']:.0f} accepted/s"
            if r.get("throughput_batched") else "not measured"
        )
        + f" (target ≥ {r['updates_target_per_s']:.0f}/s with no audit record lost); audit "
        "of every update of the case: "
        f"{au['position_audit_records']} `request.position` records for {au['accepted_201']} "
        f"201s ({au['lost']} lost, {au['extra']} extra), `clearway audit verify` "
        f"{'ok' if au['verify_ok'] else 'FAILED'}",
        f"- request → first approved command at any signal of the route, whatever held it "
        f"back, under load: p99 {_ms(lat['latency']['p99_ms'])} ms over the requests whose "
        "first signal was not green for them at the send time. This includes the minimum "
        "green, yellow and red clearance a signal must finish before it may change (the "
        "safety rules' wait, seconds; split out in the table above), so it is not the "
        "service's latency; a request whose movement was green gets its first command only "
        "when the program would end that green (counted apart).",
    ]
    return lines


if __name__ == "__main__":
    print(json.dumps(case_service(Path(__file__).resolve().parent / "out"), indent=2))
