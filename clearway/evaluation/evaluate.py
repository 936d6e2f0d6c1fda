"""``clearway evaluate``: priority strategies compared on identical seeded traffic.

For every seed: one *reference* run (the demand alone, normal control, no priority trip) and
one run per strategy with the priority trips, all on the same demand and SUMO seed; plus one
free-flow run per trip on the empty network. Runs go to an engine (a process pool or Ray,
:mod:`clearway.evaluation.engines`; libsumo holds one simulation per process). What a strategy
cost everyone else is its run minus the reference. A run that fails is reported (``failed``),
not raised: the other runs are kept.

This module pairs the runs of one plan; running them (one plan, or a sweep of several plans and
normal controllers in one engine call) is :mod:`clearway.evaluation.sweep`'s.

Driver imperfection (``sigma``) is switched off by default (see
:mod:`clearway.sim.driver_noise`): with it, one extra vehicle reshuffles SUMO's random streams
and the pairing measures noise, not the strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from clearway.bootstrap import EVALUATION_NORMALS, STRATEGIES
from clearway.control.priority.corridor import signal_of_junction
from clearway.errors import ConfigError
from clearway.evaluation.engines import ENGINES, JobOutcome
from clearway.evaluation.free_flow import FreeFlow
from clearway.evaluation.priority_metrics import cross_streets
from clearway.evaluation.priority_rows import (
    medians_by_strategy,
    reference_row,
    run_line,
    strategy_row,
)
from clearway.evaluation.priority_run import DISPATCH_LEAD_S, RunJob
from clearway.evaluation.trace import Trace, signals_on_route
from clearway.network import Network
from clearway.network.routing import Route
from clearway.sim.avl import AvlSettings
from clearway.sim.driver_noise import without_driver_noise
from clearway.sim.priority_trips import PriorityTrip, with_priority_trips
from clearway.sim.scenario import Scenario

#: Controller of the reference runs: the normal (fixed-time) control, with no request.
REFERENCE_STRATEGY = "none"
#: ``label`` of a scenario's free-flow run in ``--jsonl`` lines and ``failed``.
FREE_FLOW_LABEL = "free-flow"

ProgressHook = Callable[[int, int, str], None]
#: Called with one JSON-able line per finished run (``status`` ``ok`` or ``failed``).
RunHook = Callable[[dict], None]


@dataclass(frozen=True)
class EvaluationPlan:
    """What to evaluate.

    Attributes
    ----------
    name
        Scenario label.
    net
        The network (loaded).
    scenarios
        Base scenario (demand, detectors, SUMO seed) per seed.
    trips, routes
        The priority trips and their routes.
    duration_s
        Simulated time of every run, from ``begin_s`` (s).
    bluelight
        Priority vehicles carry SUMO's blue-light device (in every strategy alike).
    begin_s
        Simulation time every run begins at (s; the scenarios' ``begin_s``).
    """

    name: str
    net: Network
    scenarios: Mapping[int, Scenario]
    trips: tuple[PriorityTrip, ...]
    routes: tuple[Route, ...]
    duration_s: float
    bluelight: bool = False
    begin_s: float = 0.0


@dataclass(frozen=True)
class EvaluationSettings:
    """How to evaluate.

    Attributes
    ----------
    strategies
        Strategies to compare (``none``, ``local``, ``corridor``; ``fixed-time`` allowed).
    workers
        Simulations at once (processes; CPUs of a local Ray instance).
    engine
        ``process`` (local process pool) or ``ray`` (:mod:`clearway.evaluation.engines`).
    address
        Ray cluster address; ``None`` starts a local Ray instance (``engine="ray"`` only).
    driver_noise
        Keep the demand's driver imperfection (``sigma``); off by default, see module doc.
    backend, timing_file, local_trigger_m
        Passed to every run.
    normal
        The normal controller every run (the reference included) uses between holds: one of
        :data:`clearway.bootstrap.EVALUATION_NORMALS`.
    avl
        Every strategy hears of the priority vehicles through this emulated AVL unit
        (:mod:`clearway.sim.avl`, seeded per seed alike for all strategies); ``None``: the
        twin's exact positions.
    reroute
        Priority vehicles are re-routed on the way when a clearly faster route opens
        (:mod:`~clearway.control.priority.reroute`); their drivers take the new route.
    dispatch_lead_s
        Each request reaches the strategy this long before its vehicle leaves (s).
    alert_share
        Share of the other drivers who follow the public alert feed (0-1), routed around
        the edges it announces (:mod:`clearway.evaluation.alert_drivers`); the same drivers
        for every strategy of a seed.
    """

    strategies: tuple[str, ...] = ("none", "local", "corridor")
    workers: int = 2
    engine: str = "process"
    address: str | None = None
    driver_noise: bool = False
    backend: str = "libsumo"
    timing_file: Path | None = None
    local_trigger_m: float = 150.0
    normal: str = "fixed-time"
    avl: AvlSettings | None = None
    reroute: bool = False
    dispatch_lead_s: float = DISPATCH_LEAD_S
    alert_share: float = 0.0


@dataclass(frozen=True)
class EvaluationResult:
    """Rows, medians and traces of an evaluation (:meth:`to_dict` is the JSON).

    ``failed`` lists the runs that failed (``label``, ``strategy``, ``seed``, ``error``): a
    failed strategy run has no row, and the rows of a seed whose reference failed have no
    extra-delay figures (``None``). A failed free-flow run (``label`` ``free-flow``,
    ``strategy`` and ``seed`` ``None``) leaves every row's free-flow time and ratio ``None``.
    """

    header: dict
    rows: list[dict]
    medians: dict[str, dict]
    reference: list[dict]
    traces: dict[tuple[str, int], tuple[Trace, ...]] = field(repr=False)
    failed: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The documented JSON (docs/evaluation.md)."""
        return {
            **self.header,
            "rows": self.rows,
            "medians": self.medians,
            "reference": self.reference,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class FreeFlowOutcome:
    """A plan's free-flow run, finished: each trip's time, or why it failed.

    Attributes
    ----------
    times
        Trip id -> its free-flow time; ``None`` if the run failed.
    error
        The failure's message; ``None`` if it succeeded.
    """

    times: Mapping[str, FreeFlow] | None = None
    error: str | None = None


def evaluate(
    plan: EvaluationPlan,
    settings: EvaluationSettings,
    out_dir: Path,
    *,
    on_progress: ProgressHook | None = None,
    on_run: RunHook | None = None,
) -> EvaluationResult:
    """Run every strategy and reference on every seed and measure them.

    The sweep of one case (this plan under ``settings.normal``,
    :func:`clearway.evaluation.sweep.evaluate_sweep`). A run that fails does not stop the
    others: it is in the result's ``failed`` (and handed to ``on_run`` with
    ``"status": "failed"``).

    Parameters
    ----------
    out_dir
        Where the runs' files go (``runs/seed<N>/<label>``, ``free-flow``, ...).
    on_progress
        Called after every run with (runs done, runs in all, which run).
    on_run
        Called with every reference and strategy run's line as soon as it finished
        (:func:`run_record`).

    Raises
    ------
    ConfigError
        Unknown strategy, normal controller or engine, no seed, or nothing to compare; Ray
        not installed.
    """
    # Imported here: the sweep builds on this module's pairing.
    from clearway.evaluation.sweep import SweepCase, evaluate_sweep

    case = SweepCase(plan, settings.normal, out_dir)
    sweep = evaluate_sweep([case], settings, on_progress=on_progress, on_run=on_run)
    return sweep.results[0]


def check_settings(settings: EvaluationSettings) -> None:
    """Refuse settings no run could use, before anything runs.

    Raises
    ------
    ConfigError
        Unknown strategy, normal controller or engine; no strategy; fewer than 1 worker.
    """
    unknown = [s for s in settings.strategies if s not in STRATEGIES]
    if unknown or not settings.strategies:
        raise ConfigError(
            f"unknown strategies {unknown}; choose from {', '.join(STRATEGIES)}"
            if unknown
            else "give at least one strategy (--strategies none,local,corridor)"
        )
    check_normal(settings.normal)
    if settings.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {settings.workers}")
    if settings.engine not in ENGINES:
        raise ConfigError(f"unknown engine {settings.engine!r}; choose from {', '.join(ENGINES)}")


def check_normal(normal: str) -> str:
    """``normal`` if it is a normal control (:data:`clearway.bootstrap.EVALUATION_NORMALS`).

    Raises
    ------
    ConfigError
        Naming it and the valid ones.
    """
    if normal not in EVALUATION_NORMALS:
        raise ConfigError(f"--normal {normal!r}: choose one of {', '.join(EVALUATION_NORMALS)}")
    return normal


def paired_result(
    plan: EvaluationPlan,
    settings: EvaluationSettings,
    outcomes: Mapping[tuple[str, int], JobOutcome],
    free_flow: FreeFlowOutcome,
    cross: tuple[str, ...],
    wall_s: float,
) -> EvaluationResult:
    """Pair every strategy run with its same-seed reference run: the rows, medians, failures.

    Parameters
    ----------
    outcomes
        (label, seed) -> the finished run, for every reference and strategy run of ``plan``.
    free_flow
        The plan's free-flow run; if it failed the rows have no free-flow time or ratio.
    settings
        Its ``normal`` is the controller these runs used.
    wall_s
        Wall-clock time the runs took (s).
    """
    times = free_flow_or_unknown(plan, free_flow)
    rows, refs, traces, failed = [], [], {}, []
    if free_flow.error is not None:
        failed.append(
            {"label": FREE_FLOW_LABEL, "strategy": None, "seed": None, "error": free_flow.error}
        )
    for seed in sorted(plan.scenarios):
        ref = outcomes[("reference", seed)].measures
        if ref is not None:
            refs.append(reference_row(plan.name, ref))
        for strategy in settings.strategies:
            run = outcomes[(strategy, seed)].measures
            if run is not None:
                rows.append(strategy_row(plan.name, run, ref, plan.trips, times))
                traces[(strategy, seed)] = run.traces
    for (label, seed), out in sorted(outcomes.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if not out.ok:
            failed.append(
                {"label": label, "strategy": out.job.strategy, "seed": seed, "error": out.error}
            )
    return EvaluationResult(
        header=_header(plan, settings, times, cross, wall_s),
        rows=rows,
        medians=medians_by_strategy(rows, settings.strategies),
        reference=refs,
        traces=traces,
        failed=failed,
    )


def run_record(
    plan: EvaluationPlan, normal: str, outcome: JobOutcome, free_flow: FreeFlowOutcome
) -> dict:
    """The ``--jsonl`` line of one finished reference or strategy run.

    ``status``, ``scenario``, ``normal``, ``avl`` (the AVL settings the strategy heard the
    vehicles through, ``null`` for the exact feed and the reference run), then
    :func:`run_line` (or ``label``, ``strategy``, ``seed`` and ``error`` for a failed run).
    The free-flow run has no line of its own (every line is one seeded run); if it failed,
    ``free_flow_error`` says why the ratios are null.
    """
    job = outcome.job
    head = {"status": "ok" if outcome.ok else "failed", "scenario": plan.name, "normal": normal,
            "avl": avl_dict(job.avl)}  # fmt: skip
    if outcome.measures is not None:
        times = free_flow_or_unknown(plan, free_flow)
        body = run_line(plan.name, job.label, outcome.measures, plan.trips, times)
    else:
        body = {"label": job.label, "strategy": job.strategy, "seed": job.scenario.seed,
                "error": outcome.error}  # fmt: skip
    tail = {} if free_flow.error is None else {"free_flow_error": free_flow.error}
    return {**head, **body, **tail}


def avl_dict(avl: AvlSettings | None) -> dict | None:
    """AVL settings as JSON; ``None`` for the exact feed."""
    return None if avl is None else avl.to_dict()


def free_flow_or_unknown(plan: EvaluationPlan, free_flow: FreeFlowOutcome) -> dict[str, FreeFlow]:
    """The free-flow times, or ``nan`` ones (rows then say ``null``) if that run failed."""
    if free_flow.times is not None:
        return dict(free_flow.times)
    return {t.trip_id: FreeFlow(t.trip_id, math.nan, 0) for t in plan.trips}


def corridor_cross_streets(net: Network, routes: Sequence[Route]) -> tuple[str, ...]:
    """Approach edges into the signalised junctions of the routes that no route uses."""
    signalised = signal_of_junction(net)
    junctions = {j for r in routes for j in r.junctions if j in signalised}
    into: dict[str, list[str]] = {}
    for edge in net.edges.values():
        if edge.is_normal and edge.to_junction in junctions:
            into.setdefault(edge.to_junction, []).append(edge.id)
    return cross_streets(into, junctions, (e for r in routes for e in r.edges))


def plan_jobs(
    plan: EvaluationPlan, settings: EvaluationSettings, cross: tuple[str, ...], out_dir: Path
) -> list[RunJob]:
    """Per seed: the reference run and one run per strategy, under ``settings.normal``.

    Files go to ``out_dir`` (``demand``, ``trips``, ``runs/seed<N>/<label>``).
    """
    common = {
        "cross_edges": cross,
        "duration_s": plan.duration_s,
        "backend": settings.backend,
        "timing_file": settings.timing_file,
        "local_trigger_m": settings.local_trigger_m,
        "normal": settings.normal,
        "dispatch_lead_s": settings.dispatch_lead_s,
    }
    jobs = []
    for seed, base in sorted(plan.scenarios.items()):
        if not settings.driver_noise:
            calm = without_driver_noise(base.route_files, out_dir / "demand")
            base = replace(base, route_files=calm)
        with_trips = with_priority_trips(
            base, plan.trips, out_dir / "trips", bluelight=plan.bluelight
        )
        runs = out_dir / "runs" / f"seed{seed}"
        jobs.append(
            RunJob(
                "reference", base, REFERENCE_STRATEGY, (), (), out_dir=runs / "reference", **common
            )
        )
        for strategy in settings.strategies:
            # The reference has no priority vehicle to hear of: the AVL unit is the strategies'.
            jobs.append(
                RunJob(strategy, with_trips, strategy, plan.trips, plan.routes,
                       out_dir=runs / strategy, avl=settings.avl, reroute=settings.reroute,
                       alert_share=settings.alert_share, **common)
            )  # fmt: skip
    return jobs


def _header(
    plan: EvaluationPlan,
    settings: EvaluationSettings,
    free_flow: Mapping[str, FreeFlow],
    cross: tuple[str, ...],
    wall_s: float,
) -> dict:
    trips = []
    for trip, route in zip(plan.trips, plan.routes, strict=True):
        trips.append(
            {
                "trip_id": trip.trip_id,
                "role": trip.role,
                "importance": trip.importance,
                "vehicles": trip.vehicle_count,
                "depart_s": trip.depart_s,
                "route": list(trip.edges),
                "route_length_m": round(route.length_m, 1),
                "free_flow_time_s": _finite(free_flow[trip.trip_id].time_s),
                "signals": [s.signal_id for s in signals_on_route(plan.net, route)],
            }
        )
    return {
        "scenario": plan.name,
        "net": str(plan.net.source) if plan.net.source else None,
        "strategies": list(settings.strategies),
        "seeds": sorted(plan.scenarios),
        "begin_s": plan.begin_s,
        "duration_s": plan.duration_s,
        # Every seed's scenario is built with the same factor (with_demand_scale).
        "demand_scale": next(iter(plan.scenarios.values())).demand_scale if plan.scenarios else 1.0,
        "reference_strategy": REFERENCE_STRATEGY,
        "bluelight": plan.bluelight,
        "driver_noise": settings.driver_noise,
        "local_trigger_m": settings.local_trigger_m,
        "normal": settings.normal,
        "avl": avl_dict(settings.avl),
        "reroute": settings.reroute,
        "alert_share": settings.alert_share,
        "backend": settings.backend,
        "engine": settings.engine,
        "trips": trips,
        "cross_street_edges": list(cross),
        "wall_s": round(wall_s, 1),
    }


def _finite(x: float) -> float | None:
    # JSON has no NaN: a trip that did not arrive (or a failed free-flow run) is null.
    return x if math.isfinite(x) else None
