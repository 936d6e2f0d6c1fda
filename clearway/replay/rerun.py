"""Re-running a past incident's demand on the twin under every priority strategy.

The scenario is the one the service ran, from the run configuration its ``created`` record
holds (the SUMO files, checked against their logged SHA-256, and the seed), or the one the
user names instead (``--scenario`` / ``--sumocfg``, with the logged seed). The priority
vehicle drives the route the request was planned on (from its stored row while it still
has it), leaving when the request was created. The runs themselves are the evaluation
harness's (:func:`clearway.evaluation.evaluate.evaluate`): a reference run without the
vehicle, one run per strategy, and the free-flow run, on the same seeded demand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearway.bootstrap import EVALUATION_NORMALS
from clearway.errors import ClearwayError
from clearway.evaluation.evaluate import (
    EvaluationPlan,
    EvaluationResult,
    EvaluationSettings,
    evaluate,
)
from clearway.network import Network, load_network
from clearway.network.routing import Route, build_routing_graph, fastest_route, route_of
from clearway.replay.incident import IncidentLog
from clearway.replay.source import ReplayError, RouteUnknownError
from clearway.service.run_config import content_digest
from clearway.sim.files import file_digest
from clearway.sim.priority_trips import PriorityTrip
from clearway.sim.scenario import Scenario
from clearway.storage.requests import StoredRequest

#: Strategies every replay compares.
REPLAY_STRATEGIES = ("none", "local", "corridor")
#: Traffic time the re-run goes on after the last thing the log shows (s): recovery, and the
#: others' delay after it.
TAIL_S = 120.0
#: Time allowed for a request the log shows unfinished (s from its creation).
OPEN_REQUEST_S = 600.0
#: The re-run lasts at least this long after the vehicle leaves (s), and at least
#: :data:`SLOWEST_FACTOR` times its route's free-flow estimate: without priority it may
#: take several times as long as the corridor did.
MIN_RERUN_S = 600.0
SLOWEST_FACTOR = 5.0
#: The service heard of a request when it was created, which is when the re-run's vehicle
#: leaves: the strategies get it then, not ahead of it as in an evaluation (s).
REPLAY_DISPATCH_LEAD_S = 0.0
_TRIP_ID = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(frozen=True)
class ReplayPlan:
    """What is re-run: the scenario, the vehicle's trip and route, and what to know."""

    scenario: Scenario
    net: Network
    trip: PriorityTrip
    route: Route
    duration_s: float
    normal: str
    notes: tuple[str, ...]


def logged_scenario(run: dict[str, Any] | None) -> Scenario:
    """The scenario the log's run configuration names, if its files are there unchanged.

    Raises
    ------
    ReplayError
        The log has no twin configuration, or a file is missing or changed (naming it):
        give ``--scenario`` or ``--sumocfg``.
    """
    override = "give the scenario with --scenario grid:NxM[:load] or --sumocfg FILE"
    if not run:
        raise ReplayError(
            "the request's creation record holds no run configuration (written before "
            f"clearway logged it): {override}"
        )
    if run.get("site") != "twin":
        raise ReplayError(
            f"the service ran on {run.get('site')} controllers, not on a twin: there is no "
            f"logged demand to re-run; {override}"
        )
    for f in _files(run):
        path = Path(f["path"])
        if not path.is_file():
            raise ReplayError(f"the logged scenario file {path} is gone: {override}")
        if f["sha256"] and file_digest(path) != f["sha256"]:
            raise ReplayError(
                f"the logged scenario file {path} has changed since the service ran it "
                f"(SHA-256 differs): {override}"
            )
    det = run.get("detectors")
    return Scenario(
        name=str(run["scenario"]),
        net_file=Path(run["net"]["path"]),
        route_files=tuple(Path(f["path"]) for f in run.get("routes", [])),
        additional_files=tuple(Path(f["path"]) for f in run.get("additional", [])),
        detector_file=None if det is None else Path(det["path"]),
        seed=int(run["seed"]),
        end_s=float(run["end_s"]),
        demand_scale=float(run.get("demand_scale", 1.0)),
        begin_s=float(run.get("begin_s", 0.0)),
    )


def _files(run: dict[str, Any]) -> list[dict[str, str]]:
    det = run.get("detectors")
    return [run["net"], *run.get("routes", []), *run.get("additional", []),
            *([det] if det else [])]  # fmt: skip


def plan_replay(
    log: IncidentLog, stored: StoredRequest | None, scenario: Scenario, *, overridden: bool
) -> ReplayPlan:
    """The trip to re-run on ``scenario``.

    Raises
    ------
    RouteUnknownError
        The request's route is no longer stored (redacted after the retention period).
    ReplayError
        Its route does not fit the scenario's network, or it was created outside the
        scenario's time window.
    """
    notes: list[str] = []
    net = load_network(scenario.net_file)
    run = log.run or {}
    logged_net = (run.get("net") or {}).get("content_sha256")
    if overridden and logged_net and content_digest(Path(scenario.net_file)) != logged_net:
        notes.append("the network given differs from the one the service ran (SHA-256 without "
                     "its comments)")  # fmt: skip
    edges, how = _route_edges(stored, net)
    if how:
        notes.append(how)
    try:
        route = route_of(build_routing_graph(net, "emergency"), edges)
    except ClearwayError as exc:
        raise ReplayError(f"the request's route does not fit {scenario.net_file}: {exc}") from None
    spec = stored.spec if stored is not None else {}
    convoy = spec.get("convoy") or {}
    depart = log.created.time_s
    if not (scenario.begin_s <= depart < scenario.end_s):
        raise ReplayError(
            f"the request was created at {depart:g} s of traffic time, outside the scenario's "
            f"{scenario.begin_s:g}-{scenario.end_s:g} s (a field site's UTC time?); give a "
            "scenario that covers it"
        )
    trip = PriorityTrip(
        trip_id=_TRIP_ID.sub("_", log.requester_id)[:40] or "replay",
        edges=route.edges,
        depart_s=depart,
        role=str(spec.get("role", "ambulance")),
        importance=int(spec.get("importance", 12)),
        vehicle_count=int(convoy.get("vehicle_count", 1)),
    )
    if stored is not None and not stored.detail.get("simulated", True):
        notes.append("the service heard of the vehicle from dispatch; on the twin it drives "
                     "its planned route from the request's creation")  # fmt: skip
    if any(e.event == "restored" for e in log.events):
        notes.append("the service restarted while the request lived (restored): its later "
                     "records count traffic time of a fresh twin; the re-run is one run")  # fmt: skip
    final = log.final
    last = max([final.time_s if final else depart + OPEN_REQUEST_S]
               + [h.end_s or h.last_command_s for h in log.holds])  # fmt: skip
    slowest = depart + max(MIN_RERUN_S, SLOWEST_FACTOR * route.travel_time_s)
    end = min(scenario.end_s, math.ceil(max(last + TAIL_S, slowest)))
    normal = str(run.get("normal", "fixed-time"))
    if normal not in EVALUATION_NORMALS:
        notes.append(f"normal control {normal!r} cannot be re-run; fixed-time instead")
        normal = "fixed-time"
    if float(run.get("tick_s", 1.0)) != 1.0:
        notes.append(f"the service decided every {run['tick_s']:g} s; the re-run every 1 s")
    return ReplayPlan(scenario, net, trip, route, end - scenario.begin_s, normal, tuple(notes))


def require_route(stored: StoredRequest | None) -> StoredRequest:
    """``stored`` if it still has a route to re-run (planned, explicit, or origin and
    destination edges).

    Raises
    ------
    RouteUnknownError
        No row, a row redacted after the retention period, or no route in it.
    """
    if stored is None:
        raise RouteUnknownError(
            "the database has the request's audit records but not its row: its route is "
            "unknown, so its trip cannot be re-run"
        )
    if stored.detail.get("redacted"):
        raise RouteUnknownError(
            f"request {stored.request_id!r} finished more than the retention period ago and "
            "its route was removed (where a vehicle went is personal data): what the log "
            "shows is reported, its trip cannot be re-run"
        )
    o, d = stored.spec.get("origin") or {}, stored.spec.get("destination") or {}
    if not (stored.detail.get("route") or stored.spec.get("route")) and not (
        o.get("edge_id") and d.get("edge_id")
    ):
        raise RouteUnknownError(f"request {stored.request_id!r} has no route stored to re-run")
    return stored


def _route_edges(stored: StoredRequest | None, net: Network) -> tuple[tuple[str, ...], str]:
    """The planned route's edges, and a note when they had to be re-planned."""
    stored = require_route(stored)
    edges = stored.detail.get("route") or stored.spec.get("route")
    if edges:
        return tuple(edges), ""
    o, d = stored.spec["origin"], stored.spec["destination"]
    r = fastest_route(build_routing_graph(net, "emergency"), o["edge_id"], d["edge_id"])
    return r.edges, "no planned route stored: routed again from its origin to destination"


def run_replay(
    plan: ReplayPlan,
    out_dir: Path,
    *,
    strategies: Sequence[str] = REPLAY_STRATEGIES,
    workers: int = 2,
    backend: str = "libsumo",
) -> EvaluationResult:
    """Run the reference, every strategy and the free-flow run (one seed: the logged one)."""
    sc = plan.scenario
    evaluation = EvaluationPlan(
        name=f"replay-{sc.name}",
        net=plan.net,
        scenarios={sc.seed: sc},
        trips=(plan.trip,),
        routes=(plan.route,),
        duration_s=plan.duration_s,
        begin_s=sc.begin_s,
    )
    settings = EvaluationSettings(
        strategies=tuple(strategies), workers=workers, normal=plan.normal, backend=backend,
        dispatch_lead_s=REPLAY_DISPATCH_LEAD_S,
    )  # fmt: skip
    return evaluate(evaluation, settings, out_dir)
