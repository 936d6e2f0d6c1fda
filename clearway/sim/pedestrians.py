"""Grid scenarios with people on foot: sidewalks, signalised crossings and seeded walkers.

The network is netgenerate's grid (as :func:`~clearway.sim.scenario.build_grid`) with a
sidewalk on every road (``--sidewalks.guess``), a crossing over every arm of every junction
(``--crossings.guess``) and walking areas joining them (``--walkingareas``); netgenerate's
guessed signal programs then show each crossing's walk beside the parallel vehicle phase.
The walkers are SUMO persons from ``randomTrips.py --pedestrians`` (one ``<walk>`` from an edge
to another; SUMO routes it over sidewalks and crossings). Every file is made by SUMO's own
tools and cached like the vehicle scenarios (:mod:`clearway.sim.files`); nothing is downloaded.

Pedestrian detectors (:func:`write_ped_detectors`): one lane-area detector counting people
(``detectPersons="walk"``) on each sidewalk stretch leading to a signalised crossing's walking
area (:func:`clearway.network.walking.sidewalk_approaches`), the field's push button as the
twin has it. The twin reads their counts (:attr:`~clearway.state.traffic.TrafficState.person_count`)
for the pedestrian calls of actuated and max-pressure control; they name nobody.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

from clearway.errors import ConfigError, NetworkError
from clearway.network import load_network
from clearway.network.walking import APPROACH_M, sidewalk_approaches
from clearway.sim.files import ensure_dir, file_digest, file_stem, input_key, staging
from clearway.sim.scenario import (
    Load,
    Scenario,
    _cached_detectors,
    _parse_size,
    _period,
    netgenerate_grid,
    random_demand,
)
from clearway.sim.sumo_env import run_tool, tool

__all__ = [
    "PED_DETECTOR_PREFIX",
    "PEDESTRIANS_PER_HOUR_PER_JUNCTION",
    "WALK_MAX_DISTANCE_M",
    "WALK_MIN_DISTANCE_M",
    "build_ped_grid",
    "ped_grid_scenario",
    "pedestrian_demand",
    "write_ped_detectors",
]

#: Id prefix of clearway's pedestrian detectors: ``cwp_<lane id>@end|start`` (apart from the
#: vehicle detectors' ``cw_``, which the twin reads as lanes).
PED_DETECTOR_PREFIX = "cwp_"

#: People starting a walk per hour, per grid junction (count/h): 60 on a 5x5 grid is one walker
#: every 2.4 s in the whole network, a busy town centre's side streets rather than a high street.
PEDESTRIANS_PER_HOUR_PER_JUNCTION = 60.0
#: Straight-line length of a walk, at least and at most (m): people walk a few blocks, not
#: across town (randomTrips' ``--min-distance``/``--max-distance``).
WALK_MIN_DISTANCE_M = 150.0
WALK_MAX_DISTANCE_M = 700.0


def build_ped_grid(
    out_dir: str | os.PathLike[str],
    *,
    nx: int = 5,
    ny: int = 5,
    block_m: float = 200.0,
    lanes: int = 2,
    speed_mps: float = 13.89,
    seed: int = 0,
) -> Path:
    """Generate (or reuse) a signalised grid with sidewalks, crossings and walking areas.

    Parameters as :func:`~clearway.sim.scenario.build_grid` (junction counts, block length in
    m, lanes per direction, speed limit in m/s, netgenerate's seed); ``lanes`` counts the
    vehicle lanes, the sidewalk is added beside them as lane 0.

    Returns
    -------
    Path
        The ``.net.xml`` file.
    """
    return netgenerate_grid(
        out_dir, "pedgrid", nx, ny, block_m, lanes, speed_mps, seed,
        extra_args=("--sidewalks.guess", "true", "--crossings.guess", "true",
                    "--walkingareas", "true"),
        what=f"generating the {nx}x{ny} grid network with sidewalks and crossings",
    )  # fmt: skip


def pedestrian_demand(
    net_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    seed: int,
    end_s: float,
    period_s: float,
    min_distance_m: float = WALK_MIN_DISTANCE_M,
    max_distance_m: float = WALK_MAX_DISTANCE_M,
) -> Path:
    """Generate (or reuse) seeded walkers: ``randomTrips.py --pedestrians``.

    Parameters
    ----------
    net_file
        A network with sidewalks (e.g. :func:`build_ped_grid`).
    out_dir
        Folder for the file.
    seed
        randomTrips' seed: who walks where, and when.
    end_s
        Walks start in [0, end_s) (s), at random times.
    period_s
        Mean time between two walkers starting, in the whole network (s).
    min_distance_m, max_distance_m
        Straight-line length of a walk (m).

    Returns
    -------
    Path
        A routes file of ``<person>`` elements, each with one ``<walk>``.
    """
    if period_s <= 0 or end_s <= 0:
        raise ConfigError(f"walkers need period_s > 0 and end_s > 0; got {period_s}, {end_s}")
    net = Path(net_file)
    if not net.is_file():
        raise NetworkError(f"network file {net} does not exist; build it first")
    out = ensure_dir(out_dir)
    key = input_key(
        "walkers", file_digest(net), seed, end_s, period_s, min_distance_m, max_distance_m
    )
    persons = out / f"{file_stem(net)}_s{seed}_{key}.per.xml"
    if persons.is_file():
        return persons
    work = Path(tempfile.mkdtemp(prefix=".walkers-", dir=out))
    try:
        run_tool(
            [
                tool("randomTrips.py"),
                "--net-file", str(net.resolve()),
                "--output-trip-file", str(work / "persons.xml"),
                "--pedestrians",
                "--seed", str(seed),
                "--begin", "0",
                "--end", str(end_s),
                "--period", str(period_s),
                "--random-depart",
                "--min-distance", str(min_distance_m),
                "--max-distance", str(max_distance_m),
                # SUMO's ids are "0", "1" ...: give walkers their own, apart from the vehicles'.
                "--prefix", "ped",
            ],
            what=f"generating walkers on {net.name}",
            cwd=work,
        )  # fmt: skip
        os.replace(work / "persons.xml", persons)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return persons


def write_ped_detectors(
    net_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    length_m: float = APPROACH_M,
) -> Path:
    """Write (or reuse) the pedestrian detectors of a network with signalised crossings.

    One lane-area detector per sidewalk stretch leading to a crossing's walking area
    (:func:`~clearway.network.walking.sidewalk_approaches`), counting people walking on it
    (``detectPersons="walk"``), id :data:`PED_DETECTOR_PREFIX` + the stretch's approach id;
    no file output (``NUL``). A network without signalised crossings gets an empty file.

    Returns
    -------
    Path
        The ``.add.xml`` file.
    """
    net = Path(net_file)
    out = ensure_dir(out_dir)
    key = input_key("ped-detectors", file_digest(net), length_m)
    path = out / f"{file_stem(net)}_{key}.ped.add.xml"
    if path.is_file():
        return path
    lines = ["<additional>"]
    for a in sidewalk_approaches(load_network(net), length_m):
        lines.append(
            f"    <laneAreaDetector id={quoteattr(PED_DETECTOR_PREFIX + a.approach_id)} "
            f'lane={quoteattr(a.lane_id)} pos="{a.begin_m:.2f}" endPos="{a.end_m:.2f}" '
            'friendlyPos="true" detectPersons="walk" period="86400" file="NUL"/>'
        )
    lines.append("</additional>\n")
    with staging(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return path


def ped_grid_scenario(
    out_dir: str | os.PathLike[str],
    size: str = "5x5",
    seed: int = 0,
    end_s: float = 3600.0,
    load: Load = "moderate",
    *,
    block_m: float = 200.0,
    peds_per_hour_per_junction: float = PEDESTRIANS_PER_HOUR_PER_JUNCTION,
) -> Scenario:
    """A seeded grid scenario with vehicles, walkers and pedestrian detectors
    (``grid:NxM:load:peds``).

    Parameters
    ----------
    out_dir
        Cache folder for the generated files.
    size, seed, end_s, load, block_m
        As :func:`~clearway.sim.scenario.grid_scenario`: vehicle demand at the named load.
    peds_per_hour_per_junction
        Walkers starting per hour per junction (count/h, > 0).
    """
    if peds_per_hour_per_junction <= 0:
        raise ConfigError(
            f"walkers per hour per junction must be > 0, got {peds_per_hour_per_junction!r}"
        )
    nx, ny = _parse_size(size)
    net_file = build_ped_grid(out_dir, nx=nx, ny=ny, block_m=block_m)
    routes = random_demand(
        net_file, out_dir, seed=seed, end_s=end_s, period_s=_period(load, nx, ny)
    )
    walk_period_s = round(3600.0 / (peds_per_hour_per_junction * nx * ny), 4)
    persons = pedestrian_demand(net_file, out_dir, seed=seed, end_s=end_s, period_s=walk_period_s)
    label = load if isinstance(load, str) else f"p{_period(load, nx, ny):g}s"
    return Scenario(
        name=f"grid{nx}x{ny}-{label}-peds-s{seed}",
        net_file=net_file,
        route_files=(routes, persons),
        additional_files=(write_ped_detectors(net_file, out_dir),),
        detector_file=_cached_detectors(net_file, out_dir),
        seed=seed,
        end_s=float(end_s),
    )
