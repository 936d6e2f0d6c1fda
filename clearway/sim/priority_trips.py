"""Priority trips in SUMO: emergency vehicles and convoys on explicit routes.

A :class:`PriorityTrip` is one emergency vehicle, or a convoy of ``vehicle_count`` vehicles
leaving one after the other, on an explicit edge route — the route clearway's own router plans
(:func:`clearway.network.routing.fastest_route`), so SUMO's vehicle drives exactly the route
the controller plans for. They are written as a SUMO route file plus a vType additional file
and added to a :class:`~clearway.sim.scenario.Scenario` by :func:`with_priority_trips`.

The vehicle type draws no random numbers (``sigma=0``, ``speedFactor=1``, ``speedDev=0``): a
dawdling draw would shift SUMO's random streams for every other vehicle, so a run with the
trip could not be compared vehicle by vehicle with the same-seed run without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import quoteattr

from clearway.errors import ConfigError
from clearway.network import load_network
from clearway.sim.files import ensure_dir, file_digest, input_key, staging
from clearway.sim.scenario import Scenario

#: SUMO vType id of every priority vehicle.
PRIORITY_VTYPE_ID = "cw_priority"
#: Length of a priority vehicle (m): SUMO's default for vClass ``emergency``, set explicitly so
#: a convoy's length is known to the request.
VEHICLE_LENGTH_M = 6.5
#: Gap kept to the vehicle ahead when standing (m), SUMO's default.
MIN_GAP_M = 2.5
#: Default time between two convoy vehicles leaving (s): a tight but safe platoon.
CONVOY_HEADWAY_S = 1.5
#: ``jmDriveAfterRedTime`` of the free-flow type (s): a red shown for less than this is driven
#: through, i.e. every red within any run (SUMO: "violate a red light if the duration of the
#: red phase is lower than the given threshold"); ``jmDriveRedSpeed`` stays at its default,
#: the vehicle's maximum speed, so it does not even slow down.
IGNORE_RED_S = 1e7

_ID = re.compile(r"^[A-Za-z0-9_\-]{1,48}$")


@dataclass(frozen=True, slots=True)
class PriorityTrip:
    """One emergency vehicle or convoy on an explicit route.

    Attributes
    ----------
    trip_id
        Id of the trip; the vehicle id of a single vehicle, ``<trip_id>.<k>`` for convoy
        vehicle ``k`` (letters, digits, ``_`` and ``-``).
    edges
        Road edge ids in driving order.
    depart_s
        Departure of the (first) vehicle (s).
    role
        J2735 role (``ambulance``, ``fire``, ``police``, ``convoy`` ...).
    importance
        J2735 importance level 0-15.
    vehicle_count
        Vehicles in the trip (1 for a single vehicle).
    headway_s
        Time between two convoy vehicles leaving (s).
    """

    trip_id: str
    edges: tuple[str, ...]
    depart_s: float
    role: str = "ambulance"
    importance: int = 12
    vehicle_count: int = 1
    headway_s: float = CONVOY_HEADWAY_S

    def __post_init__(self) -> None:
        if not _ID.match(self.trip_id):
            raise ConfigError(
                f"priority trip id {self.trip_id!r} must be 1-48 letters, digits, '_' or '-'"
            )
        if not self.edges:
            raise ConfigError(f"priority trip {self.trip_id!r} needs at least one edge")
        if not self.depart_s >= 0:
            raise ConfigError(f"priority trip {self.trip_id!r}: depart_s must be >= 0 s")
        if not 1 <= self.vehicle_count <= 200:
            raise ConfigError(
                f"priority trip {self.trip_id!r}: vehicle_count must be 1-200, "
                f"got {self.vehicle_count}"
            )
        if not self.headway_s > 0:
            raise ConfigError(f"priority trip {self.trip_id!r}: headway_s must be positive")

    @property
    def is_convoy(self) -> bool:
        """True for more than one vehicle."""
        return self.vehicle_count > 1

    @property
    def vehicle_ids(self) -> tuple[str, ...]:
        """SUMO ids of the trip's vehicles, lead first."""
        if not self.is_convoy:
            return (self.trip_id,)
        return tuple(f"{self.trip_id}.{k}" for k in range(self.vehicle_count))

    @property
    def lead_id(self) -> str:
        """The vehicle that asks for priority (a convoy's first)."""
        return self.vehicle_ids[0]

    @property
    def tail_id(self) -> str:
        """The last vehicle (the lead itself for a single vehicle)."""
        return self.vehicle_ids[-1]

    def depart_times_s(self) -> tuple[float, ...]:
        """Planned departure of each vehicle (s), lead first."""
        return tuple(self.depart_s + k * self.headway_s for k in range(self.vehicle_count))

    def platoon_length_m(self, cruise_speed_mps: float) -> float:
        """Front of the first to rear of the last vehicle at ``cruise_speed_mps`` (m/s) (m)."""
        return (self.vehicle_count - 1) * self.headway_s * cruise_speed_mps + VEHICLE_LENGTH_M


def write_priority_routes(trips: Sequence[PriorityTrip], path: str | os.PathLike[str]) -> Path:
    """Write the trips' vehicles as a SUMO route file (sorted by departure, as SUMO wants).

    Vehicles enter on the best lane at full speed, as a vehicle arriving from outside does.
    """
    rows: list[tuple[float, str]] = []
    for trip in trips:
        edges = quoteattr(" ".join(trip.edges))
        for vid, depart in zip(trip.vehicle_ids, trip.depart_times_s(), strict=True):
            rows.append(
                (
                    depart,
                    f'    <vehicle id={quoteattr(vid)} type="{PRIORITY_VTYPE_ID}" '
                    f'depart="{depart:.2f}" departLane="best" departSpeed="max">\n'
                    f"        <route edges={edges}/>\n    </vehicle>\n",
                )
            )
    rows.sort(key=lambda r: r[0])
    out = Path(path)
    with staging(out) as tmp:
        tmp.write_text("<routes>\n" + "".join(r for _, r in rows) + "</routes>\n", encoding="utf-8")
    return out


def write_priority_vtype(
    path: str | os.PathLike[str],
    *,
    bluelight: bool = False,
    ignore_red: bool = False,
    demand_scale: float = 1.0,
) -> Path:
    """Write the priority vehicles' vType as a SUMO additional file.

    Parameters
    ----------
    path
        The file to write.
    bluelight
        Equip the type with SUMO's blue-light device (others form a rescue lane; the vehicle
        itself then drives through red).
    ignore_red
        Drive through every red at full speed and into junctions that cannot be cleared (the
        free-flow reference run).
    demand_scale
        The run's SUMO ``--scale``. SUMO multiplies it with a vType's ``scale``, so the type
        gets the inverse: exactly one vehicle per priority trip vehicle at any demand scale.
    """
    attrs = (
        f'id="{PRIORITY_VTYPE_ID}" vClass="emergency" guiShape="emergency" '
        f'length="{VEHICLE_LENGTH_M}" minGap="{MIN_GAP_M}" '
        'speedFactor="1" speedDev="0" sigma="0"'
    )
    if demand_scale != 1.0:
        # SUMO's quota of copies is deterministic and rounds a product within 0.0005 of 1 to
        # exactly one vehicle (checked with sumo 1.28 for scales 0.3 ... 7).
        attrs += f' scale="{1.0 / demand_scale!r}"'
    if ignore_red:
        attrs += f' jmDriveAfterRedTime="{IGNORE_RED_S:g}" jmIgnoreKeepClearTime="0"'
    body = f"    <vType {attrs}>\n"
    if bluelight:
        body += '        <param key="has.bluelight.device" value="true"/>\n'
    body += "    </vType>\n"
    out = Path(path)
    with staging(out) as tmp:
        tmp.write_text(f"<additional>\n{body}</additional>\n", encoding="utf-8")
    return out


def with_priority_trips(
    scenario: Scenario,
    trips: Sequence[PriorityTrip],
    out_dir: str | os.PathLike[str],
    *,
    bluelight: bool = False,
) -> Scenario:
    """``scenario`` with the trips' vehicles and their vType added (files written to ``out_dir``).

    File names carry a hash of the trips, so scenarios with other trips never share files.
    """
    if not trips:
        return scenario
    out = ensure_dir(out_dir)
    scale = scenario.demand_scale
    key = input_key("priority-trips", [_trip_key(t) for t in trips], bluelight, scale)
    routes = write_priority_routes(trips, out / f"priority_{key}.rou.xml")
    vtype = write_priority_vtype(
        out / f"priority_{key}.vtype.add.xml", bluelight=bluelight, demand_scale=scale
    )
    ids = [v for t in trips for v in t.vehicle_ids]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"priority trips share vehicle ids: {sorted(ids)}; give each its own id")
    return replace(
        scenario,
        name=f"{scenario.name}+priority",
        route_files=(*scenario.route_files, routes),
        additional_files=(vtype, *scenario.additional_files),
    )


def free_flow_scenario(
    net_file: str | os.PathLike[str],
    trips: Sequence[PriorityTrip],
    out_dir: str | os.PathLike[str],
    *,
    end_s: float,
    ignore_red: bool = True,
) -> Scenario:
    """The trips alone on an empty network with every signal green (free-flow reference).

    Every signal runs a one-phase all-green program (:func:`write_all_green_programs`) and the
    vType would drive through red anyway (``jmDriveAfterRedTime``; ``jmIgnoreKeepClearTime=0``
    so that it also enters a junction cluster whose next signal is red — without it SUMO's
    vehicle stops in front of such clusters to keep them clear). ``ignore_red=False`` runs the
    same vehicles with the net's own programs and a type that stops at red (to compare).
    """
    out = ensure_dir(out_dir)
    key = input_key("free-flow", [_trip_key(t) for t in trips], ignore_red)
    routes = write_priority_routes(trips, out / f"freeflow_{key}.rou.xml")
    vtype = write_priority_vtype(out / f"freeflow_{key}.vtype.add.xml", ignore_red=ignore_red)
    adds: tuple[Path, ...] = (vtype,)
    if ignore_red:
        adds += (write_all_green_programs(net_file, out),)
    return Scenario(
        name="free-flow" if ignore_red else "alone-stopping-at-red",
        net_file=Path(net_file).resolve(),
        route_files=(routes,),
        additional_files=adds,
        detector_file=None,
        seed=0,
        end_s=float(end_s),
    )


def write_all_green_programs(net_file: str | os.PathLike[str], out_dir: Path) -> Path:
    """An additional file giving every traffic light a one-phase all-``G`` program (cached).

    SUMO runs the program loaded last, so with this file no signal ever shows red or yellow.
    Only for the free-flow run: the priority vehicle is alone, so conflicting greens meet
    nobody.
    """
    net = Path(net_file)
    path = out_dir / f"allgreen_{input_key('all-green', file_digest(net))}.add.xml"
    if path.is_file():
        return path
    lights = load_network(net).traffic_lights.values()
    body = "".join(
        f'    <tlLogic id={quoteattr(tl.id)} programID="cw_all_green" offset="0" type="static">\n'
        f'        <phase duration="86400" state="{"G" * tl.link_count}"/>\n'
        "    </tlLogic>\n"
        for tl in lights
        if tl.link_count > 0
    )
    with staging(path) as tmp:
        tmp.write_text(f"<additional>\n{body}</additional>\n", encoding="utf-8")
    return path


def _trip_key(trip: PriorityTrip) -> list[object]:
    return [
        trip.trip_id, list(trip.edges), trip.depart_s, trip.role, trip.importance,
        trip.vehicle_count, trip.headway_s,
    ]  # fmt: skip
