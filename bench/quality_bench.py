"""Normal-control quality on real city networks: the ``quality`` case of ``make bench``.

Two real networks with seeded random demand: Luxembourg City (imported from the LuST OSM
extract in ``../shared``, skipped with a reason if absent) and Berlin-Adlershof (shipped in the
eclipse-sumo wheel, ``tools/game/DRT/osm.net.xml``). On each, every strategy of
:data:`STRATEGIES` runs every seed of :data:`SEEDS` on the same seeded demand (paired runs):
clearway's fixed-time, actuated and max-pressure through the guard, and SUMO's own actuated and
delay_based programs run by SUMO itself (not guarded: the safety monitor reports what they
show). Reported per strategy: the mean over seeds of the runs' mean and 95th-percentile time
loss, per-seed values, arrivals, teleports, monitor violations and guard rejections; and the
target of the issue: the best of ours beats every SUMO built-in on each network (max-pressure
alone is checked too).
"""

from __future__ import annotations

import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

#: Seeds of the demand and of SUMO; each seed runs every strategy on identical traffic.
SEEDS: tuple[int, ...] = (1, 2, 3, 4, 5)
#: Ours (guarded) first, then SUMO's built-in adaptive programs.
OURS: tuple[str, ...] = ("fixed-time", "actuated", "max-pressure")
SUMO_BUILTINS: tuple[str, ...] = ("sumo-actuated", "sumo-delay-based")
STRATEGIES: tuple[str, ...] = OURS + SUMO_BUILTINS
#: Simulations at once: libsumo runs one simulation per process, the bench machine has 2 cores.
WORKERS = 2
#: Luxembourg City: one simulated hour, the demand period of ``import_osm`` (its default).
LUX_OSM = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "lust.legacy.scenario.osm"
)
LUX_DURATION_S = 3600.0
#: Berlin-Adlershof: half an hour, one trip every 2 s as in the demo and the priority bench
#: (at 1 trip/s the random demand jams and teleports; see ``BERLIN_PERIOD_S``).
BERLIN_DURATION_S = 1800.0


@dataclass(frozen=True)
class _Network:
    """One network of the case, ready to run: a scenario per seed."""

    key: str
    label: str
    duration_s: float
    period_s: float
    scenarios: dict  # seed -> Scenario
    prepare_s: float


def _seeded_routes(net_file: Path, work: Path, seeds, end_s: float, period_s: float) -> dict:
    """Seeded random demand per seed (departures in [0, ``end_s``) s, one every ``period_s`` s
    on average). randomTrips and duarouter are subprocesses, so threads overlap them on the
    cores; :func:`random_demand` builds each in a private folder, so they cannot collide."""
    from clearway.sim.scenario import random_demand

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {
            seed: pool.submit(random_demand, net_file, work, seed=seed, end_s=end_s,
                              period_s=period_s)
            for seed in seeds
        }  # fmt: skip
    return {seed: f.result() for seed, f in futures.items()}


def _berlin(work: Path) -> _Network:
    """Berlin-Adlershof from the SUMO wheel, seeded random demand per seed (reused across
    bench runs: the wheel's network does not change, and the demand is keyed by its digest)."""
    from clearway.evaluation.priority_scenarios import BERLIN_NET, BERLIN_PERIOD_S
    from clearway.sim.scenario import user_scenario
    from clearway.sim.sumo_env import sumo_home

    t0 = time.perf_counter()
    net_file = sumo_home() / BERLIN_NET
    routes = _seeded_routes(net_file, work, SEEDS, BERLIN_DURATION_S, BERLIN_PERIOD_S)
    scenarios = {
        seed: user_scenario(net_file, [routes[seed]], work, seed=seed, end_s=BERLIN_DURATION_S,
                            name="berlin")
        for seed in SEEDS
    }  # fmt: skip
    return _Network(
        "berlin", "Berlin-Adlershof (SUMO wheel, tools/game/DRT/osm.net.xml)",
        BERLIN_DURATION_S, BERLIN_PERIOD_S, scenarios, time.perf_counter() - t0,
    )  # fmt: skip


def _luxembourg(work: Path) -> _Network:
    """Luxembourg City imported once from OSM; then seeded demand per seed at the import's
    own period, so seed 1 is exactly the import's demand (same randomTrips arguments)."""
    from clearway.sim.osm_import import DEFAULT_PERIOD_S, import_osm
    from clearway.sim.scenario import user_scenario

    t0 = time.perf_counter()
    # Every import writes a new net file (netconvert stamps the date in it), so demand and
    # detectors keyed by the old file's digest would only pile up: start from an empty folder.
    shutil.rmtree(work, ignore_errors=True)
    report = import_osm(LUX_OSM, work, seed=SEEDS[0], end_s=LUX_DURATION_S)
    routes = {SEEDS[0]: report.routes_file}  # the import's own demand: same randomTrips call
    routes |= _seeded_routes(report.net_file, work, SEEDS[1:], LUX_DURATION_S, DEFAULT_PERIOD_S)
    scenarios = {
        seed: user_scenario(report.net_file, [routes[seed]], work, seed=seed,
                            end_s=LUX_DURATION_S, name="luxembourg")
        for seed in SEEDS
    }  # fmt: skip
    return _Network(
        "luxembourg", "Luxembourg City (LuST OSM, imported with clearway import-osm)",
        LUX_DURATION_S, DEFAULT_PERIOD_S, scenarios, time.perf_counter() - t0,
    )  # fmt: skip


def _run_one(job):
    """Run one job in a pool worker (module level: spawned workers import it by name).

    Parameters
    ----------
    job : clearway.evaluation.priority_run.RunJob
        Only ``scenario``, ``strategy``, ``out_dir`` and ``duration_s`` (s) are used.

    Returns
    -------
    dict
        :meth:`clearway.evaluation.run.RunResult.to_dict` of the run, plus ``cpu_s``: CPU time
        of the worker for the whole run (s, start-up and tripinfo included). Wall time depends
        on what else the machine runs; CPU time tells what the case costs on an idle one.
    """
    from clearway.evaluation.run import run_scenario

    cpu0_s = time.process_time()

    result = run_scenario(job.scenario, strategy=job.strategy, out_dir=job.out_dir,
                          duration_s=job.duration_s)  # fmt: skip
    return {**result.to_dict(), "cpu_s": time.process_time() - cpu0_s}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summary(net: _Network, runs: dict, failed: list[str]) -> dict:
    """Per-strategy figures and the targets of one network.

    ``runs`` maps (strategy, seed) to a run's dict. Means are over the seeds every strategy
    finished, so the comparison stays paired even if a run failed.
    """
    seeds = [s for s in SEEDS if all((st, s) in runs for st in STRATEGIES)]
    strategies: dict = {}
    for st in STRATEGIES:
        rows = [runs[(st, s)] for s in seeds]
        strategies[st] = {
            "mean_time_loss_s": _mean([r["mean_time_loss_s"] for r in rows]),
            "p95_time_loss_s": _mean([r["p95_time_loss_s"] for r in rows]),
            "mean_time_loss_s_per_seed": [r["mean_time_loss_s"] for r in rows],
            "p95_time_loss_s_per_seed": [r["p95_time_loss_s"] for r in rows],
            "arrived_per_seed": [r["arrived"] for r in rows],
            "departed_per_seed": [r["departed"] for r in rows],
            "undeparted_per_seed": [r["undeparted"] for r in rows],
            "teleports_total": sum(r["teleports"] for r in rows),
            "safety_violations_total": sum(r["safety_violations"] for r in rows),
            "violations_by_rule": _add_counts(r["violations_by_rule"] for r in rows),
            "guard_rejections_total": sum(r["guard_rejections"] for r in rows),
            "wall_s_per_seed": [r["wall_s"] for r in rows],
            "cpu_s_per_seed": [r["cpu_s"] for r in rows],
        }
    signals = next((r["signals"] for r in runs.values()), None)
    return {
        "network": net.label,
        "seeds": seeds,
        "duration_s": net.duration_s,
        "demand_period_s": net.period_s,
        "signals": signals,
        "prepare_s": net.prepare_s,
        "failed": failed,
        "strategies": strategies,
        "targets": _targets(strategies, len(seeds)) if seeds else None,
    }


def _add_counts(dicts) -> dict:
    total: dict = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def _targets(strategies: dict, n_seeds: int) -> dict:
    """Best of ours against the best SUMO built-in (lower mean time loss is better).

    Margins are the SUMO built-in's figure minus ours (s, positive = ours better) and that as a
    share of the built-in's; ``seeds_won`` counts the paired seeds where ours was lower.
    """

    def loss(st: str) -> float:
        return strategies[st]["mean_time_loss_s"]

    def p95(st: str) -> float:
        return strategies[st]["p95_time_loss_s"]

    best_ours = min(OURS, key=loss)
    best_sumo = min(SUMO_BUILTINS, key=loss)

    def versus(ours: str, sumo: str) -> dict:
        a = strategies[ours]["mean_time_loss_s_per_seed"]
        b = strategies[sumo]["mean_time_loss_s_per_seed"]
        margin_s = loss(sumo) - loss(ours)
        return {
            "ours": ours,
            "sumo": sumo,
            "ours_mean_time_loss_s": loss(ours),
            "sumo_mean_time_loss_s": loss(sumo),
            "margin_s": margin_s,
            "margin_share": margin_s / loss(sumo) if loss(sumo) > 0 else None,
            "p95_margin_s": p95(sumo) - p95(ours),
            "seeds_won": sum(x < y for x, y in zip(a, b, strict=True)),
            "seeds": n_seeds,
            "met": loss(ours) < loss(sumo),
        }

    best = versus(best_ours, best_sumo)
    mp = {s: versus("max-pressure", s) for s in SUMO_BUILTINS}
    return {
        "best_ours_vs_best_sumo": best,
        "met": best["met"],
        "max_pressure_vs_sumo": mp,
        "max_pressure_beats_all_sumo": all(v["met"] for v in mp.values()),
    }


def case_quality(out_dir: Path) -> dict:
    """Run every strategy on every seed of both networks; figures and targets per network.

    Parameters
    ----------
    out_dir
        Working folder (imports, demand, SUMO outputs) under which ``quality/`` is used.

    Returns
    -------
    dict
        ``networks`` (per network: figures per strategy, targets, or ``skipped``), ``seeds``,
        ``workers``, ``wall_s`` (whole case, s), ``runs_wall_s`` (the pool's part, s) and
        ``runs_cpu_s`` (CPU time of all runs, s).
    """
    from clearway.evaluation.engines import run_jobs
    from clearway.evaluation.priority_run import RunJob

    t0 = time.perf_counter()
    work = out_dir / "quality"
    nets: list[_Network] = []
    out: dict = {"seeds": list(SEEDS), "workers": WORKERS, "networks": {}}
    if LUX_OSM.exists():
        nets.append(_luxembourg(work / "luxembourg"))
    else:
        out["networks"]["luxembourg"] = {"skipped": f"{LUX_OSM} not found (../shared/data/osm)"}
    nets.append(_berlin(work / "berlin"))
    # One pool for both networks, longest runs (Luxembourg) first: no idle worker at the end
    # of one network while the other waits. The process engine isolates a crashing run.
    jobs = [
        RunJob(label=f"{net.key}/{st}", scenario=net.scenarios[seed], strategy=st, trips=(),
               routes=(), cross_edges=(), out_dir=work / net.key / "runs" / f"{st}-s{seed}",
               duration_s=net.duration_s)
        for net in nets for seed in SEEDS for st in STRATEGIES
    ]  # fmt: skip
    runs: dict = {net.key: {} for net in nets}
    failed: dict = {net.key: [] for net in nets}
    t_runs = time.perf_counter()
    for outcome in run_jobs(jobs, engine="process", workers=WORKERS, fn=_run_one):
        key, st = outcome.job.label.split("/")
        seed = outcome.job.scenario.seed
        if outcome.ok:
            runs[key][(st, seed)] = outcome.measures
        else:
            failed[key].append(f"{st} seed {seed}: {outcome.error}")
    runs_s = time.perf_counter() - t_runs
    for net in nets:
        out["networks"][net.key] = _summary(net, runs[net.key], failed[net.key])
    out["runs_wall_s"] = runs_s
    # CPU of all runs (s): with WORKERS idle cores the runs take about this / WORKERS of wall.
    out["runs_cpu_s"] = sum(r["cpu_s"] for by_run in runs.values() for r in by_run.values())
    out["wall_s"] = time.perf_counter() - t0
    return out


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def markdown(result: dict) -> list[str]:
    """Lines for ``bench/results.md``: one table per network and its target line."""
    seeds = result["seeds"]
    lines = [
        "",
        f"## Normal control quality — mean of {len(seeds)} seeds (paired demand), "
        f"case wall {result['wall_s']:.0f} s on {result['workers']} workers "
        f"(runs: {result['runs_cpu_s']:.0f} CPU s)",
    ]
    for key, r in result["networks"].items():
        if "skipped" in r:
            lines += ["", f"- quality {key} skipped: {r['skipped']}"]
            continue
        lines += [
            "",
            f"### {r['network']}: {r['signals']} signals, {r['duration_s']:.0f} s, one trip "
            f"every {r['demand_period_s']:g} s, seeds {', '.join(map(str, r['seeds']))}",
            "",
            "| strategy | mean time loss (s) | p95 time loss (s) | arrived (mean) | teleports "
            "(total) | violations (total) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for st, s in r["strategies"].items():
            arrived = _mean(s["arrived_per_seed"])
            lines.append(
                f"| {st} | {_fmt(s['mean_time_loss_s'])} | {_fmt(s['p95_time_loss_s'])} "
                f"| {_fmt(arrived, '.0f')} | {s['teleports_total']} "
                f"| {s['safety_violations_total']} |"
            )
        t = r["targets"]
        if t is None:
            lines += ["", f"- target not evaluated: runs failed: {r['failed']}"]
            continue
        b = t["best_ours_vs_best_sumo"]
        verdict = "met" if t["met"] else "NOT met"
        mp = "beats" if t["max_pressure_beats_all_sumo"] else "does not beat"
        lines += [
            "",
            f"- target {verdict}: best of ours {b['ours']} {_fmt(b['ours_mean_time_loss_s'])} s "
            f"vs best SUMO built-in {b['sumo']} {_fmt(b['sumo_mean_time_loss_s'])} s "
            f"({b['margin_s']:+.1f} s, {100 * (b['margin_share'] or 0.0):+.0f} %, lower in "
            f"{b['seeds_won']}/{b['seeds']} seeds); max-pressure alone {mp} both SUMO built-ins",
        ]
        if r["failed"]:
            lines.append(f"- failed runs (left out, pairing kept): {'; '.join(r['failed'])}")
    return lines
