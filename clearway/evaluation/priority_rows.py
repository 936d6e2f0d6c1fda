"""Turning paired runs into the documented result rows (docs/evaluation.md).

One row per strategy and seed: the priority trips' travel time against free flow, their stops,
what everyone else lost against the same-seed reference run without the trips, recovery
times and the safety counters. Medians per strategy over the seeds.

A ``--jsonl`` line (:func:`run_line`) also carries what ``clearway report`` draws, compactly:
the others' time-loss quantiles and histogram, their arrivals per minute, and (strategy runs)
each trip's trace cut to the time its vehicles were on the road, the trajectory simplified to
the points needed to redraw it within :data:`TRACE_TOLERANCE_M` and every signal's aspect as
its changes (:func:`compact_trace`, :func:`expand_trace`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from clearway.evaluation.free_flow import FreeFlow
from clearway.evaluation.priority_metrics import extra_delay_veh_h, median
from clearway.evaluation.priority_run import RunMeasures
from clearway.evaluation.trace import SignalOnRoute, Trace
from clearway.sim.priority_trips import PriorityTrip

#: Largest vertical gap between a compact trajectory and the recorded one (m).
TRACE_TOLERANCE_M = 1.0
#: At most this many points per compact trajectory: the tolerance doubles until it fits.
TRACE_MAX_POINTS = 200
#: Time kept before the trip's vehicles are first seen and after they are last seen (s), as
#: the time-space diagram shows it.
TRACE_MARGIN_S = 10.0

#: Fields of a row that get a median per strategy, in table order.
MEDIAN_FIELDS = (
    "priority_travel_time_s",
    "free_flow_time_s",
    "ratio",
    "stops",
    "others_extra_delay_veh_h",
    "cross_street_extra_delay_veh_h",
    "others_extra_delay_estimate_veh_h",
    "mean_time_loss_s",
    "p95_time_loss_s",
    "ped_time_loss_s",
    "time_to_recover_s",
    "time_to_recover_max_s",
    "safety_violations",
    "guard_rejections",
    "teleports",
    "wall_s",
)


def strategy_row(
    scenario: str,
    run: RunMeasures,
    reference: RunMeasures | None,
    trips: Sequence[PriorityTrip],
    free_flow: Mapping[str, FreeFlow],
) -> dict:
    """The row of one strategy run, paired with its same-seed reference run.

    With several trips the top-level travel time, free-flow time and ratio are means over the
    trips and ``stops`` the most of any trip; ``trips`` has each one. Without a reference
    (``None``: it failed, or has not finished yet) the two extra-delay fields are ``None``.
    """
    per_trip = []
    for trip, outcome in zip(trips, run.trips, strict=True):
        ff = free_flow[trip.trip_id].time_s
        per_trip.append(
            {
                "trip_id": trip.trip_id,
                "role": trip.role,
                "vehicles": trip.vehicle_count,
                "arrived": outcome.arrived,
                "priority_travel_time_s": _r(outcome.travel_time_s),
                "free_flow_time_s": _r(ff),
                "ratio": _r(outcome.travel_time_s / ff if ff > 0 else math.nan, 3),
                "stops": outcome.stops,
                "depart_delay_s": _r(outcome.depart_delay_s),
            }
        )
    recover = run.recoveries_s
    return {
        "scenario": scenario,
        "strategy": run.strategy,
        "seed": run.seed,
        "priority_travel_time_s": _mean(t["priority_travel_time_s"] for t in per_trip),
        "free_flow_time_s": _mean(t["free_flow_time_s"] for t in per_trip),
        "ratio": _mean((t["ratio"] for t in per_trip), 3),
        "stops": max((t["stops"] for t in per_trip), default=0),
        "priority_arrived": all(t["arrived"] for t in per_trip),
        "others_extra_delay_veh_h": None
        if reference is None
        else _r(extra_delay_veh_h(run.others.total_delay_s, reference.others.total_delay_s), 4),
        "cross_street_extra_delay_veh_h": None
        if reference is None
        else _r(extra_delay_veh_h(run.cross_time_loss_s, reference.cross_time_loss_s), 4),
        # What the live service would estimate from detector queues at the held junctions
        # (hold_cost), beside the delay measured on every vehicle above.
        "others_extra_delay_estimate_veh_h": _r(run.others_delay_estimate_veh_h, 4),
        "mean_time_loss_s": _r(run.others.mean_time_loss_s),
        "p95_time_loss_s": _r(run.others.p95_time_loss_s),
        **_pedestrian_fields(run),
        "time_to_recover_s": _r(median(recover)),
        "time_to_recover_max_s": _r(max(recover) if recover else None),
        "recoveries": len(recover),
        "requests_completed": run.requests_completed,
        "safety_violations": run.safety_violations,
        "guard_rejections": run.guard_rejections,
        "teleports": run.teleports,
        "wall_s": _r(run.wall_s),
        # AVL reports taken and lost (null: the exact feed).
        "avl_reports": run.avl_reports,
        "trips": per_trip,
    }


def run_line(
    scenario: str,
    label: str,
    run: RunMeasures,
    trips: Sequence[PriorityTrip],
    free_flow: Mapping[str, FreeFlow],
) -> dict:
    """What one run measured on its own, as soon as it finished (a ``--jsonl`` line's body).

    A reference run gives its :func:`reference_row`; a strategy run its :func:`strategy_row`
    without the two extra-delay fields (they need the reference, which may not have finished)
    but with the raw totals they are computed from: extra delay = this run's total minus the
    same-seed reference run's.
    """
    if label == "reference":
        return {"label": label, **reference_row(scenario, run)}
    row = strategy_row(scenario, run, None, trips, free_flow)
    del row["others_extra_delay_veh_h"], row["cross_street_extra_delay_veh_h"]
    row["others_total_delay_veh_h"] = _r(run.others.total_delay_s / 3600.0, 4)
    row["cross_street_time_loss_veh_h"] = _r(run.cross_time_loss_s / 3600.0, 4)
    row.update(_distribution_fields(run))
    row["traces"] = [compact_trace(t) for t in run.traces]
    return {"label": label, **row}


def reference_row(scenario: str, ref: RunMeasures) -> dict:
    """What the reference run (same seed, no priority trip) measured."""
    return {
        "scenario": scenario,
        "seed": ref.seed,
        "strategy": ref.strategy,
        "others_total_delay_veh_h": _r(ref.others.total_delay_s / 3600.0, 4),
        "cross_street_time_loss_veh_h": _r(ref.cross_time_loss_s / 3600.0, 4),
        "mean_time_loss_s": _r(ref.others.mean_time_loss_s),
        "p95_time_loss_s": _r(ref.others.p95_time_loss_s),
        "vehicles": ref.others.vehicles,
        **_pedestrian_fields(ref),
        "safety_violations": ref.safety_violations,
        "teleports": ref.teleports,
        "wall_s": _r(ref.wall_s),
        **_distribution_fields(ref),
    }


def _pedestrian_fields(run: RunMeasures) -> dict:
    """``persons`` who finished a walk and their mean ``ped_time_loss_s`` (``None``: nobody
    walked, or not read)."""
    peds = run.pedestrians
    if peds is None or not peds.persons:
        return {"persons": 0 if peds is not None else None, "ped_time_loss_s": None}
    return {"persons": peds.persons, "ped_time_loss_s": _r(peds.mean_time_loss_s)}


def _distribution_fields(run: RunMeasures) -> dict:
    """The others' time-loss quantiles and histogram and their arrivals per interval."""
    out: dict[str, object] = {}
    dist = run.others_time_loss
    if dist is not None:
        out["others_time_loss_quantiles_s"] = {k: _r(v) for k, v in dist.quantiles_s.items()}
        out["others_time_loss_histogram"] = {"edges_s": list(dist.edges_s),
                                             "counts": list(dist.counts)}  # fmt: skip
    flow = run.others_throughput
    if flow is not None:
        out["others_arrivals"] = {"interval_s": flow.interval_s, "counts": list(flow.arrivals)}
    return out


def compact_trace(trace: Trace) -> dict:
    """A trip's trace in a few hundred bytes to a few KB (JSON-ready).

    Keys: ``trip_id``, ``route_length_m``; ``start_s``, ``tick_s``, ``ticks`` (the kept ticks,
    from :data:`TRACE_MARGIN_S` before the vehicles were first seen to as long after they were
    last seen); ``time_s`` / ``distance_m`` (the lead's trajectory, simplified; a ``None``
    distance marks where it was off the road until the next point), the same as
    ``tail_time_s`` / ``tail_distance_m`` for a convoy whose tail differs; ``signals``, each
    with ``signal_id``, ``junction_id`` (left out when the same as the signal's: city cluster
    ids run to 200 characters), ``distance_m`` (stop line along the route) and ``changes``:
    ``"G@51 Y@87 R@91"``, the aspect (G, Y, R) from the first kept tick and from every tick
    where it changed (s).
    """
    t = np.asarray(trace.time_s, dtype=float)
    lead = np.asarray(trace.distance_m, dtype=float)
    tail = np.asarray(trace.tail_distance_m, dtype=float)
    seen = np.flatnonzero(~(np.isnan(lead) & np.isnan(tail)))
    if t.size and seen.size:
        keep = (t >= t[seen[0]] - TRACE_MARGIN_S) & (t <= t[seen[-1]] + TRACE_MARGIN_S)
        lo, hi = int(np.argmax(keep)), int(t.size - np.argmax(keep[::-1]))
    else:
        lo, hi = 0, t.size
    t, lead, tail = t[lo:hi], lead[lo:hi], tail[lo:hi]
    out: dict[str, object] = {
        "trip_id": trace.trip_id,
        "route_length_m": round(trace.route_length_m, 1),
        "start_s": float(t[0]) if t.size else 0.0,
        "tick_s": float(t[1] - t[0]) if t.size > 1 else 1.0,
        "ticks": int(t.size),
    }
    out["time_s"], out["distance_m"] = _simplify(t, lead)
    if not np.array_equal(tail, lead, equal_nan=True):
        out["tail_time_s"], out["tail_distance_m"] = _simplify(t, tail)
    signals = []
    for sig, aspects in zip(trace.signals, trace.aspects, strict=True):
        entry = {"signal_id": sig.signal_id, "distance_m": round(sig.distance_m, 1),
                 "changes": _changes(t, aspects[lo:hi])}  # fmt: skip
        if sig.junction_id != sig.signal_id:
            entry["junction_id"] = sig.junction_id
        signals.append(entry)
    out["signals"] = signals
    return out


def expand_trace(data: Mapping) -> Trace:
    """The :class:`Trace` of a :func:`compact_trace` dict, tick by tick (speeds unknown: nan).

    Raises
    ------
    KeyError, TypeError, ValueError
        If ``data`` is not a compact trace.
    """
    t = data["start_s"] + data["tick_s"] * np.arange(int(data["ticks"]))
    lead = _resample(data["time_s"], data["distance_m"], t)
    tail = lead
    if "tail_time_s" in data:
        tail = _resample(data["tail_time_s"], data["tail_distance_m"], t)
    signals, aspects = [], []
    for s in data["signals"]:
        sid = str(s["signal_id"])
        signals.append(
            SignalOnRoute(sid, str(s.get("junction_id", sid)), float(s["distance_m"]), ())
        )
        changes = [(c[0], float(c[2:])) for c in str(s["changes"]).split()]
        at = [time_s for _, time_s in changes]
        idx = np.clip(np.searchsorted(at, t + 1e-6, side="right") - 1, 0, None)
        aspects.append("".join(changes[i][0] for i in idx) if changes else "")
    return Trace(
        trip_id=str(data["trip_id"]),
        time_s=tuple(float(x) for x in t),
        distance_m=tuple(float(x) for x in lead),
        speed_mps=(math.nan,) * t.size,
        tail_distance_m=tuple(float(x) for x in tail),
        signals=tuple(signals),
        aspects=tuple(aspects),
        route_length_m=float(data["route_length_m"]),
    )


def _simplify(t: np.ndarray, d: np.ndarray) -> tuple[list[float], list[float | None]]:
    """The points of the trajectory ``d(t)`` needed to redraw it (see :func:`compact_trace`)."""
    tol = TRACE_TOLERANCE_M
    while True:
        times: list[float] = []
        dists: list[float | None] = []
        finite = ~np.isnan(d)
        i = 0
        while i < t.size:
            j = i
            while j < t.size and finite[j] == finite[i]:
                j += 1
            if finite[i]:
                for k in _kept(t[i:j], d[i:j], tol):
                    times.append(round(float(t[i + k]), 2))
                    dists.append(round(float(d[i + k]), 1))
            else:
                times.append(round(float(t[i]), 2))
                dists.append(None)
            i = j
        if len(times) <= TRACE_MAX_POINTS:
            return times, dists
        tol *= 2.0


def _kept(t: np.ndarray, d: np.ndarray, tol_m: float) -> list[int]:
    """Ramer-Douglas-Peucker on the vertical gap: indices to keep, both ends included."""
    keep = {0, t.size - 1}
    stack = [(0, t.size - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        line = d[i] + (d[j] - d[i]) * (t[i + 1 : j] - t[i]) / (t[j] - t[i])
        err = np.abs(d[i + 1 : j] - line)
        k = int(np.argmax(err))
        if err[k] > tol_m:
            m = i + 1 + k
            keep.add(m)
            stack += [(i, m), (m, j)]
    return sorted(keep)


def _resample(times: Sequence[float], dists: Sequence[float | None], t: np.ndarray) -> np.ndarray:
    """Back onto the ticks ``t``: linear between finite points, nan after a ``None``."""
    pt = np.asarray(times, dtype=float)
    pd = np.asarray([math.nan if x is None else x for x in dists], dtype=float)
    out = np.full(t.size, math.nan)
    if not pt.size:
        return out
    i = np.clip(np.searchsorted(pt, t + 1e-6, side="right") - 1, 0, pt.size - 1)
    j = np.minimum(i + 1, pt.size - 1)
    exact = np.abs(pt[i] - t) < 1e-6
    span = np.where(pt[j] > pt[i], pt[j] - pt[i], 1.0)
    inner = pd[i] + (pd[j] - pd[i]) * (t - pt[i]) / span
    out = np.where(exact, pd[i], np.where((j > i) & (t > pt[i]), inner, math.nan))
    return out


def _changes(t: np.ndarray, aspects: str) -> str:
    out: list[str] = []
    last = ""
    for k, a in enumerate(aspects):
        if a != last:
            out.append(f"{a}@{round(float(t[k]), 2):g}")
            last = a
    return " ".join(out)


def medians_by_strategy(rows: Sequence[Mapping], strategies: Sequence[str]) -> dict[str, dict]:
    """Per strategy, the median over its rows (seeds) of every :data:`MEDIAN_FIELDS` field.

    Safety counters are also given as totals (``*_total``): one violation in any seed matters.
    ``trips`` has the medians of each trip's travel time, free-flow time, ratio and stops.
    """
    out: dict[str, dict] = {}
    for strategy in strategies:
        mine = [r for r in rows if r["strategy"] == strategy]
        m: dict[str, object] = {"seeds": len(mine)}
        for key in MEDIAN_FIELDS:
            m[key] = _r(median(r.get(key) for r in mine), 4)
        for key in ("safety_violations", "guard_rejections", "teleports"):
            m[f"{key}_total"] = sum(int(r[key]) for r in mine)
        # None, not True, for a strategy none of whose runs finished (all of an empty list).
        m["priority_arrived_all"] = all(r["priority_arrived"] for r in mine) if mine else None
        trip_ids = [t["trip_id"] for t in mine[0]["trips"]] if mine else []
        m["trips"] = {
            tid: {
                key: _r(median(t[key] for r in mine for t in r["trips"] if t["trip_id"] == tid), 3)
                for key in ("priority_travel_time_s", "free_flow_time_s", "ratio", "stops")
            }
            for tid in trip_ids
        }
        out[strategy] = m
    return out


def _mean(values: Iterable[float | None], digits: int = 2) -> float | None:
    xs = list(values)
    if not xs or any(x is None for x in xs):
        return None
    return _r(sum(xs) / len(xs), digits)


def _r(x: float | None, digits: int = 2) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)
