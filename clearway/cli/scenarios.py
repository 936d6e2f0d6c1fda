"""Turning CLI options into a :class:`~clearway.sim.scenario.Scenario`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from clearway.errors import ConfigError
from clearway.evaluation.priority_scenarios import (
    NAMED,
    PrioritySetup,
    grid_setup,
    named_setup,
    user_setup,
)
from clearway.evaluation.trip_spec import TripRequest
from clearway.sim.scenario import Scenario, grid_scenario, random_demand, user_scenario
from clearway.sim.sumo_env import sumo_home

_GRID = re.compile(r"^grid:(\d+)x(\d+)(?::(moderate|heavy|light))?$")

#: The real city of the demo: Berlin (Adlershof area) from OpenStreetMap, shipped in the
#: eclipse-sumo wheel; 1,911 junctions, 15 signals.
DEMO_CITY_NET = Path("tools/game/DRT/osm.net.xml")
DEMO_CITY_NAME = "berlin-adlershof-osm"
#: Mean seconds between two departures of the demo city's random demand.
DEMO_CITY_PERIOD_S = 2.0


def resolve_scenario(
    net: Path | None,
    routes: list[Path] | None,
    scenario: str | None,
    *,
    seed: int,
    end_s: float,
    out_dir: Path,
) -> Scenario:
    """A scenario from ``--scenario grid:NxM[:load]`` or from ``--net`` (+ ``--routes``)."""
    if (net is None) == (scenario is None):
        raise ConfigError("give either --net FILE (with --routes FILE ...) or --scenario grid:5x5")
    if scenario is not None:
        m = _GRID.match(scenario)
        if not m:
            raise ConfigError(
                f"unknown scenario {scenario!r}; built-in scenarios are grid:NxM[:light|moderate|heavy]"
            )
        nx, ny, load = int(m.group(1)), int(m.group(2)), m.group(3) or "moderate"
        return grid_scenario(out_dir / "scenarios", size=f"{nx}x{ny}", seed=seed, end_s=end_s, load=load)
    assert net is not None
    route_files = list(routes or [])
    if not route_files:
        # A network alone: seeded random demand, so any net can be run as it is.
        route_files = [random_demand(net, out_dir / "scenarios", seed=seed, end_s=end_s, period_s=2.0)]
    return user_scenario(net, route_files, out_dir / "scenarios", seed=seed, end_s=end_s)


def demo_scenarios(out_dir: Path, *, seed: int, end_s: float) -> list[Scenario]:
    """The demo's two scenarios: the bundled 5x5 grid and a real city from the SUMO wheel."""
    grid = grid_scenario(out_dir / "scenarios", size="5x5", seed=seed, end_s=end_s, load="moderate")
    city_net = sumo_home() / DEMO_CITY_NET
    demand = random_demand(
        city_net, out_dir / "scenarios", seed=seed, end_s=end_s, period_s=DEMO_CITY_PERIOD_S
    )
    city = user_scenario(
        city_net, [demand], out_dir / "scenarios", seed=seed, end_s=end_s, name=DEMO_CITY_NAME
    )
    return [grid, city]


def priority_setup(
    net: Path | None,
    routes: list[Path] | None,
    scenario: str | None,
    requests: Sequence[TripRequest],
    *,
    out_dir: Path,
    additional: Sequence[Path] = (),
) -> PrioritySetup:
    """What ``clearway evaluate`` compares on: a named scenario (its own trips unless
    ``requests`` are given), ``grid:NxM[:load]`` (by default an ambulance across the middle
    row) or ``--net`` (+ ``--routes``; ``requests`` required)."""
    if (net is None) == (scenario is None):
        raise ConfigError(
            "give either --net FILE (with --routes FILE ... and --priority) or --scenario NAME "
            f"({', '.join(NAMED)} or grid:NxM[:light|moderate|heavy])"
        )
    if scenario is not None:
        if additional:
            raise ConfigError(
                "--additional goes with --net (built-in scenarios bring their own files)"
            )
        m = _GRID.match(scenario)
        if m:
            size, load = f"{m.group(1)}x{m.group(2)}", m.group(3) or "moderate"
            return grid_setup(out_dir, size, load, requests)
        if scenario not in NAMED:
            raise ConfigError(
                f"unknown scenario {scenario!r}; use one of {', '.join(NAMED)} or "
                "grid:NxM[:light|moderate|heavy]"
            )
        setup = named_setup(scenario, out_dir)
        return replace(setup, requests=tuple(requests)) if requests else setup
    assert net is not None
    if not requests:
        raise ConfigError(
            "--net needs at least one priority trip: --priority FROM_EDGE:TO_EDGE@DEPART_S "
            "or --convoy FROM_EDGE:TO_EDGE@DEPART_S:N_VEHICLES"
        )
    return user_setup(out_dir, net, list(routes or []), requests, additional_files=additional)
