"""The one place that wires ports to adapters: network -> models -> guard -> twin -> loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clearway.control.base import Controller
from clearway.control.fixed_time import FixedTimeController
from clearway.control.runtime import ControlLoop
from clearway.monitor import SafetyMonitor
from clearway.network import Network, load_network
from clearway.network.loader import require_traffic_lights
from clearway.signals.build import build_intersections
from clearway.signals.model import Intersection
from clearway.signals.safety import SafetyGuard
from clearway.sim.scenario import Scenario
from clearway.sim.twin import SumoTwin

ControllerFactory = Callable[[Network, Mapping[str, Intersection]], Controller]


def _fixed_time(net: Network, models: Mapping[str, Intersection]) -> Controller:
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    return FixedTimeController(models, programs)


#: Strategies by name (``--strategy``).
STRATEGIES: dict[str, ControllerFactory] = {"fixed-time": _fixed_time}


@dataclass
class WiredRun:
    """Everything one run needs, connected."""

    net: Network
    guard: SafetyGuard
    twin: SumoTwin
    monitor: SafetyMonitor
    loop: ControlLoop


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
) -> Iterator[WiredRun]:
    """Load the network, build the guard, start the twin and wire the control loop.

    The independent safety monitor listens to every simulation step. The twin is closed on
    exit (which also flushes SUMO's outputs). ``net`` saves re-reading a network the caller
    has already loaded from ``scenario.net_file``.
    """
    if net is None:
        net = load_network(scenario.net_file)
    require_traffic_lights(net)
    models = build_intersections(net, timing_file)
    guard = SafetyGuard(models)
    controller = STRATEGIES[strategy](net, models)
    monitor = SafetyMonitor(net, models)
    twin = SumoTwin.start(scenario, backend=backend, tripinfo_path=tripinfo_path)
    try:
        # SUMO also lists rail signals, which run themselves and have no program to model:
        # the monitor watches exactly the signals the guard controls.
        watched = tuple(models)
        twin.add_step_listener(
            lambda t, states: monitor.observe(t, {sid: states[sid] for sid in watched})
        )
        loop = ControlLoop(twin, twin, twin, guard, controller, tick_s=tick_s)
        yield WiredRun(net, guard, twin, monitor, loop)
    finally:
        twin.close()
