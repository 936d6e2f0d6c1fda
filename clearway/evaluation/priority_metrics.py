"""What free passage achieved and what it cost, from SUMO's outputs of paired runs.

Per priority trip (from ``--tripinfo-output``): travel time from the lead's departure to the
last vehicle's arrival, stops (SUMO's ``waitingCount``: times the vehicle came to a halt; for a
convoy the most any of its vehicles made). Per run, for every *other* vehicle: the sum of time
loss and insertion delay, compared with the same-seed run without the priority trip
(:func:`extra_delay_veh_h`), and mean / 95th-percentile time loss. Per cross street (from
``edgeData``): SUMO's summed time loss, again against the reference run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from clearway.evaluation.metrics import tripinfo_records
from clearway.sim.priority_trips import PriorityTrip


@dataclass(frozen=True, slots=True)
class VehicleTrip:
    """One vehicle's ``<tripinfo>`` (times in s; ``arrival_s`` is ``nan`` if it never arrived)."""

    vehicle_id: str
    depart_s: float
    arrival_s: float
    time_loss_s: float
    depart_delay_s: float
    waiting_count: int


@dataclass(frozen=True, slots=True)
class OthersDelay:
    """Delay of every vehicle that is not a priority vehicle.

    Attributes
    ----------
    vehicles
        Vehicles counted (departed, driving or waiting to be inserted).
    total_delay_s
        Sum of time loss and insertion delay (s).
    mean_time_loss_s, p95_time_loss_s
        Mean and 95th percentile of time loss (s); ``nan`` when there is no vehicle.
    """

    vehicles: int
    total_delay_s: float
    mean_time_loss_s: float
    p95_time_loss_s: float


@dataclass(frozen=True, slots=True)
class TripOutcome:
    """How one priority trip went.

    Attributes
    ----------
    trip_id
        The trip.
    arrived
        True if every vehicle of the trip reached its destination.
    travel_time_s
        Lead's departure to the last vehicle's arrival (s); ``nan`` if not all arrived.
    depart_delay_s
        Lead's wait between planned and actual departure (s); ``nan`` if never inserted.
    stops
        Times a vehicle of the trip came to a halt; the most of any convoy vehicle.
    """

    trip_id: str
    arrived: bool
    travel_time_s: float
    depart_delay_s: float
    stops: int


def read_vehicle_trips(
    path: str | os.PathLike[str], vehicle_ids: Iterable[str]
) -> tuple[dict[str, VehicleTrip], OthersDelay]:
    """The ``<tripinfo>`` of ``vehicle_ids`` and the delay of all the others, in one pass.

    Raises
    ------
    SimulationError
        If the file is missing or not complete XML (close the simulation first).
    """
    wanted = set(vehicle_ids)
    found: dict[str, VehicleTrip] = {}
    total = 0.0
    losses: list[float] = []
    for a in tripinfo_records(path):
        vid = a.get("id", "")
        loss = float(a.get("timeLoss", 0.0))
        delay = float(a.get("departDelay", 0.0))
        if vid in wanted:
            arrival = float(a.get("arrival", -1.0))
            found[vid] = VehicleTrip(
                vehicle_id=vid,
                depart_s=float(a.get("depart", -1.0)),
                arrival_s=arrival if arrival >= 0 else math.nan,
                time_loss_s=loss,
                depart_delay_s=delay,
                waiting_count=int(a.get("waitingCount", 0)),
            )
        else:
            total += loss + delay
            losses.append(loss)
    arr = np.asarray(losses, dtype=float)
    others = OthersDelay(
        vehicles=arr.size,
        total_delay_s=total,
        mean_time_loss_s=float(arr.mean()) if arr.size else math.nan,
        p95_time_loss_s=float(np.percentile(arr, 95)) if arr.size else math.nan,
    )
    return found, others


def trip_outcome(trip: PriorityTrip, vehicles: Mapping[str, VehicleTrip]) -> TripOutcome:
    """Travel time and stops of ``trip`` from its vehicles' tripinfo.

    A vehicle missing from ``vehicles`` or never inserted counts as not arrived.
    """
    rows = [vehicles.get(v) for v in trip.vehicle_ids]
    lead = rows[0]
    inserted = lead is not None and lead.depart_s >= 0
    arrived = all(r is not None and not math.isnan(r.arrival_s) for r in rows)
    travel = math.nan
    if arrived and inserted:
        travel = max(r.arrival_s for r in rows if r is not None) - lead.depart_s  # type: ignore[union-attr]
    return TripOutcome(
        trip_id=trip.trip_id,
        arrived=arrived and inserted,
        travel_time_s=travel,
        depart_delay_s=lead.depart_delay_s if inserted else math.nan,  # type: ignore[union-attr]
        stops=max((r.waiting_count for r in rows if r is not None), default=0),
    )


def extra_delay_veh_h(run_total_s: float, reference_total_s: float) -> float:
    """Extra delay of a run against its reference (vehicle-hours; negative = less delay)."""
    return (run_total_s - reference_total_s) / 3600.0


def cross_streets(
    net_edges_into: Mapping[str, Iterable[str]],
    junctions: Iterable[str],
    route_edges: Iterable[str],
) -> tuple[str, ...]:
    """Approach edges into ``junctions`` that no priority route uses (sorted).

    Parameters
    ----------
    net_edges_into
        Road edges ending at each junction (junction id -> edge ids).
    junctions
        The signalised junctions the priority routes cross.
    route_edges
        Every edge of every priority route.
    """
    used = set(route_edges)
    return tuple(sorted({e for j in junctions for e in net_edges_into.get(j, ()) if e not in used}))


def median(values: Iterable[float | int | None]) -> float | None:
    """Median of the finite values, ``None`` when there is none."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.median(xs)) if xs else None
