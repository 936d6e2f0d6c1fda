"""Buses with and without conditional transit priority, on the same seeded traffic.

One run: a grid with random demand plus two bus lines (:mod:`clearway.sim.bus_lines`), fixed-
time signals, every command through the guard and the monitor watching. With ``transit`` the
normal controller is :class:`~clearway.control.transit_control.TransitFixedTimeController`,
fed each tick by a :class:`~clearway.control.priority.bus_board.BusBoard` with the buses'
positions (the twin reports only the buses, as an operator's AVL would) and the GTFS schedule
it wrote. Measured after the run from SUMO's outputs: each bus's lateness at its last stop
(stop output against the GTFS schedule), bus and other vehicles' time loss (tripinfo).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from clearway.control.fixed_time import FixedTimeController
from clearway.control.priority.bus_board import BusBoard, BusReport, read_lines
from clearway.control.priority.gtfs import read_schedule
from clearway.control.priority.transit import TransitSettings
from clearway.control.runtime import ControlLoop
from clearway.control.transit_control import TransitFixedTimeController
from clearway.evaluation.metrics import tripinfo_records
from clearway.monitor import SafetyMonitor
from clearway.network import load_network
from clearway.signals.build import build_intersections
from clearway.signals.model import GREEN_CHARS
from clearway.signals.safety import SafetyGuard
from clearway.sim.bus_lines import BusService, bus_trips, grid_bus_lines, with_buses, write_gtfs
from clearway.sim.scenario import grid_scenario
from clearway.sim.twin import SumoTwin


@dataclass(frozen=True)
class TransitRunMeasures:
    """One run's figures.

    Attributes
    ----------
    label, seed
        ``"transit"`` or ``"none"``, and the seed.
    lateness_last_stop_s
        Per bus that reached its last stop: arrival there minus the schedule (s).
    bus_time_loss_s, others_time_loss_s
        Mean time loss of the buses and of every other vehicle (s).
    buses, unfinished_buses
        Buses run, and those that had not reached their last stop by the end (count).
    extensions, early_greens
        Green extensions and early greens transit priority gave (count).
    safety_violations, guard_rejections
        What the independent monitor saw, and commands the guard refused (count).
    longest_red_s
        Longest any signal link that the program turns green went without green (s): every
        movement, the cross streets' included, is still served each cycle.
    """

    label: str
    seed: int
    lateness_last_stop_s: tuple[float, ...]
    bus_time_loss_s: float
    others_time_loss_s: float
    buses: int
    unfinished_buses: int
    extensions: int = 0
    early_greens: int = 0
    safety_violations: int = 0
    guard_rejections: int = 0
    longest_red_s: float = 0.0
    actions: tuple[tuple[float, str, str, float], ...] = field(default=(), repr=False)


class _RedWatch:
    """Per signal link, the longest time without green, from the states the twin shows."""

    def __init__(self, signals: list[str]) -> None:
        self.signals = signals
        self._last: dict[tuple[str, int], float] = {}
        self.longest_s = 0.0

    def __call__(self, t: float, states) -> None:
        for sid in self.signals:
            for i, c in enumerate(states[sid]):
                key = (sid, i)
                if c in GREEN_CHARS:
                    if key in self._last:
                        self.longest_s = max(self.longest_s, t - self._last[key])
                    self._last[key] = t


class _TwinBuses:
    """Reads the buses' positions from the twin (only the buses) into the board."""

    def __init__(self, twin: SumoTwin, board: BusBoard, bus_ids: list[str]) -> None:
        self.twin, self.board = twin, board
        for vid in bus_ids:
            twin.track_priority_vehicle(vid)

    def bus_approaches(self, now_s: float):
        for vid, pos in self.twin.priority_positions().items():
            place = pos.place
            self.board.observe(
                vid, BusReport(vid, place.edge_id, place.offset_m, pos.speed_mps, pos.time_s)
            )
        return self.board.bus_approaches(now_s)


def run_buses(
    out_dir: Path,
    *,
    seed: int,
    transit: bool,
    size: str = "5x5",
    end_s: float = 1800.0,
    load: str = "moderate",
    service: BusService | None = None,
    settings: TransitSettings | None = None,
) -> TransitRunMeasures:
    """Run the bus grid once (``transit``: with conditional priority) and measure it."""
    service = service or BusService(last_s=max(end_s - 600.0, 60.0))
    base = grid_scenario(out_dir, size, seed=seed, end_s=end_s, load=load)
    net = load_network(base.net_file)
    nx, ny = (int(v) for v in size.split("x"))
    lines = grid_bus_lines(net, nx, ny)
    trips = bus_trips(net, lines, service, seed)
    gtfs = write_gtfs(out_dir / f"gtfs-s{seed}", lines, trips)
    scenario = with_buses(base, lines, trips, service, out_dir)
    label = "transit" if transit else "none"
    tripinfo = out_dir / f"tripinfo-buses-{label}-s{seed}.xml"
    stops_out = out_dir / f"stops-buses-{label}-s{seed}.xml"
    models = build_intersections(net)
    guard, monitor = SafetyGuard(models), SafetyMonitor(net, models)
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    twin = SumoTwin.start(
        scenario, tripinfo_path=tripinfo, extra_args=["--stop-output", str(stops_out)]
    )
    try:
        board = BusBoard(read_schedule(gtfs), read_lines(gtfs))
        if transit:
            feed = _TwinBuses(twin, board, [b.trip_id for b in trips])
            controller = TransitFixedTimeController(net, models, programs, feed, settings)
        else:
            controller = FixedTimeController(models, programs)
        twin.add_step_listener(lambda t, states: monitor.observe(t, {s: states[s] for s in models}))
        reds = _RedWatch(sorted(models))
        twin.add_step_listener(reds)
        loop = ControlLoop(twin, twin, twin, guard, controller)
        loop.run(end_s - twin.now_s())
        rejected = loop.stats.rejected
    finally:
        twin.close()
    actions = tuple(getattr(controller, "actions", ()))
    last_call = {b.trip_id: (b.calls[-1][0], b.calls[-1][1]) for b in trips}
    lateness = []
    for el in ElementTree.parse(stops_out).getroot().iter("stopinfo"):
        want = last_call.get(el.get("id", ""))
        if want is not None and el.get("busStop") == want[0]:
            lateness.append(float(el.get("started", "nan")) - want[1])
    bus_loss, other_loss = [], []
    for rec in tripinfo_records(tripinfo):
        (bus_loss if rec.get("id") in last_call else other_loss).append(
            float(rec.get("timeLoss", 0.0))
        )
    return TransitRunMeasures(
        label=label,
        seed=seed,
        lateness_last_stop_s=tuple(lateness),
        bus_time_loss_s=statistics.fmean(bus_loss) if bus_loss else float("nan"),
        others_time_loss_s=statistics.fmean(other_loss) if other_loss else float("nan"),
        buses=len(trips),
        unfinished_buses=len(trips) - len(lateness),
        extensions=sum(1 for a in actions if a[2] == "extend"),
        early_greens=sum(1 for a in actions if a[2] == "early"),
        safety_violations=monitor.violation_count,
        guard_rejections=rejected,
        longest_red_s=reds.longest_s,
        actions=actions,
    )


def spread(values: tuple[float, ...] | list[float]) -> dict[str, float]:
    """Median and interquartile range of ``values`` (s); NaN for none."""
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return {"median_s": v, "iqr_s": float("nan")}
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median_s": q2, "iqr_s": q3 - q1}
