"""The free-passage targets of ``make bench``: none / local / corridor on every named scenario.

For each scenario of :data:`clearway.evaluation.priority_scenarios.NAMED`, ``SEEDS`` seeds of
the three strategies on identical seeded traffic (``clearway evaluate``), medians per strategy,
and the targets of issue 4 checked against them:

* corridor: priority travel time <= 1.10 x free flow, 0 stops (medians);
* corridor: others' extra delay and cross-street extra delay each <= 50 % of local's;
* 0 safety-monitor violations in every run.

Two more rows are real cities the strategies were not tuned on, with their own demand, from
the RESCO set (fetched by :mod:`resco_fetch`; skipped, with the reason, when they cannot be
had): Ingolstadt (21 signals, InTAS demand of 16:00-17:00; the ambulance crosses 10 of them)
and Cologne (8 signals, TAPAS demand of 07:00-08:00; 5 of them). Their demand is fixed route
files, so their seeds differ by SUMO's driver imperfection (``driver_noise``); the ambulance
leaves 10 min into the hour.

:func:`case_pedestrians` runs the same on the ``pedestrians`` scenario (walkers on every
crossing; not one of the named four); it is the ``pedestrians`` case of ``make bench``, with
its own table (:func:`pedestrians_markdown`).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

SEEDS = 5
#: The real cities: RESCO network -> its ambulance trip (from edge, to edge, departure in s,
#: 10 min into its demand's hour) and its run (begin, length in s).
REAL_CITIES: dict[str, tuple[tuple[str, str, float], float, float]] = {
    "ingolstadt21": (("315358244", "201956810", 58200.0), 57600.0, 1200.0),
    "cologne8": (("-42925825#2", "155723703#0", 25800.0), 25200.0, 1200.0),
}
RATIO_TARGET = 1.10
COST_SHARE_TARGET = 0.5
_KEYS = (
    "ratio", "stops", "priority_travel_time_s", "free_flow_time_s", "others_extra_delay_veh_h",
    "cross_street_extra_delay_veh_h", "time_to_recover_s", "safety_violations_total",
    "guard_rejections_total", "teleports_total", "ped_time_loss_s",
)  # fmt: skip


def _share(corridor: float, local: float) -> float | None:
    """Corridor's cost as a share of local's; ``None`` when local's is not a positive cost."""
    return corridor / local if local > 0 else None


def scenario_targets(medians: dict) -> dict:
    """Targets of one scenario from its medians per strategy."""
    c, lo = medians["corridor"], medians["local"]
    others = _share(c["others_extra_delay_veh_h"], lo["others_extra_delay_veh_h"])
    cross = _share(c["cross_street_extra_delay_veh_h"], lo["cross_street_extra_delay_veh_h"])
    violations = sum(m["safety_violations_total"] for m in medians.values())
    return {
        "corridor_ratio": c["ratio"],
        "corridor_ratio_ok": c["ratio"] <= RATIO_TARGET,
        "corridor_stops": c["stops"],
        "corridor_stops_ok": c["stops"] == 0,
        "others_share_of_local": others,
        "others_share_ok": others is not None and others <= COST_SHARE_TARGET,
        "cross_share_of_local": cross,
        "cross_share_ok": cross is not None and cross <= COST_SHARE_TARGET,
        "safety_violations": violations,
        "safety_ok": violations == 0,
    }


def _paired(rows: list[dict], key: str) -> dict:
    """Corridor against local on ``key`` seed by seed: the spread of each strategy's figure
    over the seeds (interquartile range: the noise a median of this many seeds carries), the
    median of the per-seed differences and in how many seeds the corridor costs less."""
    by = {(r["strategy"], r["seed"]): r.get(key) for r in rows}
    seeds = sorted({seed for (_, seed) in by})
    pairs = [
        (by[("corridor", s)], by[("local", s)])
        for s in seeds
        if by.get(("corridor", s)) is not None and by.get(("local", s)) is not None
    ]
    out: dict = {"seeds": len(pairs)}
    for strategy in ("none", "local", "corridor"):
        vals = sorted(v for (st, _), v in by.items() if st == strategy and v is not None)
        out[f"{strategy}_iqr"] = _iqr(vals)
    diffs = sorted(c - lo for c, lo in pairs)
    out["median_difference"] = statistics.median(diffs) if diffs else None
    out["corridor_lower_in"] = sum(1 for d in diffs if d < 0)
    return out


def _iqr(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[2] - q[0]


def case_pedestrians(out_dir: Path, seeds: int = SEEDS) -> dict:
    """:func:`case_priority` on the ``pedestrians`` scenario only (merge its ``scenarios``
    into the priority case's to give the free-passage table a row with people crossing)."""
    from clearway.evaluation.priority_scenarios import PEDESTRIANS

    return case_priority(out_dir, seeds, names=(PEDESTRIANS,))


def case_priority(
    out_dir: Path, seeds: int = SEEDS, names: tuple[str, ...] | None = None
) -> dict:
    """Evaluate every named scenario (or ``names``); medians, targets and wall time per
    scenario."""
    from resco_fetch import FetchSkipped

    from clearway.evaluation.evaluate import EvaluationSettings, evaluate
    from clearway.evaluation.priority_scenarios import NAMED, build_plan, named_setup

    workers = max(os.cpu_count() or 1, 1)
    settings = EvaluationSettings(strategies=("none", "local", "corridor"), workers=workers)
    out: dict = {"seeds": seeds, "workers": workers, "scenarios": {}}
    for name in (*NAMED, *REAL_CITIES) if names is None else names:
        t0 = time.perf_counter()
        if name in REAL_CITIES:
            try:
                setup = _real_city(out_dir, name)
            except FetchSkipped as exc:
                out.setdefault("skipped", {})[name] = str(exc)
                continue
            plan = build_plan(setup, list(range(1, seeds + 1)))
            result = evaluate(plan, replace(settings, driver_noise=True), out_dir / f"priority-{name}")
        else:
            plan = build_plan(named_setup(name, out_dir), list(range(1, seeds + 1)))
            result = evaluate(plan, settings, out_dir / f"priority-{name}")
        if result.failed:
            raise SystemExit(f"priority bench {name}: runs failed: {result.failed}")
        medians = {
            s: {k: result.medians[s][k] for k in _KEYS if k in result.medians[s]}
            for s in settings.strategies
        }
        out["scenarios"][name] = {
            "medians": medians,
            "targets": scenario_targets(medians),
            "paired": {
                key: _paired(result.rows, key)
                for key in ("others_extra_delay_veh_h", "cross_street_extra_delay_veh_h")
            },
            "wall_s": time.perf_counter() - t0,
        }
    return out


def _real_city(out_dir: Path, city: str):
    """A real city's setup: its network and demand, the ambulance trip, begin and length."""
    from resco_fetch import fetch

    from clearway.evaluation.priority_scenarios import user_setup
    from clearway.evaluation.trip_spec import TripRequest

    folder = fetch(out_dir / "resco", (city,))[city]
    (origin, destination, depart_s), begin_s, duration_s = REAL_CITIES[city]
    setup = user_setup(
        out_dir, folder / f"{city}.net.xml", [folder / f"{city}.rou.xml"],
        [TripRequest(origin, destination, depart_s)], name=city,
    )  # fmt: skip
    return replace(setup, begin_s=begin_s, duration_s=duration_s)


def markdown(result: dict) -> list[str]:
    """Table lines for ``bench/results.md``."""
    lines = [
        "",
        f"## Free passage — medians of {result['seeds']} seeds (none / local / corridor)",
        "",
        "| scenario | ratio | stops | others' extra delay (veh·h) | cross-street (veh·h) "
        "| corridor / local: others, cross | pedestrians' time loss (s) | violations |",
        "| --- | --- | --- | --- | --- | --- | --- | ---: |",
    ]
    for name, r in result["scenarios"].items():
        m, t = r["medians"], r["targets"]

        def row(key: str, fmt: str, m: dict = m) -> str:
            return " / ".join(format(m[s][key], fmt) for s in ("none", "local", "corridor"))

        def opt(key: str, fmt: str, m: dict = m) -> str:
            # "—" where nobody walked (or a result from before pedestrians were measured).
            vals = [m[s].get(key) for s in ("none", "local", "corridor")]
            return " / ".join("—" if v is None else format(v, fmt) for v in vals)

        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.0f} %"

        lines.append(
            f"| {name} | {row('ratio', '.3f')} | {row('stops', '.0f')} "
            f"| {row('others_extra_delay_veh_h', '+.2f')} "
            f"| {row('cross_street_extra_delay_veh_h', '+.2f')} "
            f"| {pct(t['others_share_of_local'])}, {pct(t['cross_share_of_local'])} "
            f"| {opt('ped_time_loss_s', '.1f')} | {t['safety_violations']} |"
        )
    for name, why in result.get("skipped", {}).items():
        lines += ["", f"- {name} skipped: {why}"]
    lines += [
        "",
        "Which differences are real: the spread of each figure over the seeds (interquartile "
        "range, veh·h) and the corridor against local seed by seed (same seeds, same demand). "
        "A difference smaller than the spreads, or one that changes sign from seed to seed, "
        "is noise: one held signal reshuffles the traffic behind it.",
        "",
        "| scenario | figure | spread none / local / corridor | corridor − local, median "
        "of seeds | corridor costs less in |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for name, r in result["scenarios"].items():
        for key, label in (("others_extra_delay_veh_h", "others"),
                           ("cross_street_extra_delay_veh_h", "cross streets")):  # fmt: skip
            p = r.get("paired", {}).get(key)
            if p is None:
                continue
            spread = " / ".join(
                "—" if p[f"{s}_iqr"] is None else f"{p[f'{s}_iqr']:.2f}"
                for s in ("none", "local", "corridor")
            )
            diff = "—" if p["median_difference"] is None else f"{p['median_difference']:+.2f}"
            lines.append(
                f"| {name} | {label} | {spread} | {diff} | {p['corridor_lower_in']} of {p['seeds']} |"
            )
    return lines


def pedestrians_markdown(result: dict | None) -> list[str]:
    """The pedestrians section of ``bench/results.md`` (nothing for results from before the
    case): one row per strategy, medians of the seeds."""
    if not result or not result.get("scenarios"):
        return []
    from clearway.evaluation.priority_scenarios import PEDESTRIANS

    r = result["scenarios"][PEDESTRIANS]
    lines = [
        "",
        f"## Free passage with people crossing — medians of {result['seeds']} seeds",
        "",
        "Scenario pedestrians: 5x5 grid, a signalised crossing over every arm, seeded walkers "
        f"(wall {r['wall_s']:.0f} s).",
        "",
        "| strategy | ratio | stops | others' extra delay (veh·h) | pedestrians' time loss (s) "
        "| violations |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in ("none", "local", "corridor"):
        m = r["medians"][s]
        ped = m.get("ped_time_loss_s")
        lines.append(
            f"| {s} | {m['ratio']:.3f} | {m['stops']:.0f} | {m['others_extra_delay_veh_h']:+.2f} "
            f"| {'—' if ped is None else format(ped, '.1f')} | {m['safety_violations_total']:.0f} |"
        )
    return lines
