"""Do a booked convoy's quoted hold windows cover the holds the corridor really makes for it?

For each load and seed: the 3x3 grid twin at 20x real time behind the service, 600 s of
detector history, a convoy (4 vehicles, 60 m, 12.5 m/s, A0A1 -> B2C2) quoted and confirmed for
a departure window 60 s ahead (of zero length), then driven by the twin along its booked route
at that moment. Per signal: the quoted window and expected vehicles held, and the hold the
corridor made (the desk's recovery records). Writes ``bench/convoy_windows.json`` and ``.md``.

    .venv/bin/python bench/convoy_windows.py [--loads light moderate] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clearway.service.runtime import ServiceRuntime  # noqa: E402
from clearway.sim.scenario import grid_scenario  # noqa: E402
from clearway.storage.db import make_engine, session_factory  # noqa: E402
from clearway.storage.migrate import upgrade  # noqa: E402
from tests.service.conftest import make_service  # noqa: E402

BODY = {
    "incident_id": "OP-B", "origin_edge": "A0A1", "destination_edge": "B2C2",
    "vehicle_count": 4, "length_m": 60.0, "cruise_speed_mps": 12.5,
}  # fmt: skip
FINAL = ("completed", "expired", "cancelled")


def one_run(load: str, seed: int) -> dict:
    tmp = Path(tempfile.mkdtemp())
    scn = grid_scenario(tmp / "scn", size="3x3", end_s=3600, load=load, seed=seed)
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    rt = ServiceRuntime(scn, strategy="corridor", speed=20.0)
    svc = make_service(engine, session_factory(engine), None, runtime=rt)
    try:
        with svc.client:
            while rt.flows.observed_s < 600:
                time.sleep(0.2)
            now = rt.now_s()
            window = {"window_start_s": now + 60, "window_end_s": now + 60}
            q = svc.client.post(
                "/convoys/plans", json=BODY | {"convoy_id": "B-1"} | window,
                headers=svc.as_("dispatcher"),
            )  # fmt: skip
            c = svc.client.post(
                f"/convoys/plans/{q.json()['plan_id']}/confirm", headers=svc.as_("dispatcher")
            )
            assert c.status_code == 201, c.text
            plan = c.json()
            rid = plan["request_id"]
            while rt.now_s() < plan["window_start_s"]:
                time.sleep(0.01)
            with rt.lock:  # the convoy turns up at its window start, on the booked route
                rt.insert_vehicles(rt.get(rid).record)
            while rt.get(rid).record.state.value not in FINAL:
                time.sleep(0.2)
            time.sleep(1.0)
            with rt.lock:
                holds = {r.signal_id: r for r in rt.desk().recoveries}
            state = rt.get(rid).record.state.value
    finally:
        engine.dispose()
    rows = []
    for j in plan["junctions"]:
        h = holds.get(j["signal_id"])
        rows.append({
            "signal_id": j["signal_id"], "quoted_from_s": round(j["hold_from_s"], 1),
            "quoted_to_s": round(j["hold_to_s"], 1), "quoted_hold_s": round(j["hold_s"], 1),
            "cross_flow_vph": j["cross_flow_vph"], "flow_source": j["flow_source"],
            "expected_vehicles_held": j["expected_vehicles_held"],
            "held_from_s": None if h is None else h.hold_start_s,
            "held_to_s": None if h is None else h.hold_end_s,
            "inside": None if h is None else (
                j["hold_from_s"] <= h.hold_start_s and h.hold_end_s <= j["hold_to_s"]
            ),
        })  # fmt: skip
    return {"load": load, "seed": seed, "state": state, "route": plan["route"], "signals": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", nargs="+", default=["light", "moderate"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    runs = [one_run(load, seed) for load in args.loads for seed in args.seeds]
    out = ROOT / "bench" / "convoy_windows.json"
    out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    lines = [
        "| load | seed | signal | quoted window (s) | real hold (s) | inside | cross flow (veh/h) "
        "| vehicles held (quoted) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for r in run["signals"]:
            held = "no hold" if r["held_from_s"] is None else (
                f"{r['held_from_s']:.0f}-{r['held_to_s']:.0f} "
                f"({r['held_to_s'] - r['held_from_s']:.0f})"
            )  # fmt: skip
            inside = "–" if r["inside"] is None else ("yes" if r["inside"] else "**no**")
            lines.append(
                f"| {run['load']} | {run['seed']} | {r['signal_id']} | {r['quoted_from_s']:.0f}-"
                f"{r['quoted_to_s']:.0f} ({r['quoted_hold_s']:.0f}) | {held} | {inside} | "
                f"{r['cross_flow_vph']:.0f} ({r['flow_source']}) | {r['expected_vehicles_held']:.1f} |"
            )
    held = [r for run in runs for r in run["signals"] if r["inside"] is not None]
    lines.append("")
    lines.append(
        f"{sum(r['inside'] for r in held)} of {len(held)} real holds inside their quoted window."
    )
    (ROOT / "bench" / "convoy_windows.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
