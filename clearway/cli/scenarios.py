"""Turning CLI options into a :class:`~clearway.sim.scenario.Scenario` (``clearway run``) or
into the priority setups ``clearway evaluate`` sweeps
(:class:`~clearway.evaluation.priority_scenarios.PrioritySetup`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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


def split_option(values: Iterable[str] | None) -> tuple[str, ...]:
    """A repeatable, comma-separated option's items, in order, each once (``a,b --x c``)."""
    items = (v.strip() for value in values or () for v in value.split(","))
    return tuple(dict.fromkeys(v for v in items if v))


def check_scenario_names(names: Sequence[str]) -> None:
    """Refuse an unknown ``--scenario`` before any scenario is built.

    Raises
    ------
    ConfigError
        Naming the unknown ones and the valid names.
    """
    unknown = [n for n in names if n not in NAMED and not _GRID.match(n)]
    if unknown:
        raise ConfigError(
            f"unknown scenario(s) {', '.join(repr(n) for n in unknown)} in --scenario; use "
            f"{', '.join(NAMED)} or grid:NxM[:light|moderate|heavy] (comma-separated or repeated)"
        )


def priority_setups(
    net: Path | None,
    routes: list[Path] | None,
    scenarios: Sequence[str],
    requests: Sequence[TripRequest],
    *,
    out_dir: Path,
    additional: Sequence[Path] = (),
) -> list[PrioritySetup]:
    """The scenarios of an evaluation sweep: every ``--scenario`` (``requests``, if any, replace
    each one's own trips), or the one ``--net`` network.

    ``--net`` is not combined with ``--scenario``: ``--priority``/``--convoy`` name edges of one
    network, and would replace the named scenarios' own trips too.

    Raises
    ------
    ConfigError
        Both or neither of ``--net`` and ``--scenario``; an unknown scenario; two scenarios with
        one label (e.g. ``grid:3x3`` and ``grid:3x3:moderate``).
    """
    if net is not None and scenarios:
        raise ConfigError(
            "--net and --scenario cannot be combined (--priority/--convoy name the edges of one "
            "network): evaluate the --net network in its own `clearway evaluate` call"
        )
    if net is not None:
        return [priority_setup(net, routes, None, requests, out_dir=out_dir, additional=additional)]
    if not scenarios:
        return [priority_setup(None, routes, None, requests, out_dir=out_dir)]  # says what to give
    check_scenario_names(scenarios)
    setups: dict[str, PrioritySetup] = {}
    for name in scenarios:
        setup = priority_setup(
            None, routes, name, requests, out_dir=out_dir, additional=additional
        )
        if setup.name in setups:
            raise ConfigError(
                f"--scenario {name!r} is {setup.name!r} again (listed twice under two spellings): "
                "give it once"
            )
        setups[setup.name] = setup
    return list(setups.values())
