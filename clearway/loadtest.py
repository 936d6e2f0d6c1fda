"""A load generator for a running ``clearway serve``: many priority requests at once, their
vehicles' position updates at a target rate, for a bounded time (``clearway loadtest``).

1. **Create** ``requests`` priority requests (vehicle ids unique to the run), on the routes
   given or between random road edges of ``GET /network/geometry`` (a pair with no drivable
   route, 422, or an unknown edge, 404, is replaced by another pair).
2. **Positions** for ``duration_s``: ``clients`` concurrent clients, each owning some of the
   requests (one call in flight per client, so a request's ``seq`` reaches the service in
   order), post updates with strictly increasing ``seq``, on the request's planned route at a
   plausible speed (the vehicle never enters its destination edge, so no request completes
   under the load), paced to ``rate`` updates/s in all (0 = as fast as the service answers).
   No call starts after the deadline; one in flight ends within the per-call timeout, so the
   run stays bounded even if the service hangs.
3. **Cancel** every request created (unless told not to).
4. **Audit** (with an admin key): per request, the ``request.position`` audit records
   (``GET /audit``, paged) against the 201s the clients received — same count and the same
   ``stored_seq`` numbers — and ``GET /audit/verify``.

The report: accepted position updates/s, latency p50/p90/p99/max per call kind (create,
position, cancel), statuses, transport errors by exception type, audit completeness. The run
passes when no call got a 5xx or a transport error, something was created, and (when checked)
the audit log is complete and its chain verifies.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

KINDS = ("create", "position", "cancel")
#: Speed the simulated vehicles drive along their routes (m/s).
VEHICLE_SPEED_MPS = 8.0
#: Pause of a client after a transport error (s), so a dead service is not spun on.
ERROR_BACKOFF_S = 0.05
#: Attempts to find a drivable random origin/destination pair, per request.
CREATE_ATTEMPTS = 20
#: Audit records per ``GET /audit`` page (the service's maximum).
AUDIT_PAGE = 1000


@dataclass(frozen=True)
class LoadConfig:
    """What to run.

    Attributes
    ----------
    url
        Base URL of the service (``http://127.0.0.1:8000``).
    key
        API key of a dispatcher (or operator): it creates and owns the requests.
    admin_key
        API key of an operator or admin, to check the audit log; ``None``: not checked.
    requests, clients
        Priority requests to create; concurrent clients posting their positions (more
        clients than requests: one per request).
    rate
        Target position updates per second in all; 0 = as fast as possible.
    duration_s
        How long positions are posted (s).
    routes
        ``(origin, destination)`` edge pairs used in turn; empty: random pairs.
    call_timeout_s
        Timeout of every call (s); the audit verification gets ``verify_timeout_s``. Once a
        call timed out, no further create, cancel or audit call is made, so a hung service
        ends the run within about ``duration_s`` + a few call timeouts.
    cancel
        Cancel the requests at the end.
    bearer
        Exchange the keys for bearer tokens first (a JWT check per call instead of a key
        lookup).
    seed
        Seed of the random routes.
    """

    url: str
    key: str
    admin_key: str | None = None
    requests: int = 8
    clients: int = 8
    rate: float = 0.0
    duration_s: float = 10.0
    routes: tuple[tuple[str, str], ...] = ()
    call_timeout_s: float = 5.0
    verify_timeout_s: float = 30.0
    cancel: bool = True
    bearer: bool = False
    seed: int | None = None
    lease_s: float = 300.0


@dataclass
class _Vehicle:
    """A created request and where its simulated vehicle is."""

    request_id: str
    route: list[str]
    lengths: list[float]
    seq: int = 0
    edge_index: int = 0
    offset_m: float = 0.0
    last_wall: float | None = None
    finished: bool = False

    def advance(self, now: float) -> tuple[str, float, float]:
        """(edge, offset, speed) of the next update: along the route, never onto its last
        edge (arriving there would complete the request); at the end it waits, speed 0."""
        dt = 0.0 if self.last_wall is None else now - self.last_wall
        self.last_wall = now
        stop_index = max(0, len(self.route) - 2)
        step = VEHICLE_SPEED_MPS * dt
        while step > 0:
            room = self.lengths[self.edge_index] - 1.0 - self.offset_m
            if step <= room:
                self.offset_m += step
                step = 0.0
            elif self.edge_index < stop_index:
                step -= max(room, 0.0)
                self.edge_index += 1
                self.offset_m = 0.0
            else:
                self.offset_m = max(0.0, self.lengths[self.edge_index] - 1.0)
                return self.route[self.edge_index], round(self.offset_m, 2), 0.0
        return self.route[self.edge_index], round(self.offset_m, 2), VEHICLE_SPEED_MPS


@dataclass
class LoadResult:
    """The report (JSON-ready) and what the service acknowledged.

    Attributes
    ----------
    report
        See :func:`run_load`.
    created
        Request id -> planned route, for every 201 to a create.
    accepted
        Request id -> ``stored_seq`` of every 201 to a position update.
    """

    report: dict[str, Any]
    created: dict[str, list[str]] = field(default_factory=dict)
    accepted: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.report["ok"])


class _Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {k: [] for k in KINDS}
        self.status: dict[str, Counter[int]] = {k: Counter() for k in KINDS}
        self.errors: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
        #: A call timed out: the service may hang; no new create, cancel or audit call is made.
        self.stalled = False

    async def call(self, kind: str, send: Callable[[], Any]) -> httpx.Response | None:
        """Time one call; ``None`` on a transport error (counted by exception type)."""
        t0 = time.perf_counter()
        try:
            r = await send()
        except (httpx.HTTPError, OSError) as exc:
            self.errors[kind][type(exc).__name__] += 1
            if isinstance(exc, httpx.TimeoutException):
                self.stalled = True
            return None
        self.latency[kind].append(time.perf_counter() - t0)
        self.status[kind][r.status_code] += 1
        return r


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated ``q``-th percentile (0-100); ``None`` for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _latency_ms(seconds: list[float]) -> dict[str, float | int | None]:
    ms = [1e3 * s for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
    }


def _shape_length(shape: list[list[float]]) -> float:
    return sum(math.dist(a, b) for a, b in zip(shape, shape[1:], strict=False))


async def _edge_lengths(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, float]:
    """Road edge id -> length (m) from the network geometry (the first lane's polyline)."""
    r = await client.get("/network/geometry", headers=headers)
    r.raise_for_status()
    lengths: dict[str, float] = {}
    for lane in r.json()["lanes"]:
        lengths.setdefault(lane["edge_id"], _shape_length(lane["shape"]))
    return lengths


async def _auth_headers(client: httpx.AsyncClient, key: str, bearer: bool) -> dict[str, str]:
    if not bearer:
        return {"X-API-Key": key}
    r = await client.post("/auth/token", headers={"X-API-Key": key})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _create_all(
    cfg: LoadConfig,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    lengths: dict[str, float],
    stats: _Stats,
    run_id: str,
    created: dict[str, list[str]],
) -> list[_Vehicle]:
    rng = random.Random(cfg.seed)
    edges = sorted(lengths)
    sem = asyncio.Semaphore(max(1, cfg.clients))

    async def create(i: int) -> _Vehicle | None:
        vid = f"LT-{run_id}-{i}"
        for attempt in range(CREATE_ATTEMPTS):
            if stats.stalled:
                return None
            if cfg.routes:
                origin, dest = cfg.routes[(i + attempt) % len(cfg.routes)]
            else:
                origin, dest = rng.sample(edges, 2)
            body = {
                "vehicle_id": vid,
                "role": "ambulance",
                "incident_id": f"INC-{run_id}-{i}",
                "origin_edge": origin,
                "destination_edge": dest,
                "lease_s": cfg.lease_s,
            }
            async with sem:
                r = await stats.call(
                    "create",
                    lambda b=body: client.post("/priority-requests", json=b, headers=headers),
                )
            if r is None:
                return None  # transport error: counted; do not hammer a dead service
            if r.status_code == 201:
                out = r.json()
                route = list(out["route"])
                if not cfg.routes and len(route) < 3 and attempt + 1 < CREATE_ATTEMPTS:
                    # Too short to drive along: cancel it and look for a longer trip.
                    await stats.call(
                        "cancel",
                        lambda rid=out["request_id"]: client.delete(
                            f"/priority-requests/{rid}", headers=headers
                        ),
                    )
                    vid = f"LT-{run_id}-{i}-{attempt + 1}"
                    continue
                created[out["request_id"]] = route
                return _Vehicle(
                    out["request_id"], route, [lengths.get(e, 10.0) for e in route] or [10.0]
                )
            if r.status_code not in (404, 422) or len(cfg.routes) == 1:
                return None
        return None

    got = await asyncio.gather(*(create(i) for i in range(cfg.requests)))
    return [v for v in got if v is not None]


async def _drive(
    cfg: LoadConfig,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    vehicles: list[_Vehicle],
    stats: _Stats,
    accepted: dict[str, list[int]],
) -> float:
    """Post positions until the deadline; returns the wall time of the phase (s)."""
    n_clients = max(1, min(cfg.clients, len(vehicles)))
    mine = [vehicles[k::n_clients] for k in range(n_clients)]
    interval = n_clients / cfg.rate if cfg.rate > 0 else 0.0
    t0 = time.perf_counter()
    deadline = t0 + cfg.duration_s

    async def client_loop(k: int, own: list[_Vehicle]) -> None:
        due = t0 + (k * interval / n_clients if interval else 0.0)
        turn = 0
        while True:
            live = [v for v in own if not v.finished]
            if not live:
                return
            if interval:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(min(delay, max(0.0, deadline - time.perf_counter())))
                due += interval
            now = time.perf_counter()
            if now >= deadline:
                return
            v = live[turn % len(live)]
            turn += 1
            v.seq += 1
            edge, offset, speed = v.advance(now)
            body = {"seq": v.seq, "edge_id": edge, "offset_m": offset, "speed_mps": speed}
            r = await stats.call(
                "position",
                lambda v=v, b=body: client.post(
                    f"/priority-requests/{v.request_id}/positions", json=b, headers=headers
                ),
            )
            if r is None:
                await asyncio.sleep(ERROR_BACKOFF_S)
            elif r.status_code == 201:
                accepted.setdefault(v.request_id, []).append(int(r.json()["stored_seq"]))
            elif r.status_code == 404 or (r.status_code == 409 and "finished" in r.text):
                v.finished = True  # expired or gone: its updates would all be refused

    await asyncio.gather(*(client_loop(k, own) for k, own in enumerate(mine)))
    return time.perf_counter() - t0


async def _cancel_all(
    client: httpx.AsyncClient, headers: dict[str, str], rids: list[str], stats: _Stats, conc: int
) -> None:
    sem = asyncio.Semaphore(max(1, conc))

    async def cancel(rid: str) -> None:
        async with sem:
            if stats.stalled:
                return
            await stats.call(
                "cancel", lambda: client.delete(f"/priority-requests/{rid}", headers=headers)
            )

    await asyncio.gather(*(cancel(r) for r in rids))


async def _audit(
    cfg: LoadConfig,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    accepted: dict[str, list[int]],
    rids: list[str],
) -> dict[str, Any]:
    """``request.position`` audit records of the run's requests against the 201s."""
    sem = asyncio.Semaphore(8)
    stored: dict[str, list[int]] = {}
    errors: list[str] = []
    stalled = False

    async def records(rid: str) -> None:
        nonlocal stalled
        cursor, seqs = 0, []
        async with sem:
            while True:
                if stalled:
                    errors.append(f"{rid}: not checked (an audit query timed out)")
                    return
                params = {"kind": "request.position", "request_id": rid, "after_seq": cursor,
                          "limit": AUDIT_PAGE}  # fmt: skip
                try:
                    r = await client.get("/audit", params=params, headers=headers)
                except (httpx.HTTPError, OSError) as exc:
                    errors.append(f"{rid}: {type(exc).__name__}")
                    stalled = stalled or isinstance(exc, httpx.TimeoutException)
                    return
                if r.status_code != 200:
                    errors.append(f"{rid}: GET /audit {r.status_code} {r.text[:200]}")
                    return
                page = r.json()
                seqs += [rec["payload"].get("stored_seq") for rec in page["records"]]
                if page["next_after_seq"] is None:
                    break
                cursor = page["next_after_seq"]
        stored[rid] = seqs

    await asyncio.gather(*(records(r) for r in rids))
    lost = extra = 0
    for rid in rids:
        got, acked = Counter(stored.get(rid, [])), Counter(accepted.get(rid, []))
        lost += sum((acked - got).values())
        extra += sum((got - acked).values())
    try:
        if stalled:
            raise httpx.TimeoutException("an audit query timed out; the chain was not verified")
        r = await client.get("/audit/verify", headers=headers, timeout=cfg.verify_timeout_s)
        verify = r.json() if r.status_code == 200 else {"ok": False, "detail": r.text[:300]}
    except (httpx.HTTPError, OSError) as exc:
        verify = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    n_acked = sum(len(v) for v in accepted.values())
    n_records = sum(len(v) for v in stored.values())
    return {
        "checked": True,
        "accepted_201": n_acked,
        "position_audit_records": n_records,
        "lost": lost,
        "extra": extra,
        "query_errors": errors,
        "complete": not errors and lost == 0 and extra == 0 and n_records == n_acked,
        "verify_ok": bool(verify.get("ok")),
        "verify": verify,
    }


async def run_load_async(cfg: LoadConfig) -> LoadResult:
    """Run the load (see the module doc); never raises for what the service answers."""
    stats = _Stats()
    run_id = secrets.token_hex(3)
    result = LoadResult(report={})
    limits = httpx.Limits(max_connections=max(cfg.clients, 8) + 8)
    started = time.perf_counter()
    setup_error: str | None = None
    vehicles: list[_Vehicle] = []
    drive_s = 0.0
    audit: dict[str, Any] = {"checked": False}
    async with httpx.AsyncClient(
        base_url=cfg.url.rstrip("/"), timeout=cfg.call_timeout_s, limits=limits
    ) as client:
        try:
            headers = await _auth_headers(client, cfg.key, cfg.bearer)
            lengths = await _edge_lengths(client, headers)
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            setup_error = f"{type(exc).__name__}: {exc}"
        if setup_error is None:
            t_create = time.perf_counter()
            vehicles = await _create_all(
                cfg, client, headers, lengths, stats, run_id, result.created
            )
            create_s = time.perf_counter() - t_create
            if vehicles:
                drive_s = await _drive(cfg, client, headers, vehicles, stats, result.accepted)
            if cfg.cancel:
                await _cancel_all(client, headers, list(result.created), stats, cfg.clients)
            if cfg.admin_key and result.created and stats.stalled:
                audit = {"checked": True, "complete": False, "verify_ok": False,
                         "query_errors": ["not checked: a call timed out (the service may hang)"]}  # fmt: skip
            elif cfg.admin_key and result.created:
                try:
                    admin = await _auth_headers(client, cfg.admin_key, cfg.bearer)
                    audit = await _audit(cfg, client, admin, result.accepted, list(result.created))
                except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
                    audit = {"checked": True, "complete": False, "verify_ok": False,
                             "query_errors": [f"{type(exc).__name__}: {exc}"]}  # fmt: skip
        else:
            create_s = 0.0
    result.report = _report(cfg, stats, run_id, vehicles, drive_s, create_s, audit, setup_error,
                            time.perf_counter() - started)  # fmt: skip
    return result


def run_load(cfg: LoadConfig) -> LoadResult:
    """:func:`run_load_async` in a fresh event loop."""
    return asyncio.run(run_load_async(cfg))


def _report(
    cfg: LoadConfig,
    stats: _Stats,
    run_id: str,
    vehicles: list[_Vehicle],
    drive_s: float,
    create_s: float,
    audit: dict[str, Any],
    setup_error: str | None,
    wall_s: float,
) -> dict[str, Any]:
    calls = {}
    for kind in KINDS:
        st = stats.status[kind]
        calls[kind] = {
            "calls": sum(st.values()) + sum(stats.errors[kind].values()),
            "ok": sum(v for k, v in st.items() if 200 <= k < 300),
            "status": {str(k): v for k, v in sorted(st.items())},
            "transport_errors": dict(stats.errors[kind]),
            "latency": _latency_ms(stats.latency[kind]),
        }
    accepted = stats.status["position"].get(201, 0)
    status_5xx = sum(v for st in stats.status.values() for k, v in st.items() if k >= 500)
    transport = sum(sum(e.values()) for e in stats.errors.values())
    errors_by_status: Counter[str] = Counter()
    errors_by_exception: Counter[str] = Counter()
    for kind in KINDS:
        for k, v in stats.status[kind].items():
            if k >= 400:
                errors_by_status[str(k)] += v
        errors_by_exception.update(stats.errors[kind])
    reasons = []
    if setup_error:
        reasons.append(f"setup failed: {setup_error}")
    if not vehicles and not setup_error:
        reasons.append("no request could be created")
    if status_5xx:
        reasons.append(f"{status_5xx} responses with a 5xx status")
    if transport:
        reasons.append(f"{transport} transport errors")
    if audit.get("checked") and not audit.get("complete"):
        reasons.append("audit log incomplete")
    if audit.get("checked") and not audit.get("verify_ok"):
        reasons.append("audit chain does not verify")
    return {
        "url": cfg.url,
        "run_id": run_id,
        "requests_asked": cfg.requests,
        "requests_created": len(vehicles),
        "clients": max(1, min(cfg.clients, len(vehicles))) if vehicles else 0,
        "target_rate_per_s": cfg.rate,
        "duration_s": cfg.duration_s,
        "create_phase_s": create_s,
        "position_phase_s": drive_s,
        "wall_s": wall_s,
        "accepted": accepted,
        "accepted_per_s": accepted / drive_s if drive_s > 0 else 0.0,
        "calls": calls,
        "errors_by_status": dict(sorted(errors_by_status.items())),
        "errors_by_exception": dict(sorted(errors_by_exception.items())),
        "status_5xx": status_5xx,
        "transport_errors": transport,
        "audit": audit,
        "ok": not reasons,
        "failures": reasons,
    }
