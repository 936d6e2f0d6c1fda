"""Turning paired runs into the documented result rows (README, "clearway evaluate").

One row per strategy and seed: the priority trips' travel time against free flow, their stops,
what everyone else lost against the same-seed reference run without the trips, recovery
times and the safety counters. Medians per strategy over the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from clearway.evaluation.free_flow import FreeFlow
from clearway.evaluation.priority_metrics import extra_delay_veh_h, median
from clearway.evaluation.priority_run import RunMeasures
from clearway.sim.priority_trips import PriorityTrip

#: Fields of a row that get a median per strategy, in table order.
MEDIAN_FIELDS = (
    "priority_travel_time_s",
    "free_flow_time_s",
    "ratio",
    "stops",
    "others_extra_delay_veh_h",
    "cross_street_extra_delay_veh_h",
    "mean_time_loss_s",
    "p95_time_loss_s",
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
        "mean_time_loss_s": _r(run.others.mean_time_loss_s),
        "p95_time_loss_s": _r(run.others.p95_time_loss_s),
        "time_to_recover_s": _r(median(recover)),
        "time_to_recover_max_s": _r(max(recover) if recover else None),
        "recoveries": len(recover),
        "requests_completed": run.requests_completed,
        "safety_violations": run.safety_violations,
        "guard_rejections": run.guard_rejections,
        "teleports": run.teleports,
        "wall_s": _r(run.wall_s),
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
        "safety_violations": ref.safety_violations,
        "teleports": ref.teleports,
        "wall_s": _r(ref.wall_s),
    }


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
