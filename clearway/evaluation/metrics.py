"""Network-wide figures from SUMO's per-vehicle trip output (``--tripinfo-output``).

The twin starts SUMO with ``--tripinfo-output.write-undeparted true``, so the file holds every
vehicle of the demand: arrived, still driving at the end (``arrival="-1"``) and never inserted
(``depart="-1"``, with the time it has been waiting as ``departDelay``). Without the last two
the vehicles hurt most by a strategy would vanish from its delay figures.

Teleports are not in this file; the twin counts them (:attr:`SumoTwin.teleports`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from clearway.errors import SimulationError


@dataclass(frozen=True, slots=True)
class TripStats:
    """Figures of one run, over every vehicle in a tripinfo file.

    Attributes
    ----------
    vehicles
        Vehicles in the file (count).
    arrived
        Vehicles that reached their destination (count).
    departed
        Vehicles that entered the network, arrived or not (count).
    undeparted
        Vehicles never inserted by the end, e.g. because their entry was blocked (count).
    unfinished
        Vehicles that entered but had not arrived by the end (count).
    mean_time_loss_s, p95_time_loss_s
        Mean and 95th percentile of the time lost against driving at the desired speed (s),
        over every vehicle as SUMO writes it: for unfinished vehicles up to the end, for
        never-inserted ones 0 (their wait is in ``mean_depart_delay_s``). ``nan`` when empty.
    mean_travel_time_s
        Mean trip duration of the vehicles that arrived (s); ``nan`` when none did.
    mean_depart_delay_s
        Mean wait between the planned and the actual insertion, over every vehicle; for
        never-inserted ones the wait up to the end (s). ``nan`` when empty.
    """

    vehicles: int
    arrived: int
    departed: int
    undeparted: int
    unfinished: int
    mean_time_loss_s: float
    p95_time_loss_s: float
    mean_travel_time_s: float
    mean_depart_delay_s: float


def tripinfo_records(path: str | os.PathLike[str]) -> Iterator[Mapping[str, str]]:
    """The attributes of every ``<tripinfo>`` of a SUMO tripinfo file, in file order.

    Parses incrementally and drops each vehicle from the tree once yielded, so city-scale files
    with hundreds of thousands of vehicles take little memory.

    Raises
    ------
    SimulationError
        If the file is missing or not valid XML (e.g. SUMO is still writing it).
    """
    p = Path(path)
    try:
        root = None
        for event, elem in ElementTree.iterparse(p, events=("start", "end")):
            if root is None:
                root = elem
            if event == "start" or elem.tag != "tripinfo":
                continue
            yield dict(elem.attrib)
            # Drop the parsed vehicle from the tree too, not only its attributes.
            root.clear()
    except FileNotFoundError:
        raise SimulationError(
            f"tripinfo file {p} not found; run the simulation with a tripinfo path and close it"
        ) from None
    except ElementTree.ParseError as exc:
        raise SimulationError(
            f"tripinfo file {p} is not complete XML ({exc}); close the simulation before reading"
        ) from None


def read_tripinfo(path: str | os.PathLike[str]) -> TripStats:
    """Summarise a SUMO tripinfo file (read incrementally, :func:`tripinfo_records`).

    Parameters
    ----------
    path
        The ``--tripinfo-output`` file, after the simulation was closed.

    Returns
    -------
    TripStats

    Raises
    ------
    SimulationError
        If the file is missing or not valid XML (e.g. SUMO is still writing it).
    """
    time_loss: list[float] = []
    depart_delay: list[float] = []
    durations: list[float] = []
    departed = undeparted = 0
    for a in tripinfo_records(path):
        time_loss.append(float(a.get("timeLoss", 0.0)))
        depart_delay.append(float(a.get("departDelay", 0.0)))
        if float(a.get("depart", -1.0)) < 0:
            undeparted += 1
        else:
            departed += 1
            # SUMO writes arrival="-1" for vehicles still driving at the end.
            if float(a.get("arrival", -1.0)) >= 0:
                durations.append(float(a.get("duration", 0.0)))
    loss = np.asarray(time_loss, dtype=float)
    return TripStats(
        vehicles=len(time_loss),
        arrived=len(durations),
        departed=departed,
        undeparted=undeparted,
        unfinished=departed - len(durations),
        mean_time_loss_s=_mean(loss),
        p95_time_loss_s=float(np.percentile(loss, 95)) if loss.size else float("nan"),
        mean_travel_time_s=_mean(np.asarray(durations, dtype=float)),
        mean_depart_delay_s=_mean(np.asarray(depart_delay, dtype=float)),
    )


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
