"""Turning CLI options into a :class:`~clearway.sim.scenario.Scenario` (``clearway run``) or
into the priority setups ``clearway evaluate`` sweeps
(:class:`~clearway.evaluation.priority_scenarios.PrioritySetup`)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.errors import ConfigError
from clearway.evaluation.priority_scenarios import (
    SCENARIOS,
    PrioritySetup,
    grid_setup,
    named_setup,
    user_setup,
)
from clearway.evaluation.trip_spec import TripRequest
from clearway.sim.pedestrians import ped_grid_scenario
from clearway.sim.scenario import Scenario, grid_scenario, random_demand, user_scenario
from clearway.sim.sumo_env import sumo_home
from clearway.sim.sumocfg import holds_clearway_detectors, read_sumocfg

#: ``grid:NxM[:load][:peds]``; ``:peds`` adds sidewalks, crossings and walkers
#: (:mod:`clearway.sim.pedestrians`).
_GRID = re.compile(r"^grid:(\d+)x(\d+)(?::(moderate|heavy|light))?(:peds)?$")

#: The real city of the demo: Berlin (Adlershof area) from OpenStreetMap, shipped in the
#: eclipse-sumo wheel; 1,911 junctions, 15 signals.
DEMO_CITY_NET = Path("tools/game/DRT/osm.net.xml")
DEMO_CITY_NAME = "berlin-adlershof-osm"
#: Mean seconds between two departures of the demo city's random demand.
DEMO_CITY_PERIOD_S = 2.0


@dataclass(frozen=True, slots=True)
class UserFiles:
    """The SUMO inputs and time window of a run: ``--sumocfg`` with the options beside it.

    Attributes
    ----------
    net
        The network (``--net``, else the configuration's); ``None`` without either.
    routes, additional
        Route and additional files (``--routes``/``--additional``, else the configuration's).
    begin_s
        Simulation begin (s): ``--begin-s``, else the configuration's ``begin``, else 0.
    duration_s
        Simulated time from the begin (s): ``--duration-s``, else the configuration's ``end``
        minus the begin; ``None`` when neither says (the command's default applies).
    notes
        What the user should know: options that override the configuration's values, and
        configuration options clearway does not apply.
    """

    net: Path | None
    routes: tuple[Path, ...]
    additional: tuple[Path, ...]
    begin_s: float
    duration_s: float | None
    notes: tuple[str, ...] = ()


def user_files(
    sumocfg: Path | None,
    *,
    net: Path | None,
    routes: Sequence[Path] | None,
    additional: Sequence[Path] | None,
    begin_s: float | None,
    duration_s: float | None,
) -> UserFiles:
    """Merge ``--sumocfg`` with the explicit options given beside it (which win, with a note).

    Raises
    ------
    ConfigError
        A negative or non-finite ``--begin-s``; a ``--duration-s`` that is not > 0; a
        configuration that is missing, names no network or a missing file
        (:class:`~clearway.sim.sumocfg.SumoConfigError`); a begin not before the
        configuration's end.
    """
    if begin_s is not None and not (math.isfinite(begin_s) and begin_s >= 0):
        raise ConfigError(f"--begin-s must be a time >= 0 s, got {begin_s:g}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError(f"--duration-s must be a positive time (s), got {duration_s:g}")
    routes_t, adds_t = tuple(routes or ()), tuple(additional or ())
    if sumocfg is None:
        return UserFiles(net, routes_t, adds_t, begin_s or 0.0, duration_s)
    cfg = read_sumocfg(sumocfg)
    notes: list[str] = []

    def pick(
        option: str, given: tuple[Path, ...], own: tuple[Path, ...], what: str
    ) -> tuple[Path, ...]:
        if not given:
            return own
        if own and [p.resolve() for p in given] != list(own):
            notes.append(f"{option} overrides the {what} of {sumocfg.name}")
        return given

    (picked_net,) = pick("--net", (net,) if net else (), (cfg.net_file,), "net-file")
    picked_routes = pick("--routes", routes_t, cfg.route_files, "route-files")
    picked_adds = pick("--additional", adds_t, cfg.additional_files, "additional-files")
    own = [p for p in picked_adds if holds_clearway_detectors(p)]
    if own:
        picked_adds = tuple(p for p in picked_adds if p not in own)
        notes.append(f"{', '.join(p.name for p in own)}: clearway's own detectors, which it "
                     "adds to every run itself; not loaded twice")  # fmt: skip
    begin = begin_s if begin_s is not None else (cfg.begin_s or 0.0)
    if begin_s is not None and cfg.begin_s is not None and begin_s != cfg.begin_s:
        notes.append(f"--begin-s {begin_s:g} overrides begin {cfg.begin_s:g} s of {sumocfg.name}")
    duration = duration_s
    if cfg.end_s is not None:
        if duration_s is not None:
            if begin + duration_s != cfg.end_s:
                notes.append(f"--duration-s: the run ends at {begin + duration_s:g} s, not at end "
                             f"{cfg.end_s:g} s of {sumocfg.name}")  # fmt: skip
        elif begin >= cfg.end_s:
            raise ConfigError(
                f"--begin-s {begin:g} s is not before end {cfg.end_s:g} s of {sumocfg.name}: "
                "give an earlier --begin-s, or --duration-s to run past the configuration's end"
            )
        else:
            duration = cfg.end_s - begin
    if cfg.ignored:
        notes.append(f"{sumocfg.name} also sets {', '.join(cfg.ignored)}, which clearway does "
                     "not apply (it runs with its own settings)")  # fmt: skip
    return UserFiles(picked_net, picked_routes, picked_adds, begin, duration, tuple(notes))


def print_notes(notes: Sequence[str]) -> None:
    """Print what the user should know about their options (overrides, ignored settings) to
    stderr, so the results on stdout stay clean."""
    from rich.console import Console

    err = Console(stderr=True)
    for note in notes:
        err.print(f"[yellow]note:[/] {note}")


def refuse_begin_without_demand(files: UserFiles, scenario: str | Sequence[str] | None) -> None:
    """Refuse a nonzero begin where clearway generates the demand itself (from 0 s).

    Raises
    ------
    ConfigError
        ``begin_s`` > 0 with a built-in ``--scenario``, or with ``--net`` and no route files.
    """
    if files.begin_s <= 0:
        return
    if scenario:
        raise ConfigError(
            f"--begin-s {files.begin_s:g}: built-in scenarios run from 0 s; a later begin goes "
            "with your own files (--sumocfg, or --net with --routes)"
        )
    if not files.routes:
        raise ConfigError(
            f"--begin-s {files.begin_s:g} needs your own demand (--routes, or route-files in "
            "--sumocfg): the random demand clearway generates for a bare network starts at 0 s"
        )


def resolve_scenario(
    net: Path | None,
    routes: Sequence[Path] | None,
    scenario: str | None,
    *,
    seed: int,
    end_s: float,
    out_dir: Path,
    additional: Sequence[Path] = (),
    begin_s: float = 0.0,
) -> Scenario:
    """A scenario from ``--scenario grid:NxM[:load]`` or from ``--net`` (+ ``--routes``,
    ``--additional``), simulated from ``begin_s`` to ``end_s`` (s)."""
    if (net is None) == (scenario is None):
        raise ConfigError(
            "give either --net FILE (with --routes FILE ...), --sumocfg FILE or --scenario grid:5x5"
        )
    if scenario is not None:
        m = _GRID.match(scenario)
        if not m:
            raise ConfigError(
                f"unknown scenario {scenario!r}; built-in scenarios are grid:NxM[:light|moderate|heavy][:peds]"
            )
        nx, ny, load = int(m.group(1)), int(m.group(2)), m.group(3) or "moderate"
        build = ped_grid_scenario if m.group(4) else grid_scenario
        return build(out_dir / "scenarios", size=f"{nx}x{ny}", seed=seed, end_s=end_s, load=load)
    assert net is not None
    route_files = list(routes or [])
    if not route_files:
        # A network alone: seeded random demand, so any net can be run as it is.
        route_files = [random_demand(net, out_dir / "scenarios", seed=seed, end_s=end_s, period_s=2.0)]
    sc = user_scenario(
        net, route_files, out_dir / "scenarios", seed=seed, end_s=end_s, additional_files=additional
    )
    return replace(sc, begin_s=begin_s) if begin_s else sc


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
    begin_s: float = 0.0,
) -> PrioritySetup:
    """What ``clearway evaluate`` compares on: a named scenario (its own trips unless
    ``requests`` are given), ``grid:NxM[:load]`` (by default an ambulance across the middle
    row) or ``--net`` (+ ``--routes``; ``requests`` required), every run beginning at
    ``begin_s`` (s; only with ``--net`` and ``--routes``, see :func:`refuse_begin_without_demand`)."""
    if (net is None) == (scenario is None):
        raise ConfigError(
            "give either --net FILE (with --routes FILE ... and --priority) or --scenario NAME "
            f"({', '.join(SCENARIOS)} or grid:NxM[:light|moderate|heavy][:peds])"
        )
    if scenario is not None:
        if additional:
            raise ConfigError(
                "--additional goes with --net (built-in scenarios bring their own files)"
            )
        m = _GRID.match(scenario)
        if m:
            size, load = f"{m.group(1)}x{m.group(2)}", m.group(3) or "moderate"
            return grid_setup(out_dir, size, load, requests, peds=bool(m.group(4)))
        if scenario not in SCENARIOS:
            raise ConfigError(
                f"unknown scenario {scenario!r}; use one of {', '.join(SCENARIOS)} or "
                "grid:NxM[:light|moderate|heavy][:peds]"
            )
        setup = named_setup(scenario, out_dir)
        return replace(setup, requests=tuple(requests)) if requests else setup
    assert net is not None
    if not requests:
        raise ConfigError(
            "--net needs at least one priority trip (so does --sumocfg): --priority "
            "FROM_EDGE:TO_EDGE@DEPART_S or --convoy FROM_EDGE:TO_EDGE@DEPART_S:N_VEHICLES"
        )
    setup = user_setup(out_dir, net, list(routes or []), requests, additional_files=additional)
    return replace(setup, begin_s=begin_s) if begin_s else setup


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
    unknown = [n for n in names if n not in SCENARIOS and not _GRID.match(n)]
    if unknown:
        raise ConfigError(
            f"unknown scenario(s) {', '.join(repr(n) for n in unknown)} in --scenario; use "
            f"{', '.join(SCENARIOS)} or grid:NxM[:light|moderate|heavy][:peds] (comma-separated or repeated)"
        )


def priority_setups(
    net: Path | None,
    routes: list[Path] | None,
    scenarios: Sequence[str],
    requests: Sequence[TripRequest],
    *,
    out_dir: Path,
    additional: Sequence[Path] = (),
    begin_s: float = 0.0,
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
        return [
            priority_setup(
                net, routes, None, requests, out_dir=out_dir, additional=additional,
                begin_s=begin_s,
            )  # fmt: skip
        ]
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
