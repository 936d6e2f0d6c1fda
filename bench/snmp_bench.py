"""SNMP round trip on loopback: what one control tick pays per controller.

The agents (virtual controllers) run in a child process so the manager's measured time is
its own CPU plus the agent's, as with a cabinet on the network, minus the wire. Measures
GET and SET of six varbinds each (the status and control groups a tick reads and writes)
over SNMPv3 authPriv (SHA/AES-128), one after the other, and a tick of many controllers
gathered concurrently on one :class:`~clearway.field.snmp_client.SnmpRunner`. Prints JSON.

    .venv/bin/python bench/snmp_bench.py [--calls 500] [--controllers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import time

from clearway.field.ntcip import SnmpType, obj
from clearway.field.snmp_agent import DictObjectStore, NtcipAgent
from clearway.field.snmp_client import SnmpRunner, SnmpTarget, SnmpV3Credentials

USER = SnmpV3Credentials("bench", "bench-auth-key", "bench-priv-key")
STATUS = [obj(n).instance(1) for n in ("phaseStatusGroupReds", "phaseStatusGroupYellows",
          "phaseStatusGroupGreens", "phaseStatusGroupWalks", "phaseStatusGroupPedClears",
          "phaseStatusGroupPhaseNexts")]  # fmt: skip
CONTROL = [obj(n).instance(1) for n in ("phaseControlGroupPhaseOmit", "phaseControlGroupPedOmit",
           "phaseControlGroupHold", "phaseControlGroupForceOff", "phaseControlGroupVehCall",
           "phaseControlGroupPedCall")]  # fmt: skip


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


def run(calls: int, controllers: int) -> dict:
    ports_q: mp.Queue = mp.Queue()
    stop = mp.Event()
    child = mp.Process(target=_serve, args=(controllers, ports_q, stop), daemon=True)
    child.start()
    ports = ports_q.get(timeout=60)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--controllers", type=int, default=20)
    args = ap.parse_args()
    print(json.dumps(run(args.calls, args.controllers), indent=2))


if __name__ == "__main__":
    main()
