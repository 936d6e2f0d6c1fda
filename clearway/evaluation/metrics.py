"""Network-wide figures from SUMO's per-vehicle trip output (``--tripinfo-output``).

The twin starts SUMO with ``--tripinfo-output.write-undeparted true``, so the file holds every
vehicle of the demand: arrived, still driving at the end (``arrival="-1"``) and never inserted
(``depart="-1"``, with the time it has been waiting as ``departDelay``). Without the last two
the vehicles hurt most by a strategy would vanish from its delay figures.

People on foot (SUMO persons) are in the same file as ``<personinfo>``, once they arrived
(:func:`read_personinfo`: their count and mean time loss, nothing per person).

Teleports are not in this file; the twin counts them (:attr:`SumoTwin.teleports`).

For reports, :func:`others_distribution` condenses the non-priority vehicles of a file into a
few hundred bytes: fixed time-loss quantiles, a histogram with fixed bin edges (so runs and
seeds pool by adding counts) and arrivals per fixed interval (throughput over time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterator, Mapping
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


@dataclass(frozen=True, slots=True)
class PersonStats:
    """Pedestrians of one run, from a tripinfo file's ``<personinfo>`` elements.

    Attributes
    ----------
    persons
        People who finished their walk by the end (count); SUMO writes no others.
    mean_time_loss_s
        Their mean time loss against walking unhindered at their own speed (s): SUMO's
        ``timeLoss`` of the person (the sum over its walks: waiting at red crossings, in
        crowds); ``nan`` when nobody walked.
    """

    persons: int
    mean_time_loss_s: float


def read_personinfo(path: str | os.PathLike[str]) -> PersonStats:
    """Count and mean time loss of the persons in a tripinfo file (read incrementally).

    Only these two aggregates leave the function: no person id, route or time is kept.

    Raises
    ------
    SimulationError
        If the file is missing or not valid XML.
    """
    p = Path(path)
    n = 0
    total_s = 0.0
    try:
        root = None
        for event, elem in ElementTree.iterparse(p, events=("start", "end")):
            if root is None:
                root = elem
            if event == "end" and elem.tag == "personinfo":
                # Written unfinished (duration -1, time loss 0) only with write-unfinished.
                if float(elem.get("duration", 0.0)) >= 0:
                    n += 1
                    total_s += float(elem.get("timeLoss", 0.0))
                root.clear()
    except FileNotFoundError:
        raise SimulationError(
            f"tripinfo file {p} not found; run the simulation with a tripinfo path and close it"
        ) from None
    except ElementTree.ParseError as exc:
        raise SimulationError(
            f"tripinfo file {p} is not complete XML ({exc}); close the simulation before reading"
        ) from None
    return PersonStats(persons=n, mean_time_loss_s=total_s / n if n else float("nan"))


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


#: Quantiles of the time loss a distribution keeps (percent); ``max`` is added.
TIME_LOSS_PERCENTILES = (5, 10, 25, 50, 75, 90, 95, 99)
#: Lower edges of the time-loss histogram bins (s); the last bin is open (>= 3600 s). Fixed, so
#: the histograms of any runs add up; finer where most vehicles are (a few seconds to minutes).
TIME_LOSS_EDGES_S = (
    0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0,
    450.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
)  # fmt: skip
#: Width of the throughput intervals (s).
THROUGHPUT_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class TimeLossDistribution:
    """Distribution of the time loss of a set of vehicles (as SUMO writes it, see TripStats).

    Attributes
    ----------
    vehicles
        Vehicles counted.
    quantiles_s
        ``"p5"`` … ``"p99"`` (:data:`TIME_LOSS_PERCENTILES`, linear interpolation as numpy) and
        ``"max"`` (s); empty when there is no vehicle.
    edges_s
        Lower bin edges (s), :data:`TIME_LOSS_EDGES_S`.
    counts
        Vehicles per bin: ``counts[i]`` in ``[edges_s[i], edges_s[i+1])``, the last bin open.
    """

    vehicles: int
    quantiles_s: Mapping[str, float]
    edges_s: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Throughput:
    """Arrivals per fixed interval from the run's begin ``b`` (0 unless it began later).

    Attributes
    ----------
    interval_s
        Width of an interval (s).
    arrivals
        ``arrivals[k]``: vehicles that reached their destination in
        ``[b + k * interval_s, b + (k + 1) * interval_s)`` (count).
    """

    interval_s: float
    arrivals: tuple[int, ...]


def time_loss_distribution(time_loss_s: Collection[float]) -> TimeLossDistribution:
    """Quantiles and fixed-edge histogram of ``time_loss_s`` (s)."""
    loss = np.asarray(list(time_loss_s), dtype=float)
    quantiles: dict[str, float] = {}
    if loss.size:
        values = np.percentile(loss, TIME_LOSS_PERCENTILES)
        quantiles = {f"p{p}": float(v) for p, v in zip(TIME_LOSS_PERCENTILES, values, strict=True)}
        quantiles["max"] = float(loss.max())
    edges = np.asarray(TIME_LOSS_EDGES_S)
    # SUMO never writes a negative time loss; clip anyway so every vehicle lands in a bin.
    bins = np.clip(np.searchsorted(edges, loss, side="right") - 1, 0, len(edges) - 1)
    counts = np.bincount(bins, minlength=len(edges))
    return TimeLossDistribution(
        vehicles=int(loss.size),
        quantiles_s=quantiles,
        edges_s=TIME_LOSS_EDGES_S,
        counts=tuple(int(c) for c in counts),
    )


def throughput(
    arrivals_s: Collection[float],
    duration_s: float,
    interval_s: float = THROUGHPUT_INTERVAL_S,
    *,
    begin_s: float = 0.0,
) -> Throughput:
    """Arrivals per ``interval_s`` over ``[begin_s, begin_s + duration_s)`` (simulation times,
    s), more intervals if any arrive later."""
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    times = [t - begin_s for t in arrivals_s if t >= begin_s]
    last = max(times, default=0.0)
    n = max(math.ceil(duration_s / interval_s), int(last // interval_s) + 1 if times else 0)
    counts = [0] * n
    for t in times:
        counts[int(t // interval_s)] += 1
    return Throughput(interval_s=interval_s, arrivals=tuple(counts))


def others_distribution(
    path: str | os.PathLike[str],
    exclude_ids: Collection[str],
    duration_s: float,
    interval_s: float = THROUGHPUT_INTERVAL_S,
    *,
    begin_s: float = 0.0,
) -> tuple[TimeLossDistribution, Throughput]:
    """Time-loss distribution and throughput of every vehicle of a tripinfo file but ``exclude_ids``.

    Every vehicle counts in the distribution as :func:`read_tripinfo` counts it (unfinished ones
    up to the end, never-inserted ones with 0); only arrived ones in the throughput, in
    intervals from the run's begin ``begin_s`` (s).

    Raises
    ------
    SimulationError
        If the file is missing or not valid XML.
    """
    excluded = set(exclude_ids)
    losses: list[float] = []
    arrivals: list[float] = []
    for a in tripinfo_records(path):
        if a.get("id", "") in excluded:
            continue
        losses.append(float(a.get("timeLoss", 0.0)))
        arrival = float(a.get("arrival", -1.0))
        if arrival >= 0:
            arrivals.append(arrival)
    return time_loss_distribution(losses), throughput(
        arrivals, duration_s, interval_s, begin_s=begin_s
    )


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
