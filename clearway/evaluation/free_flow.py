"""Free-flow travel time of priority trips: same route, same vehicle type, empty network.

One plain ``sumo`` run (no control loop, no other vehicle) with the trips alone. Their vType
drives through red at full speed (``jmDriveAfterRedTime``, see
:data:`clearway.sim.priority_trips.IGNORE_RED_S`), so the time is the road's own: lengths,
speed limits, turns and acceleration — what the signals could at best give back.

Each run begins at its trip's departure (SUMO ``--begin``), not at 0: a trip leaving at 07:00
does not step seven empty hours first. SUMO's signal programs run on absolute time, so where
the run begins changes nothing the trip meets.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.evaluation.priority_metrics import read_vehicle_trips, trip_outcome
from clearway.sim.launch import sumo_command
from clearway.sim.priority_trips import PriorityTrip, free_flow_scenario
from clearway.sim.sumo_env import run_tool

#: Time allowed after the last departure for the free-flow run (s); a trip still driving by
#: then is reported as not finished.
FREE_FLOW_HORIZON_S = 7200.0


@dataclass(frozen=True, slots=True)
class FreeFlow:
    """A trip on the empty network.

    Attributes
    ----------
    trip_id
        The trip.
    time_s
        Lead's departure to the last vehicle's arrival (s); ``nan`` if it did not arrive.
    stops
        Times a vehicle of the trip halted (0 expected: nothing stops it).
    """

    trip_id: str
    time_s: float
    stops: int


def free_flow_times(
    net_file: str | os.PathLike[str],
    trips: Sequence[PriorityTrip],
    out_dir: str | os.PathLike[str],
    *,
    ignore_red: bool = True,
) -> dict[str, FreeFlow]:
    """Run the trips alone on the network and time them.

    Parameters
    ----------
    net_file
        The network.
    trips
        The priority trips (each run alone).
    out_dir
        Where the route, vType and tripinfo files go.
    ignore_red
        Drive through red (the free-flow definition); ``False`` only to show the difference.

    Returns
    -------
    dict
        Trip id -> :class:`FreeFlow`.

    Raises
    ------
    SimulationError
        If SUMO fails.
    """
    out = Path(out_dir)
    result = {}
    for trip in trips:
        # Each trip alone: trips that meet at a junction (by design, in the crossing scenario)
        # must not delay each other here.
        end_s = trip.depart_times_s()[-1] + FREE_FLOW_HORIZON_S
        scenario = free_flow_scenario(net_file, [trip], out, end_s=end_s, ignore_red=ignore_red)
        scenario = replace(scenario, begin_s=float(math.floor(trip.depart_s)))
        tag = "free-flow" if ignore_red else "stops-at-red"
        tripinfo = (out / f"{tag}-{scenario.route_files[0].name}.tripinfo.xml").resolve()
        log = tripinfo.with_name(tripinfo.name + ".log")
        run_tool(
            sumo_command(scenario, 1.0, tripinfo, log),
            what=f"the free-flow run of priority trip {trip.trip_id!r}",
        )
        vehicles, _ = read_vehicle_trips(tripinfo, trip.vehicle_ids)
        o = trip_outcome(trip, vehicles)
        result[trip.trip_id] = FreeFlow(trip.trip_id, o.travel_time_s, o.stops)
    return result
