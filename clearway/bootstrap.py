"""The one place that wires ports to adapters: network -> models -> guard -> twin -> loop."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.control.actuated import ActuatedController
from clearway.control.base import Controller
from clearway.control.external import ExternalControl
from clearway.control.fixed_time import FixedTimeController
from clearway.control.max_pressure import MaxPressureController
from clearway.control.phase_control import PhaseController
from clearway.control.priority.desk import PriorityDesk
from clearway.control.priority.feeds import MergedFeed
from clearway.control.priority.field_preemption import PhaseLimitedPreemption
from clearway.control.priority.policies import (
    CorridorPreemption,
    LocalPreemption,
    NoPriority,
    PriorityPolicy,
)
from clearway.control.priority.preemption import PreemptionController
from clearway.control.priority.transit import TransitSettings
from clearway.control.runtime import ControlLoop
from clearway.control.switchable import SwitchableControl
from clearway.control.transit_control import BusSource, TransitFixedTimeController
from clearway.errors import ConfigError, MonitorViolationError
from clearway.field.virtual.nema_run import NEMA_NORMAL, NEMA_PHASES_NORMAL, wire_nema
from clearway.field.virtual.twin_cabinets import derivable_phase_maps
from clearway.heap import long_lived_heap
from clearway.monitor import SafetyMonitor
from clearway.network import Network, load_network
from clearway.network.loader import require_traffic_lights
from clearway.ports import PriorityVehicleFeed, SignalPort
from clearway.signals.build import build_intersections
from clearway.signals.model import Intersection
from clearway.signals.safety import SafetyGuard
from clearway.sim.scenario import Scenario
from clearway.sim.sumo_programs import SUMO_TYPES, write_sumo_programs
from clearway.sim.twin import SumoTwin

#: Strategies by name (``--strategy``): the normal controller alone, or with priority for
#: emergency vehicles decided by one of three policies (:mod:`clearway.control.priority.policies`).
#: With ``1`` in this variable (tests, CI), a run whose safety monitor saw any violation
#: fails when it closes (SUMO's own baseline programs excepted).
STRICT_MONITOR_ENV = "CLEARWAY_STRICT_MONITOR"
NORMAL_STRATEGIES: tuple[str, ...] = ("fixed-time", "max-pressure", "actuated")
PRIORITY_STRATEGIES: tuple[str, ...] = ("none", "local", "corridor")
#: SUMO's own adaptive programs, run by SUMO itself (external baselines, not guarded).
SUMO_BASELINES: tuple[str, ...] = tuple(SUMO_TYPES)
STRATEGIES: tuple[str, ...] = NORMAL_STRATEGIES + PRIORITY_STRATEGIES + SUMO_BASELINES
#: Normal control a priority strategy can run on in an evaluation: clearway's own
#: controllers, or the signals' virtual NEMA controllers running their own programs
#: (:mod:`clearway.field.virtual.nema_run`: the corridor through field controllers), or
#: fixed-time on the direct twin with holds limited to what those controllers' phases show.
EVALUATION_NORMALS: tuple[str, ...] = (*NORMAL_STRATEGIES, NEMA_NORMAL, NEMA_PHASES_NORMAL)
#: The normals that run only the signals a dual-ring controller can (from derived phase maps).
_PHASE_MAP_NORMALS = (NEMA_NORMAL, NEMA_PHASES_NORMAL)


def normal_controller(
    name: str,
    net: Network,
    models: Mapping[str, Intersection],
    *,
    buses: BusSource | None = None,
    transit: TransitSettings | None = None,
) -> FixedTimeController | PhaseController:
    """The normal (between-emergencies) controller ``name`` for every modelled signal; with
    ``buses``, fixed-time gives late buses conditional priority (``transit``: its limits)."""
    if name not in NORMAL_STRATEGIES:
        raise ConfigError(
            f"unknown normal control {name!r}; choose one of {', '.join(NORMAL_STRATEGIES)}"
        )
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    if name == "max-pressure":
        return MaxPressureController(net, models, programs)
    if name == "actuated":
        return ActuatedController(net, models, programs)
    if buses is not None:
        return TransitFixedTimeController(net, models, programs, buses, transit)
    return FixedTimeController(models, programs)


def priority_policy(strategy: str, local_trigger_m: float = 150.0) -> PriorityPolicy:
    """The policy of a priority strategy (one of :data:`PRIORITY_STRATEGIES`)."""
    if strategy not in PRIORITY_STRATEGIES:
        raise ConfigError(
            f"{strategy!r} is no priority strategy; choose one of {', '.join(PRIORITY_STRATEGIES)}"
        )
    if strategy == "local":
        return LocalPreemption(trigger_m=local_trigger_m)
    return CorridorPreemption() if strategy == "corridor" else NoPriority()


def build_controller(
    strategy: str,
    net: Network,
    models: Mapping[str, Intersection],
    feed: PriorityVehicleFeed,
    *,
    local_trigger_m: float = 150.0,
    normal: str = "fixed-time",
    switchable: bool = False,
    buses: BusSource | None = None,
) -> Controller:
    """The controller for ``strategy``: a normal one alone, or priority (``none``, ``local``,
    ``corridor``) on top of the normal controller ``normal``. ``switchable``: priority sits on
    a :class:`SwitchableControl` starting with ``normal`` everywhere, whose strategy can be
    changed per signal while running. ``buses``: fixed-time normal control gives late buses
    conditional priority (:class:`TransitFixedTimeController`), under any priority hold."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy in NORMAL_STRATEGIES:
        return normal_controller(strategy, net, models, buses=buses)
    if strategy in SUMO_BASELINES:
        return ExternalControl(strategy)
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    policy = priority_policy(strategy, local_trigger_m)
    base: Controller = (
        SwitchableControl(
            lambda name: normal_controller(name, net, models, buses=buses),
            NORMAL_STRATEGIES,
            list(models),
            normal,
        )
        if switchable
        else normal_controller(normal, net, models, buses=buses)
    )
    return PreemptionController(base, net, models, programs, feed, policy)


@dataclass
class WiredRun:
    """Everything one run needs, connected."""

    net: Network
    guard: SafetyGuard
    twin: SumoTwin
    monitor: SafetyMonitor
    loop: ControlLoop
    #: Where priority requests are handed in; ``None`` for a strategy without priority.
    priority: PriorityDesk | None = None
    #: Per-signal normal strategy, when the run was opened ``switchable``.
    normal_control: SwitchableControl | None = None


@contextmanager
def open_twin_run(
    scenario: Scenario,
    *,
    strategy: str = "fixed-time",
    backend: str = "libsumo",
    timing_file: Path | None = None,
    tripinfo_path: Path | None = None,
    tick_s: float = 1.0,
    net: Network | None = None,
    local_trigger_m: float = 150.0,
    normal: str = "fixed-time",
    extra_feed: PriorityVehicleFeed | None = None,
    switchable: bool = False,
    feed_wrapper: Callable[[SumoTwin], PriorityVehicleFeed] | None = None,
    bus_source: Callable[[SumoTwin], BusSource] | None = None,
) -> Iterator[WiredRun]:
    """Load the network, build the guard, start the twin and wire the control loop.

    The independent safety monitor listens to every simulation step. The twin is closed on
    exit (which also flushes SUMO's outputs). ``net`` saves re-reading a network the caller
    has already loaded from ``scenario.net_file``. ``local_trigger_m`` is the distance at
    which the ``local`` strategy preempts (m); ``normal`` the controller priority strategies
    run between holds (one of :data:`EVALUATION_NORMALS`). ``extra_feed``: positions of
    priority vehicles from elsewhere (dispatch), merged with the twin's own. ``switchable``:
    the normal strategy can be changed per signal (``WiredRun.normal_control``).
    ``feed_wrapper``: builds the priority feed from the started twin instead of reading the
    twin's exact positions (e.g. :class:`clearway.sim.avl.AvlFeed`, a realistic AVL unit).
    ``bus_source``: builds, from the started twin, where the buses are and how late
    (e.g. a :class:`~clearway.control.priority.bus_board.BusBoard`); fixed-time normal control
    then gives late buses conditional priority.
    """
    if net is None:
        net = load_network(scenario.net_file)
    require_traffic_lights(net)
    models = build_intersections(net, timing_file)
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if normal in _PHASE_MAP_NORMALS:
        if strategy not in PRIORITY_STRATEGIES or switchable:
            raise ConfigError(
                f"--normal {normal} (the signals' NEMA phase maps) takes a "
                f"priority strategy ({', '.join(PRIORITY_STRATEGIES)}), not {strategy!r}"
                + (" nor a switchable normal control" if switchable else "")
            )
        # Only the signals a dual-ring controller can run are clearway's (the others keep
        # SUMO's program, unwatched).
        phase_maps, _ = derivable_phase_maps(net, models, sorted(models))
        models = {sid: models[sid] for sid in phase_maps}
    guard = SafetyGuard(models)
    monitor = SafetyMonitor(net, models)
    if strategy in SUMO_BASELINES:
        where = (
            Path(tripinfo_path).parent if tripinfo_path is not None else Path(tempfile.mkdtemp())
        )
        programs = write_sumo_programs(net, strategy, where / f"{strategy}.tll.xml", models)
        scenario = replace(scenario, additional_files=(*scenario.additional_files, programs))
    twin = SumoTwin.start(scenario, backend=backend, tripinfo_path=tripinfo_path)
    try:
        own: PriorityVehicleFeed = twin if feed_wrapper is None else feed_wrapper(twin)
        feed: PriorityVehicleFeed = own if extra_feed is None else MergedFeed(own, extra_feed)
        signals: SignalPort = twin
        if normal == NEMA_NORMAL:
            policy = priority_policy(strategy, local_trigger_m)
            nema = wire_nema(twin, net, models, phase_maps, feed, policy)
            controller: Controller = nema.controller
            signals = nema.signals
        elif normal == NEMA_PHASES_NORMAL:
            controller = PhaseLimitedPreemption(
                normal_controller("fixed-time", net, models), net, models,
                {sid: net.traffic_lights[sid].default_program for sid in models}, feed,
                priority_policy(strategy, local_trigger_m), phase_maps=phase_maps,
            )  # fmt: skip
        else:
            controller = build_controller(
                strategy, net, models, feed, local_trigger_m=local_trigger_m, normal=normal,
                switchable=switchable, buses=None if bus_source is None else bus_source(twin),
            )  # fmt: skip
        # SUMO also lists rail signals, which run themselves and have no program to model:
        # the monitor watches exactly the signals the guard controls.
        watched = tuple(models)
        twin.add_step_listener(
            lambda t, states: monitor.observe(t, {sid: states[sid] for sid in watched})
        )
        loop = ControlLoop(signals, twin, twin, guard, controller, tick_s=tick_s)
        desk = controller if isinstance(controller, PriorityDesk) else None
        base = controller.normal if isinstance(controller, PreemptionController) else controller
        normal_control = base if isinstance(base, SwitchableControl) else None
        with long_lived_heap():  # the setup's heap is kept out of the collector's passes
            yield WiredRun(net, guard, twin, monitor, loop, desk, normal_control)
        if os.environ.get(STRICT_MONITOR_ENV) == "1" and strategy not in SUMO_BASELINES:
            # SUMO's own programs are unguarded baselines; everything clearway drives must
            # never have broken a rule.
            seen = monitor.violations
            if seen:
                raise MonitorViolationError(
                    f"the safety monitor saw {len(seen)} violation(s) under {strategy!r} in "
                    f"{scenario.name!r}; first: {seen[0]}"
                )
    finally:
        twin.close()
