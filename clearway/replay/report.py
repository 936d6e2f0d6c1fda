"""The replay report: what the log shows the corridor did, and what each strategy does on the
same demand re-run on the twin (``replay.md``, ``replay.json`` and ``time-space.png``).

The time–space diagram is the evaluation's (:func:`clearway.evaluation.figures.time_space_panel`)
for the re-run corridor — its trajectory over the bands of what the vehicle's own movement
showed — with the logged holds drawn above each signal's band: from the strategy's first
command to the normal controller taking the signal back, coloured by what the vehicle's
movement showed in the logged states. The other strategies' trajectories are drawn thin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clearway.evaluation import figures
from clearway.evaluation.evaluate import EvaluationResult
from clearway.evaluation.trace import GREEN, RED, YELLOW, Trace, aspect, signals_on_route
from clearway.replay.incident import LoggedHold
from clearway.replay.rerun import REPLAY_DISPATCH_LEAD_S, ReplayPlan
from clearway.replay.source import Incident

plt = figures.plt

#: Fields of a strategy row in the comparison, with their labels and formats.
COMPARED = (
    ("priority_travel_time_s", "priority vehicle travel time (s)", "{:.0f}"),
    ("free_flow_time_s", "free-flow time (s)", "{:.0f}"),
    ("ratio", "ratio to free flow", "{:.2f}"),
    ("stops", "stops of the priority vehicle", "{:.0f}"),
    ("priority_arrived", "arrived within the re-run", "{}"),
    ("others_extra_delay_veh_h", "others' extra delay (veh·h)", "{:+.3f}"),
    ("cross_street_extra_delay_veh_h", "cross streets' extra delay (veh·h)", "{:+.3f}"),
    ("guard_rejections", "guard rejections", "{:.0f}"),
    ("safety_violations", "safety-monitor violations", "{:.0f}"),
)
_LOGGED_EDGE = "#1f3b73"
#: The evaluation's colours of green, yellow and red.
_ASPECT = {GREEN: "#2ca02c", YELLOW: "#ffbf00", RED: "#d62728"}


def comparison(result: EvaluationResult) -> dict[str, dict[str, Any]]:
    """Per strategy its re-run figures (:data:`COMPARED`), from the evaluation's rows."""
    return {row["strategy"]: {key: row.get(key) for key, _, _ in COMPARED} for row in result.rows}


def held_green_s(hold: LoggedHold, core_links: tuple[int, ...]) -> float | None:
    """When the logged hold first showed the vehicle's own movement green (s)."""
    return next((c.time_s for c in hold.commands if aspect(c.state, core_links) == GREEN), None)


def passed_s(trace: Trace, distance_m: float) -> float | None:
    """When the re-run trajectory first reached ``distance_m`` (s)."""
    for t, d in zip(trace.time_s, trace.distance_m, strict=True):
        if not math.isnan(d) and d >= distance_m:
            return t
    return None


def green_used_s(trace: Trace, signal_index: int, passed: float | None) -> float | None:
    """When the green the re-run vehicle passed the signal on began (s); ``None`` if it
    did not pass on green (or did not pass). A state observed at a tick was shown from the
    step before, as the diagram draws it (and as the log times a command)."""
    if passed is None:
        return None
    aspects, t = trace.aspects[signal_index], trace.time_s
    i = t.index(passed)
    if aspects[i] != GREEN:
        return None
    while i > 0 and aspects[i - 1] == GREEN:
        i -= 1
    step = t[1] - t[0] if len(t) > 1 else 1.0
    return t[i] - step


def write_replay_report(
    incident: Incident,
    plan: ReplayPlan | None,
    result: EvaluationResult | None,
    out_dir: Path,
    *,
    not_rerun: str | None = None,
) -> dict[str, Path]:
    """Write ``replay.md``, ``replay.json`` and ``time-space.png`` into ``out_dir``.

    Without ``plan`` and ``result`` (the trip could not be re-run, ``not_rerun`` says why)
    the report has the log's part alone, and no figure.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    log = incident.log
    signals, traces = {}, {}
    if plan is not None and result is not None:
        signals = {s.signal_id: s for s in signals_on_route(plan.net, plan.route)}
        traces = {s: tr[0] for (s, _), tr in result.traces.items() if tr}
    corridor = traces.get("corridor")
    per_hold = []
    index = {} if corridor is None else {x.signal_id: k for k, x in enumerate(corridor.signals)}
    for h in log.holds:
        sig = signals.get(h.signal_id)
        passed = None
        if sig is not None and corridor is not None:
            passed = passed_s(corridor, sig.distance_m)
        per_hold.append({
            **h.to_dict(),
            "on_route": None if plan is None else sig is not None,
            "logged_green_s": None if sig is None else held_green_s(h, sig.core_links),
            "rerun_corridor_green_s": None if h.signal_id not in index
            else green_used_s(corridor, index[h.signal_id], passed),
            "rerun_corridor_passed_s": passed,
        })  # fmt: skip
    v = incident.verified
    data = {
        "request_id": log.request_id,
        "verified": {
            "ok": v.ok,
            "records": v.checked,
            "head_seq": v.head_seq,
            "head_hash": v.head_hash,
        },  # fmt: skip
        "log": {**log.to_dict(), "holds": per_hold},
        "rerun": None if plan is None else _rerun(plan),
        "not_rerun": not_rerun,
        "comparison": {} if result is None else comparison(result),
        "failed": [] if result is None else result.failed,
    }
    paths = {
        "json": out_dir / "replay.json",
        "markdown": out_dir / "replay.md",
        "figure": out_dir / "time-space.png",
    }
    paths["json"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if corridor is not None:
        time_space(corridor, log.holds, traces, paths["figure"], f"replay of {log.request_id}")
    else:
        del paths["figure"]
    paths["markdown"].write_text(_markdown(data, "figure" in paths), encoding="utf-8")
    return paths


def _rerun(plan: ReplayPlan) -> dict[str, Any]:
    return {
        "scenario": plan.scenario.name,
        "seed": plan.scenario.seed,
        "begin_s": plan.scenario.begin_s,
        "duration_s": plan.duration_s,
        "normal": plan.normal,
        "dispatch_lead_s": REPLAY_DISPATCH_LEAD_S,
        "trip": {
            "trip_id": plan.trip.trip_id,
            "role": plan.trip.role,
            "vehicles": plan.trip.vehicle_count,
            "depart_s": plan.trip.depart_s,
            "route": list(plan.route.edges),
        },
        "notes": list(plan.notes),
    }


def time_space(
    corridor: Trace,
    holds: tuple[LoggedHold, ...],
    traces: Mapping[str, Trace],
    path: Path,
    title: str,
) -> Path:
    """The re-run corridor's time–space panel with the logged holds above its bands."""
    fig, ax = plt.subplots(figsize=(10, 6))
    figures.time_space_panel(ax, corridor)
    band = figures.band_height_m(corridor)
    at = {s.signal_id: s for s in corridor.signals}
    drawn = False
    for h in holds:
        sig = at.get(h.signal_id)
        if sig is None:
            continue
        y = sig.distance_m + band / 2
        times = [c.time_s for c in h.commands] + [h.end_s or h.last_command_s + 1.0]
        for c, t_next in zip(h.commands, times[1:], strict=True):
            ax.broken_barh([(c.time_s, max(t_next - c.time_s, 0.5))], (y, band),
                           facecolors=_ASPECT[aspect(c.state, sig.core_links)],
                           edgecolor=_LOGGED_EDGE, linewidth=0.8, hatch="//",
                           label=None if drawn else "logged hold (its movement's aspect)")  # fmt: skip
            drawn = True
    for name, trace in sorted(traces.items()):
        if name != "corridor":
            ax.plot(trace.time_s, trace.distance_m, linewidth=0.8, alpha=0.8,
                    label=f"re-run: {name}")  # fmt: skip
    ax.set_title(f"{title}: re-run corridor (bands, black) and the logged holds (hatched)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown(data: Mapping[str, Any], figure: bool) -> str:
    log, rerun, v = data["log"], data["rerun"], data["verified"]
    final = log["final"]
    md = [
        f"# Replay of request {data['request_id']}",
        "",
        f"Audit chain verified: {v['records']} records, head seq {v['head_seq']}, "
        f"hash `{v['head_hash']}`.",
        "",
        "## What the log shows",
        "",
        f"- vehicle {log['requester_id']}, incident {log['incident_id']}; created at "
        f"{log['created_s']:g} s of traffic time"
        + (f", {final['event']} at {final['time_s']:g} s ({final['reason']})" if final else
           ", not finished in the log"),
    ]  # fmt: skip
    if log["served"]:
        s = log["served"]
        md.append(
            f"- first decision at {s['time_s']:g} s, {s['latency_ms']} ms after creation; "
            f"commanded {s['commanded'] or 'none'}, waiting {s['waiting'] or 'none'}"
        )
    run = log["run"] or {}
    if run:
        md.append(
            f"- service: {run.get('strategy')} on {run.get('normal')}, scenario "
            f"{run.get('scenario', run.get('site'))}, seed {run.get('seed', '-')}"
        )
    md += [
        "",
        "### Holds per signal",
        "",
        "| signal | from (s) | to (s) | commands | refused | held green from (s) | "
        "re-run: green from (s) | re-run: passed (s) | shared with |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for h in log["holds"]:
        off = " (not a crossing of its route)" if h["on_route"] is False else ""
        md.append(
            f"| {h['signal_id']}{off} | {h['start_s']:g} "
            f"| {_f(h['end_s'], '{:g}')} | {len(h['commands'])} | {h['rejected']} "
            f"| {_f(h['logged_green_s'], '{:g}')} | {_f(h['rerun_corridor_green_s'], '{:g}')} "
            f"| {_f(h['rerun_corridor_passed_s'], '{:g}')} "
            f"| {', '.join(h['shared_with']) or '—'} |"
        )
    md += [
        "",
        "### Decisions",
        "",
        "| seq | time (s) | event | state | by | reason |",
        "|---|---|---|---|---|---|",
    ]
    for e in log["events"]:
        md.append(
            f"| {e['seq']} | {e['time_s']:g} | {e['event']} | {e['state']} | "
            f"{e['principal'] or 'runtime'} | {e['reason']} |"
        )
    if log["advice"]:
        md += ["", "### Arbitration advice", ""]
        for a in log["advice"]:
            adv = a["advice"]
            md.append(f"- {a['time_s']:g} s: " + ("withdrawn" if adv is None else
                      f"at {adv['signal_id']} behind {adv['yields_to']}, green from "
                      f"{adv['green_from_s']:g} s, arrive after {adv['arrive_after_s']:g} s "
                      f"({adv['reason']})"))  # fmt: skip
    if rerun is None:
        md += ["", "## Not re-run", "", str(data["not_rerun"])]
        return "\n".join(md) + "\n"
    md += [
        "",
        "## The same demand re-run on the twin",
        "",
        f"Scenario {rerun['scenario']}, seed {rerun['seed']}, {rerun['duration_s']:g} s from "
        f"{rerun['begin_s']:g} s, normal control {rerun['normal']}; the vehicle leaves at "
        f"{rerun['trip']['depart_s']:g} s on the route it was planned on.",
        "",
    ]
    md += [f"- note: {n}" for n in rerun["notes"]]
    names = list(data["comparison"])
    md += ["", "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label, spec in COMPARED:
        md.append(f"| {label} | " + " | ".join(_f(data["comparison"][n][key], spec)
                                              for n in names) + " |")  # fmt: skip
    for f in data["failed"]:
        md.append(f"\n**failed run** {f['label']}: {f['error']}")
    if figure:
        md += ["", "![time-space diagram: re-run corridor and logged holds](time-space.png)"]
    return "\n".join(md) + "\n"


def _f(value: Any, spec: str) -> str:
    return "—" if value is None else spec.format(value)
