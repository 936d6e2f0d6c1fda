"""Scenarios for the digital twin: a network, its demand, lane-area detectors, a seed, an end.

Grid scenarios are generated (netgenerate, randomTrips + duarouter) and cached in an output
folder (see :mod:`clearway.sim.files`); any other SUMO network can be run with the user's own
demand, with clearway's detectors added.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clearway.errors import ConfigError, NetworkError
from clearway.network import load_network
from clearway.sim.detectors import (
    DETECTOR_LENGTH_M,
    DETECTOR_PREFIX,
    LAYOUT_VERSION,
    detector_lanes,
    write_lane_detectors,
)
from clearway.sim.files import ensure_dir, file_digest, file_stem, input_key, staging
from clearway.sim.sumo_env import run_tool, sumo_binary, tool

__all__ = [
    "DETECTOR_LENGTH_M",
    "DETECTOR_PREFIX",
    "LOAD_VPH_PER_ENTRY",
    "Load",
    "Scenario",
    "build_grid",
    "check_demand_scale",
    "detector_lanes",
    "grid_scenario",
    "random_demand",
    "user_scenario",
    "write_lane_detectors",
]

#: Named demand levels, in vehicles per hour entering through *each* fringe road of a grid.
#: Per-entry rates keep the load per junction about the same for every grid size (trips in a
#: larger grid are longer, but there are proportionally more junctions). Measured on the 5x5
#: grid, seed 0, 1800 s, netgenerate's 90 s fixed-time programs: light 64 s / moderate 72 s /
#: heavy 131 s mean time loss (p95 128 / 139 / 339 s), no teleports; at 1.5x "heavy" vehicles
#: started to be teleported out of jams.
LOAD_VPH_PER_ENTRY = {"light": 150.0, "moderate": 300.0, "heavy": 600.0}

Load = Literal["light", "moderate", "heavy"] | float


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything SUMO needs to run one seeded simulation.

    Attributes
    ----------
    name
        Human-readable label (reports, logs).
    net_file, route_files, additional_files
        SUMO inputs (``-n``, ``-r``, ``-a``); ``additional_files`` excludes the detector file.
    detector_file
        clearway's lane-area detectors (``cw_*``), or ``None`` to run without detector data.
    seed
        SUMO's random seed (driver behaviour, insertion).
    end_s
        Simulation end time (s).
    demand_scale
        Factor on the route files' demand (SUMO ``--scale``: 2.0 inserts every vehicle twice,
        0.5 every other one; dimensionless, > 0). Priority vehicles are exempt (their vType
        carries the inverse factor, see :mod:`clearway.sim.priority_trips`).
    begin_s
        Simulation begin time (s, SUMO ``--begin``; >= 0 and < ``end_s``): a scenario whose
        demand starts at 07:00 begins at 25200 instead of stepping seven empty hours.
    """

    name: str
    net_file: Path
    route_files: tuple[Path, ...]
    additional_files: tuple[Path, ...]
    detector_file: Path | None
    seed: int
    end_s: float
    demand_scale: float = 1.0
    begin_s: float = 0.0

    def __post_init__(self) -> None:
        check_demand_scale(self.demand_scale)
        if not (math.isfinite(self.begin_s) and 0.0 <= self.begin_s < self.end_s):
            raise ConfigError(
                f"scenario {self.name!r}: begin {self.begin_s:g} s must be >= 0 and before "
                f"its end {self.end_s:g} s"
            )


def check_demand_scale(demand_scale: float) -> float:
    """``demand_scale`` if it is a usable demand factor.

    Raises
    ------
    ConfigError
        Unless it is a finite number > 0.
    """
    if not (
        isinstance(demand_scale, (int, float)) and math.isfinite(demand_scale) and demand_scale > 0
    ):
        raise ConfigError(
            f"demand scale must be a number > 0 (1 = the demand as given, 2 = twice as many "
            f"vehicles), got {demand_scale!r}"
        )
    return float(demand_scale)


# -- generation ------------------------------------------------------------------------------


def build_grid(
    out_dir: str | os.PathLike[str],
    *,
    nx: int = 5,
    ny: int = 5,
    block_m: float = 200.0,
    lanes: int = 2,
    speed_mps: float = 13.89,
    seed: int = 0,
) -> Path:
    """Generate (or reuse) a grid network with a traffic light at every grid junction.

    Every one of the ``nx * ny`` junctions gets four arms: roads of length ``block_m`` are
    attached around the border, so border junctions are full crossroads and the attached roads
    are the fringe where traffic enters and leaves. Signals are netgenerate's guessed two-phase
    fixed-time programs, with permissive left turns.

    Parameters
    ----------
    out_dir
        Folder for the net file (created if missing).
    nx, ny
        Junctions in x and y (count, >= 1).
    block_m
        Distance between neighbouring junctions (m).
    lanes
        Lanes per direction (count).
    speed_mps
        Speed limit (m/s).
    seed
        netgenerate's random seed (the grid itself is deterministic).

    Returns
    -------
    Path
        The ``.net.xml`` file.
    """
    return netgenerate_grid(out_dir, "grid", nx, ny, block_m, lanes, speed_mps, seed)


def netgenerate_grid(
    out_dir: str | os.PathLike[str],
    kind: str,
    nx: int,
    ny: int,
    block_m: float,
    lanes: int,
    speed_mps: float,
    seed: int,
    extra_args: tuple[str, ...] = (),
    what: str = "",
) -> Path:
    """Generate (or reuse) a signalised netgenerate grid (arguments as :func:`build_grid`).

    ``kind`` names the file; the cache is keyed by it and every argument, ``extra_args``
    (more netgenerate options, e.g. sidewalks) included; ``what`` says what is generated in
    errors.
    """
    if nx < 1 or ny < 1 or lanes < 1 or block_m <= 0 or speed_mps <= 0:
        raise ConfigError(
            f"grid needs nx, ny, lanes >= 1 and positive block length and speed; got nx={nx}, "
            f"ny={ny}, lanes={lanes}, block_m={block_m}, speed_mps={speed_mps}"
        )
    out = ensure_dir(out_dir)
    key = input_key(kind, nx, ny, block_m, lanes, speed_mps, seed, *extra_args)
    net_file = out / f"{kind}{nx}x{ny}_{key}.net.xml"
    if net_file.is_file():
        return net_file
    with staging(net_file) as tmp:
        run_tool(
            [
                sumo_binary("netgenerate"),
                "--grid",
                "--grid.x-number", str(nx),
                "--grid.y-number", str(ny),
                "--grid.length", str(block_m),
                "--grid.attach-length", str(block_m),
                "--default.lanenumber", str(lanes),
                "--default.speed", str(speed_mps),
                *extra_args,
                "--tls.guess", "true",
                "--seed", str(seed),
                "--no-warnings", "true",
                "--output-file", str(tmp),
            ],
            what=what or f"generating the {nx}x{ny} grid network",
        )  # fmt: skip
    return net_file


def random_demand(
    net_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    seed: int,
    end_s: float,
    period_s: float,
    fringe_factor: float = 10.0,
    min_distance_m: float = 300.0,
) -> Path:
    """Generate (or reuse) routed random passenger-car trips on a network.

    Runs ``randomTrips.py`` (with duarouter, ``-r``) with this interpreter.

    Parameters
    ----------
    net_file
        The network.
    out_dir
        Folder for the routes file.
    seed
        randomTrips' seed: which trips, and when they depart.
    end_s
        Departures happen in [0, end_s) (s).
    period_s
        Mean time between two departures in the whole network (s); smaller = more load.
        Departure times are drawn uniformly over [0, end_s), so arrivals are random, not regular.
    fringe_factor
        How much more likely a trip starts/ends on a fringe road than on an inner one.
    min_distance_m
        Straight-line distance between a trip's start and end edges, at least (m).

    Returns
    -------
    Path
        The ``.rou.xml`` file (vehicles with explicit routes).
    """
    if period_s <= 0 or end_s <= 0:
        raise ConfigError(f"demand needs period_s > 0 and end_s > 0; got {period_s}, {end_s}")
    net = Path(net_file)
    if not net.is_file():
        raise NetworkError(f"network file {net} does not exist; build or import it first")
    out = ensure_dir(out_dir)
    key = input_key(
        "demand", file_digest(net), seed, end_s, period_s, fringe_factor, min_distance_m
    )
    routes = out / f"{file_stem(net)}_s{seed}_{key}.rou.xml"
    if routes.is_file():
        return routes
    # randomTrips writes trips, routes and duarouter's .alt file next to its outputs: do it in
    # a private folder so parallel builds cannot collide, then keep only the routes.
    work = Path(tempfile.mkdtemp(prefix=".demand-", dir=out))
    try:
        run_tool(
            [
                tool("randomTrips.py"),
                "--net-file", str(net.resolve()),
                "--output-trip-file", str(work / "trips.xml"),
                "--route-file", str(work / "routes.rou.xml"),
                "--seed", str(seed),
                "--begin", "0",
                "--end", str(end_s),
                "--period", str(period_s),
                "--random-depart",
                "--fringe-factor", str(fringe_factor),
                "--min-distance", str(min_distance_m),
                "--vehicle-class", "passenger",
                # Insert on the best lane at full speed, as real traffic arriving from outside
                # does; the default (rightmost lane, standing start) throttles the fringe.
                "--trip-attributes", 'departLane="best" departSpeed="max"',
            ],
            what=f"generating random demand on {net.name}",
            cwd=work,
        )  # fmt: skip
        os.replace(work / "routes.rou.xml", routes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return routes


# -- scenarios -------------------------------------------------------------------------------


def grid_scenario(
    out_dir: str | os.PathLike[str],
    size: str = "5x5",
    seed: int = 0,
    end_s: float = 3600.0,
    load: Load = "moderate",
    *,
    block_m: float = 200.0,
    lanes: int = 2,
    speed_mps: float = 13.89,
) -> Scenario:
    """A seeded grid scenario: network, random demand and detectors, built or reused.

    Parameters
    ----------
    out_dir
        Cache folder for the generated files.
    size
        ``"<nx>x<ny>"`` junctions, e.g. ``"5x5"``.
    seed
        Seed of the demand and of SUMO.
    end_s
        Demand runs and the simulation ends at this time (s).
    load
        ``"light"``, ``"moderate"``, ``"heavy"`` (see :data:`LOAD_VPH_PER_ENTRY`), or the mean
        time between departures in the whole network (s).
    block_m, lanes, speed_mps
        Passed to :func:`build_grid`.
    """
    nx, ny = _parse_size(size)
    period_s = _period(load, nx, ny)
    net_file = build_grid(out_dir, nx=nx, ny=ny, block_m=block_m, lanes=lanes, speed_mps=speed_mps)
    routes = random_demand(net_file, out_dir, seed=seed, end_s=end_s, period_s=period_s)
    detectors = _cached_detectors(net_file, out_dir)
    label = load if isinstance(load, str) else f"p{period_s:g}s"
    return Scenario(
        name=f"grid{nx}x{ny}-{label}-s{seed}",
        net_file=net_file,
        route_files=(routes,),
        additional_files=(),
        detector_file=detectors,
        seed=seed,
        end_s=float(end_s),
    )


def user_scenario(
    net_file: str | os.PathLike[str],
    route_files: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    end_s: float = 3600.0,
    *,
    additional_files: Iterable[str | os.PathLike[str]] = (),
    name: str | None = None,
) -> Scenario:
    """A scenario on any SUMO network with the user's own demand; detectors go to ``out_dir``.

    ``name`` labels the scenario in results (default: the network file's stem).

    Raises
    ------
    NetworkError
        If the network or a routes file does not exist.
    """
    net = Path(net_file)
    missing = [p for p in (net, *map(Path, route_files)) if not p.is_file()]
    if missing:
        raise NetworkError(
            "scenario input not found: "
            + ", ".join(str(p) for p in missing)
            + "; check the paths (relative paths count from the working folder)"
        )
    detectors = _cached_detectors(net, out_dir)
    return Scenario(
        name=name or file_stem(net),
        net_file=net.resolve(),
        route_files=tuple(Path(p).resolve() for p in route_files),
        additional_files=tuple(Path(p).resolve() for p in additional_files),
        detector_file=detectors,
        seed=seed,
        end_s=float(end_s),
    )


# -- helpers ---------------------------------------------------------------------------------


def _cached_detectors(net_file: Path, out_dir: str | os.PathLike[str]) -> Path:
    out = ensure_dir(out_dir)
    key = input_key("detectors", file_digest(net_file), DETECTOR_LENGTH_M, LAYOUT_VERSION)
    path = out / f"{file_stem(net_file)}_{key}.det.xml"
    if not path.is_file():
        write_lane_detectors(load_network(net_file), path)
    return path


def _parse_size(size: str) -> tuple[int, int]:
    try:
        nx_s, ny_s = size.lower().split("x")
        nx, ny = int(nx_s), int(ny_s)
    except ValueError:
        raise ConfigError(f"grid size must look like '5x5', got {size!r}") from None
    if nx < 1 or ny < 1:
        raise ConfigError(f"grid size must be at least 1x1, got {size!r}")
    return nx, ny


def _period(load: Load, nx: int, ny: int) -> float:
    if isinstance(load, str):
        try:
            vph = LOAD_VPH_PER_ENTRY[load]
        except KeyError:
            names = ", ".join(LOAD_VPH_PER_ENTRY)
            raise ConfigError(
                f"unknown load {load!r}; use one of {names} or a period in s"
            ) from None
        entries = 2 * (nx + ny)  # one attached fringe road per border junction side
        return round(3600.0 / (vph * entries), 4)
    if load <= 0:
        raise ConfigError(f"load as a period must be positive (s), got {load}")
    return float(load)
