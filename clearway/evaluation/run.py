"""One run of a strategy on a scenario, measured: the use case behind ``clearway run``.

The result's field names are the documented JSON keys (docs/running.md, "Results").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clearway.bootstrap import STRATEGIES, open_twin_run
from clearway.evaluation.metrics import read_personinfo, read_tripinfo
from clearway.network import Network
from clearway.sim.scenario import Scenario


@dataclass(frozen=True)
class RunResult:
    """Figures of one run (JSON field names as documented in docs/running.md).

    Attributes
    ----------
    scenario, strategy, backend, seed
        What was run.
    begin_s, sim_s
        Simulation time the run began at, and simulated time from there (s).
    arrived, departed, undeparted
        Vehicles that reached their destination / entered / never got in (count).
    mean_time_loss_s, p95_time_loss_s
        Mean and 95th percentile of vehicles' time loss against driving at the speed they
        wanted (s), over every vehicle that departed or was waiting to.
    safety_violations
        Violations the independent safety monitor saw in the states the simulator showed.
    violations_by_rule
        The same, per rule.
    guard_rejections
        Commands the safety guard refused (a controller asked for something unsafe).
    teleports
        Vehicles SUMO teleported because they were stuck (count).
    wall_s, sim_s_per_wall_s
        Wall-clock time of the loop and simulated seconds per wall second.
    signals
        Number of signals controlled.
    demand_scale
        Factor the route files' demand was run at (SUMO ``--scale``).
    persons, ped_time_loss_s
        People who finished a walk (count), and their mean time loss against walking
        unhindered (s; ``None`` when nobody walked): SUMO's ``<personinfo>``, aggregated.
    """

    scenario: str
    strategy: str
    backend: str
    seed: int
    sim_s: float
    arrived: int
    departed: int
    undeparted: int
    mean_time_loss_s: float
    p95_time_loss_s: float
    safety_violations: int
    violations_by_rule: dict[str, int] = field(default_factory=dict)
    guard_rejections: int = 0
    teleports: int = 0
    wall_s: float = 0.0
    sim_s_per_wall_s: float = 0.0
    signals: int = 0
    demand_scale: float = 1.0
    begin_s: float = 0.0
    persons: int = 0
    ped_time_loss_s: float | None = None

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def run_scenario(
    scenario: Scenario,
    *,
    strategy: str = "fixed-time",
    backend: str = "libsumo",
    duration_s: float | None = None,
    timing_file: Path | None = None,
    out_dir: Path,
    on_tick: Callable[[float], None] | None = None,
    net: Network | None = None,
) -> RunResult:
    """Run ``strategy`` on ``scenario`` in the SUMO twin and measure it.

    Parameters
    ----------
    scenario
        Network, demand, detectors and seed.
    strategy
        One of :data:`clearway.bootstrap.STRATEGIES`.
    backend
        ``"libsumo"`` (in-process, default) or ``"traci"``.
    duration_s
        Simulated time to run from the scenario's begin (s); up to its ``end_s`` when ``None``.
    timing_file
        Optional TOML of per-junction safety-timing overrides.
    out_dir
        Where SUMO writes its outputs (tripinfo).
    on_tick
        Called after every tick with the simulated time (s): progress bars.
    net
        The scenario's network if the caller has loaded it already.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    tripinfo = out_dir / f"tripinfo-{scenario.name}-{strategy}-{scenario.seed}.xml"
    duration = scenario.end_s - scenario.begin_s if duration_s is None else duration_s
    with open_twin_run(
        scenario,
        strategy=strategy,
        backend=backend,
        timing_file=timing_file,
        tripinfo_path=tripinfo,
        net=net,
    ) as wired:
        start_sim = wired.twin.now_s()
        t0 = time.perf_counter()
        wired.loop.run(duration, on_tick=on_tick)
        wall = time.perf_counter() - t0
        sim_s = wired.twin.now_s() - start_sim
        teleports = wired.twin.teleports
        monitor = wired.monitor
        loop_stats = wired.loop.stats
        n_signals = len(wired.guard.intersections)
    stats = read_tripinfo(tripinfo)
    walkers = read_personinfo(tripinfo)
    return RunResult(
        scenario=scenario.name,
        strategy=strategy,
        backend=backend,
        seed=scenario.seed,
        sim_s=sim_s,
        arrived=stats.arrived,
        departed=stats.departed,
        undeparted=stats.undeparted,
        mean_time_loss_s=round(stats.mean_time_loss_s, 3),
        p95_time_loss_s=round(stats.p95_time_loss_s, 3),
        safety_violations=monitor.violation_count,
        violations_by_rule=monitor.counts_by_rule(),
        guard_rejections=loop_stats.rejected,
        teleports=teleports,
        wall_s=round(wall, 3),
        sim_s_per_wall_s=round(sim_s / wall, 1) if wall > 0 else 0.0,
        signals=n_signals,
        demand_scale=scenario.demand_scale,
        begin_s=start_sim,
        persons=walkers.persons,
        ped_time_loss_s=round(walkers.mean_time_loss_s, 3) if walkers.persons else None,
    )
