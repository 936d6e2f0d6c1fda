"""SNMP on loopback: what a control tick costs per controller, synthetic and on the real port.

The agents run in a child process so the manager's measured time is its own CPU plus the
agent's, as with a cabinet on the network, minus the wire. Everything is SNMPv3 authPriv
(SHA/AES-128).

- ``synthetic``: GET and SET of six varbinds each (the status and control groups) against
  :class:`~clearway.field.snmp_agent.DictObjectStore` agents, one after the other, and a
  tick of many of them gathered concurrently on one :class:`~clearway.field.snmp_client.
  SnmpRunner`.
- ``port``: the real port, :class:`~clearway.field.port.FieldSignals`, over N virtual
  controllers (:class:`~clearway.field.virtual.nema_controller.DualRingController` behind
  :class:`~clearway.field.virtual.mib.ControllerMib` and an
  :class:`~clearway.field.snmp_agent.NtcipAgent` each, own port and engine id, stepped every
  0.1 s in the child) with the phase maps of the signals on the Berlin scenario route, cycled
  to reach N. A tick is what the control loop runs: ``read_signal_states``,
  ``read_traffic_state``, the guard on a hold of the shown state for every other junction,
  ``apply`` of the approvals, ``end_tick``. Ticks run back to back (a loaded agent process),
  the first one (engine discovery, ``unitBackupTime`` SET) reported apart.

    .venv/bin/python bench/snmp_bench.py [--calls 300] [--controllers 20] [--synthetic-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.field.ntcip import SnmpType, obj
from clearway.field.snmp_agent import DictObjectStore, NtcipAgent
from clearway.field.snmp_client import SnmpRunner, SnmpTarget, SnmpV3Credentials
from clearway.signals.model import Intersection
from clearway.signals.nema import PhaseMap

USER = SnmpV3Credentials("bench", "bench-auth-key", "bench-priv-key")
STATUS = [obj(n).instance(1) for n in ("phaseStatusGroupReds", "phaseStatusGroupYellows",
          "phaseStatusGroupGreens", "phaseStatusGroupWalks", "phaseStatusGroupPedClears",
          "phaseStatusGroupPhaseNexts")]  # fmt: skip
CONTROL = [obj(n).instance(1) for n in ("phaseControlGroupPhaseOmit", "phaseControlGroupPedOmit",
           "phaseControlGroupHold", "phaseControlGroupForceOff", "phaseControlGroupVehCall",
           "phaseControlGroupPedCall")]  # fmt: skip
#: Controllers on the real port, and back-to-back ticks measured at each count.
PORT_TICKS = {10: 300, 20: 150, 50: 60}
#: The virtual controllers step this often in the child (s), as a cabinet's 100 ms clock.
STEP_S = 0.1
#: Their backup time (s): longer than any tick, so no controller falls back mid-run.
BACKUP_TIME_S = 30.0


def _store() -> DictObjectStore:
    values = {oid: (SnmpType.INTEGER, 0) for oid in STATUS + CONTROL}
    return DictObjectStore(values, writable=CONTROL)


def _serve(n_agents: int, ports: mp.Queue, stop: mp.Event) -> None:
    async def main() -> None:
        agents = [NtcipAgent(_store(), port=0, v3_users=[USER]) for _ in range(n_agents)]
        for a in agents:
            await a.start()
        ports.put([a.port for a in agents])
        while not stop.is_set():
            await asyncio.sleep(0.05)
        for a in agents:
            await a.stop()

    asyncio.run(main())


def _ms(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(q[49] * 1e3, 3), "p99_ms": round(q[98] * 1e3, 3),
            "mean_ms": round(statistics.fmean(samples) * 1e3, 3)}  # fmt: skip


def _child(target, *args) -> tuple[mp.Process, mp.Event, list[int]]:  # noqa: ANN001
    ports_q: mp.Queue = mp.Queue()
    stop = mp.Event()
    child = mp.Process(target=target, args=(*args, ports_q, stop), daemon=True)
    child.start()
    return child, stop, ports_q.get(timeout=120)


def run(calls: int, controllers: int) -> dict:
    """The synthetic measurement: six-varbind GET/SET on one agent, a tick of many."""
    child, stop, ports = _child(_serve, controllers)
    try:
        with SnmpRunner() as runner:
            clients = [runner.client(SnmpTarget("127.0.0.1", p, USER, 1.0, 1)) for p in ports]
            one = clients[0]
            runner.run(one.get(STATUS))  # engine discovery and key localisation, once
            get_s, set_s, both_s = [], [], []
            for k in range(calls):
                t0 = time.perf_counter()
                runner.run(one.get(STATUS))
                t1 = time.perf_counter()
                runner.run(one.set([(oid, k % 256) for oid in CONTROL]))
                t2 = time.perf_counter()
                get_s.append(t1 - t0)
                set_s.append(t2 - t1)
                both_s.append(t2 - t0)
            runner.gather([c.get(STATUS) for c in clients])  # discovery for the rest
            tick_s = []
            for k in range(max(20, calls // 10)):
                t0 = time.perf_counter()
                runner.gather([c.get(STATUS) for c in clients])
                runner.gather([c.set([(o, k % 256) for o in CONTROL]) for c in clients])
                tick_s.append(time.perf_counter() - t0)
    finally:
        stop.set()
        child.join(10)
    return {
        "snmp": "v3 authPriv SHA/AES-128, loopback, agents in a child process",
        "varbinds_per_pdu": len(STATUS),
        "calls": calls,
        "get": _ms(get_s),
        "set": _ms(set_s),
        "get_plus_set": _ms(both_s),
        "tick": {"controllers": controllers, **_ms(tick_s)},
    }


# -- the real port over virtual controllers ----------------------------------------------------
@dataclass(frozen=True)
class Cabinet:
    """One virtual controller of the port measurement: its (possibly aliased) phase map and
    model, and how many vehicle detectors it reports."""

    phase_map: PhaseMap
    model: Intersection
    detectors: int


def berlin_cabinets(n: int, out: Path) -> tuple[list[Cabinet], list[str]]:
    """``n`` controllers with the phase maps of the Berlin route's signals, cycled; a copy
    gets the id ``<signal>~<k>`` (distinct ids for the port and the guard).

    Returns
    -------
    cabinets, route_signals
        The controllers, and the route's signal ids they were taken from.
    """
    from clearway.control.priority.corridor import signal_of_junction
    from clearway.evaluation.priority_scenarios import BERLIN_TRIP, named_setup
    from clearway.field.config import config_for
    from clearway.field.wiring import detector_lanes
    from clearway.network import load_network
    from clearway.network.graph import build_routing_graph
    from clearway.network.routing import fastest_route
    from clearway.signals.build import build_intersections

    net = load_network(named_setup("berlin", out).net_file)
    models = build_intersections(net, None)
    route = fastest_route(build_routing_graph(net, "emergency"), *BERLIN_TRIP)
    sj = signal_of_junction(net)
    sids = list(dict.fromkeys(sj[j] for j in route.junctions if j in sj))
    cfg = config_for(net, models, sids, "127.0.0.1", 1, "env:UNUSED")  # ports come from the agents
    base = [Cabinet(c.phase_map, models[c.signal_id], len(detector_lanes(net, c.phase_map)))
            for c in cfg.controllers]  # fmt: skip
    cabinets = []
    for k in range(n):
        cab = base[k % len(base)]
        if k >= len(base):
            alias = f"{cab.phase_map.signal_id}~{k // len(base)}"
            cab = replace(cab, phase_map=replace(cab.phase_map, signal_id=alias),
                          model=replace(cab.model, signal_id=alias))  # fmt: skip
        cabinets.append(cab)
    return cabinets, sids


def _serve_controllers(cabinets: list[Cabinet], ports: mp.Queue, stop: mp.Event) -> None:
    from clearway.field.virtual.mib import ControllerMib
    from clearway.field.virtual.nema_controller import DualRingController
    from clearway.field.virtual.phase_timings import phase_timings_from_model

    async def main() -> None:
        t0 = time.time()
        # No detectors drive these controllers: every phase on recall, so each cycles.
        ctls = [DualRingController(c.phase_map, phase_timings_from_model(c.phase_map, c.model),
                                   recalls=c.phase_map.numbers, backup_time_s=BACKUP_TIME_S,
                                   start_s=t0) for c in cabinets]  # fmt: skip
        mibs = [
            ControllerMib(ctl, detector_count=c.detectors)
            for ctl, c in zip(ctls, cabinets, strict=True)
        ]
        agents = [NtcipAgent(m, "127.0.0.1", 0, v3_users=[USER]) for m in mibs]
        for a in agents:
            await a.start()
        ports.put([a.port for a in agents])
        k = 0
        while not stop.is_set():
            now = time.time()
            for ctl, mib, cab in zip(ctls, mibs, cabinets, strict=True):
                ctl.step(now)
                mib.set_detectors([(k + d) % 3 for d in range(cab.detectors)],
                                  [10.0 * ((k + d) % 3) for d in range(cab.detectors)])  # fmt: skip
            k += 1
            await asyncio.sleep(STEP_S)
        for a in agents:
            await a.stop()

    asyncio.run(main())


def run_port(cabinets: list[Cabinet], ticks: int) -> dict:
    """Ticks of :class:`FieldSignals` over ``cabinets`` served by a child process."""
    from clearway.field.port import FieldController, FieldSignals
    from clearway.signals.safety import SafetyGuard, SignalCommand
    from clearway.signals.timers import SignalTimers

    load_before = round(os.getloadavg()[0], 2)  # the machine is shared: say how busy it was
    models = {c.phase_map.signal_id: c.model for c in cabinets}
    guard = SafetyGuard(models)
    child, stop, ports = _child(_serve_controllers, cabinets)
    try:
        runner = SnmpRunner("bench-field")
        ctls = [FieldController(c.phase_map.signal_id, c.phase_map,
                                SnmpTarget("127.0.0.1", p, USER, timeout_s=1.0, retries=1),
                                BACKUP_TIME_S, tuple(f"det{d}" for d in range(c.detectors)))
                for c, p in zip(cabinets, ports, strict=True)]  # fmt: skip
        signals = FieldSignals(ctls, runner, now_s=time.time)
        held = signals.signal_ids()[::2]  # about half the junctions commanded each tick
        timers: dict[str, SignalTimers] = {}
        tick_s: list[float] = []
        rejected = applied = 0
        try:
            for _ in range(ticks + 1):
                t0 = time.perf_counter()
                now = time.time()
                states = signals.read_signal_states()
                signals.read_traffic_state()
                for sid, st in states.items():
                    tm = timers.get(sid)
                    timers[sid] = (
                        SignalTimers.start(sid, st, now) if tm is None else tm.observe(st, now)
                    )
                commanded = []
                for sid in held:
                    if sid in signals.degraded:
                        continue
                    v = guard.check(
                        SignalCommand(sid, states[sid], now, then=states[sid]), timers[sid]
                    )
                    if v.approved is None:
                        rejected += 1
                        continue
                    signals.apply(v.approved)
                    commanded.append(sid)
                    applied += 1
                signals.end_tick(now, commanded)
                tick_s.append(time.perf_counter() - t0)
            faults = len(signals.faults)
            degraded = sorted(signals.degraded)
        finally:
            signals.close()
            runner.close()
    finally:
        stop.set()
        child.join(10)
    n = len(cabinets)
    steady = tick_s[1:]
    mean_s = statistics.fmean(steady)
    per = _ms([t / n for t in steady])
    return {
        "controllers": n,
        "load_average_before": load_before,
        "commanded_per_tick": len(held),
        "ticks": ticks,
        "first_tick_ms": round(tick_s[0] * 1e3, 3),
        "tick": _ms(steady),
        "per_junction": per,
        "junctions_per_s": round(n / mean_s, 1),
        "approved": applied,
        "rejected": rejected,
        "faults": faults,
        "degraded": degraded,
    }


def case_snmp(out: Path, synthetic_calls: int = 300, synthetic_controllers: int = 20) -> dict:
    """``make bench``'s ``snmp`` case: the synthetic GET/SET and the real port at each N."""
    t0 = time.perf_counter()
    synthetic = run(synthetic_calls, synthetic_controllers)
    cabinets, sids = berlin_cabinets(max(PORT_TICKS), out / "snmp")
    port = {str(n): run_port(cabinets[:n], ticks) for n, ticks in PORT_TICKS.items()}
    return {
        "snmp": "v3 authPriv SHA/AES-128, loopback, agents in a child process",
        "cores": os.cpu_count(),
        "load_average_before": list(os.getloadavg()),
        "synthetic": synthetic,
        "port": {"route_signals": sids, "step_s": STEP_S, "by_controllers": port},
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def markdown(r: dict | None) -> list[str]:
    """Lines for ``bench/results.md``."""
    if not r:
        return []
    s, p = r["synthetic"], r["port"]
    lines = [
        "",
        f"## SNMP on loopback — {r['snmp']} ({r['cores']} cores, load average "
        f"{r['load_average_before'][0]:.1f} before, case wall {r['wall_s']:.0f} s)",
        "",
        f"Real port (`FieldSignals`) over virtual NEMA controllers with the phase maps of the "
        f"{len(p['route_signals'])} signals on the Berlin route (cycled), stepped every "
        f"{p['step_s']:g} s; a tick = read states + detectors, guard + apply a hold on every "
        "other junction, end_tick; ticks back to back.",
        "",
        "| controllers | commanded | ticks | first tick (ms) | tick p50 (ms) | tick p99 (ms) "
        "| per junction p50 / p99 (ms) | junctions/s | faults | load average before |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, t in p["by_controllers"].items():
        lines.append(
            f"| {n} | {t['commanded_per_tick']} | {t['ticks']} | {t['first_tick_ms']:.0f} "
            f"| {t['tick']['p50_ms']:.1f} | {t['tick']['p99_ms']:.1f} "
            f"| {t['per_junction']['p50_ms']:.2f} / {t['per_junction']['p99_ms']:.2f} "
            f"| {t['junctions_per_s']:.0f} | {t['faults']} | {t.get('load_average_before', '')} |"
        )
    tk = s["tick"]
    lines += [
        "",
        f"- synthetic ({s['varbinds_per_pdu']} varbinds, DictObjectStore agents): GET p50 "
        f"{s['get']['p50_ms']:.2f} ms (p99 {s['get']['p99_ms']:.2f}), SET p50 "
        f"{s['set']['p50_ms']:.2f} ms (p99 {s['set']['p99_ms']:.2f}); GET+SET of "
        f"{tk['controllers']} agents gathered p50 {tk['p50_ms']:.1f} ms (p99 {tk['p99_ms']:.1f})",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--controllers", type=int, default=20)
    ap.add_argument("--synthetic-only", action="store_true")
    args = ap.parse_args()
    if args.synthetic_only:
        print(json.dumps(run(args.calls, args.controllers), indent=2))
        return
    r = case_snmp(Path(__file__).resolve().parent / "out", args.calls, args.controllers)
    print(json.dumps(r, indent=2))
    print("\n".join(markdown(r)))


if __name__ == "__main__":
    main()
