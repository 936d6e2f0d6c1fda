"""Virtual NEMA controllers that drive signals of the SUMO twin, stepped with it.

Each controller is a :class:`~clearway.field.virtual.nema_controller.DualRingController`
with timings never shorter than the intersection model's; its vehicle detectors are the
twin's detectors on the lanes its phases serve (a phase that no detector sees is recalled
every cycle, or it would never be served). Every simulation step the controllers see the
detectors, run their own logic and show their state on the twin's signals.

Used by the virtual street (behind SNMP agents) and, in process, by ``clearway evaluate
--normal nema`` (the corridor through NEMA controllers, step for step with the twin).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from clearway.errors import ClearwayError
from clearway.field.virtual.nema_controller import DualRingController
from clearway.field.virtual.phase_timings import phase_timings_from_model
from clearway.network.model import Network
from clearway.signals.model import Intersection
from clearway.signals.nema import PhaseMap, never_green_in
from clearway.signals.nema_check import check_phase_map
from clearway.signals.nema_derive import derive_phase_map
from clearway.sim.twin import SumoTwin


def derivable_phase_maps(
    net: Network, models: Mapping[str, Intersection], signal_ids: Iterable[str]
) -> tuple[dict[str, PhaseMap], dict[str, str]]:
    """Phase maps derived from each signal's default program, and why the others have none.

    Returns
    -------
    maps, problems
        Per signal id its checked phase map; per signal id without one, the reason (a
        program whose phases no dual-ring controller can run).
    """
    maps: dict[str, PhaseMap] = {}
    problems: dict[str, str] = {}
    for sid in signal_ids:
        try:
            tl = net.traffic_lights[sid]
            pm = derive_phase_map(models[sid], tl.default_program, net.signal_links(sid))
            never = never_green_in(models[sid], tl.programs.values())
            found = check_phase_map(pm, models[sid], links=net.signal_links(sid), never_green=never)
        except ClearwayError as exc:
            problems[sid] = str(exc)
            continue
        if found:
            problems[sid] = "; ".join(map(str, found))
        else:
            maps[sid] = pm
    return maps, problems


class TwinCabinets:
    """The controllers of some of the twin's signals (see the module docstring).

    Parameters
    ----------
    twin
        A started twin; the caller steps it and closes it.
    net, models
        The network and the intersection models of its signals.
    phase_maps
        Per signal id to drive, its controller's phase map.
    backup_time_s
        Each controller's backup time until set otherwise (s); one for all, or per signal id.
    """

    def __init__(
        self,
        twin: SumoTwin,
        net: Network,
        models: Mapping[str, Intersection],
        phase_maps: Mapping[str, PhaseMap],
        *,
        backup_time_s: float | Mapping[str, float] = 10.0,
    ) -> None:
        self.twin = twin
        t0 = twin.now_s()
        detected = set(twin.detector_lane_ids)
        self.controllers: dict[str, DualRingController] = {}
        self._phase_lanes: dict[str, dict[int, tuple[str, ...]]] = {}
        for sid, pm in phase_maps.items():
            lanes_of = {lk.signal_index: lk.from_lane for lk in net.signal_links(sid)}
            per_phase = {
                p.number: tuple(sorted({lanes_of[i] for i in p.links if i in lanes_of} & detected))
                for p in pm.phases
            }
            recalls = frozenset(n for n, lanes in per_phase.items() if not lanes)
            self.controllers[sid] = DualRingController(
                pm, phase_timings_from_model(pm, models[sid]), recalls=recalls,
                backup_time_s=(
                    backup_time_s if isinstance(backup_time_s, int | float) else backup_time_s[sid]
                ),
                start_s=t0,
            )  # fmt: skip
            self._phase_lanes[sid] = per_phase

    def step(self) -> tuple[dict[str, float], dict[str, float]]:
        """Step every controller to the twin's time from its detectors, and show its state.

        Returns
        -------
        counts, occupancy_pct
            Per detected lane the vehicles on its detector now and its occupancy (%), for
            a caller that reports them (e.g. an NTCIP agent's detector objects).
        """
        now = self.twin.now_s()
        traffic = self.twin.read_traffic_state(("vehicle_count", "occupancy_pct"))
        counts = dict(zip(traffic.lane_ids, map(float, traffic.vehicle_count), strict=True))
        occupancy = {
            ln: (0.0 if math.isnan(o) else float(o))
            for ln, o in zip(traffic.lane_ids, traffic.occupancy_pct, strict=True)
        }
        present = {lane for lane, n in counts.items() if n > 0}
        for sid, ctl in self.controllers.items():
            calls = frozenset(
                n for n, lanes in self._phase_lanes[sid].items()
                if any(ln in present for ln in lanes)
            )  # fmt: skip
            ctl.step(now, calls)
            self.twin.show_field_state(sid, ctl.state_string())
        return counts, occupancy


__all__ = ["TwinCabinets", "derivable_phase_maps"]
