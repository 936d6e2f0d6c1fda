"""Turning CLI options into a :class:`~clearway.sim.scenario.Scenario`."""

from __future__ import annotations

import re
from pathlib import Path

from clearway.errors import ConfigError
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
