"""The live service acting on the bus feed (not part of ``make bench``; writes nothing under
bench/): a 3x3 twin with the two bus lines of ``clearway.sim.bus_lines`` (every bus 120 s
late), 25x real time, an AVL (the twin's buses, as ``tests/service/test_transit_live.py``
reads them) posting ``/transit/positions`` every 40 ms; counts the ``transit.priority``
records by action.

    .venv/bin/python bench/transit_service.py OUT_DIR [SIMULATED_S=900]
"""

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clearway.service.runtime import ServiceRuntime
from clearway.service.runtime_transit import TRANSIT_PRIORITY_KIND
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade
from tests.service.conftest import make_service
from tests.service.test_transit_live import _avl, _bus_city

tmp = Path(sys.argv[1])
tmp.mkdir(parents=True, exist_ok=True)
until_s = float(sys.argv[2]) if len(sys.argv) > 2 else 900.0
scenario, gtfs, trips = _bus_city(tmp / "sc")
upgrade(f"sqlite:///{tmp / 'db.sqlite'}")
engine = make_engine(f"sqlite:///{tmp / 'db.sqlite'}")
rt = ServiceRuntime(scenario, strategy="corridor", speed=25.0, gtfs_dir=str(gtfs))
svc = make_service(engine, session_factory(engine), None, runtime=rt)
feeds = 0
t0 = time.perf_counter()
with svc.client:
    while rt.now_s() < until_s:
        body = _avl(rt, trips)
        if body:
            r = svc.client.post(
                "/transit/positions", json={"positions": body}, headers=svc.as_("dispatcher")
            )
            assert r.status_code == 200, r.text
            feeds += 1
        time.sleep(0.04)
    recs = list(svc.ctx.audit.query(kind=TRANSIT_PRIORITY_KIND, limit=1000).records)
wall = time.perf_counter() - t0
acts = Counter(r.payload["action"] for r in recs)
moved = [r.payload["moved_s"] for r in recs]
buses = {b["vehicle_id"] for r in recs for b in r.payload["buses"]}
print(
    f"simulated {until_s:.0f} s in {wall:.1f} s wall; feeds {feeds}; records {len(recs)} {dict(acts)}; "
    f"moved median {statistics.median(moved):.1f} s max {max(moved):.1f} s; buses served {len(buses)} of {len(trips)}; "
    f"monitor violations {len(rt.violations)}; runtime error {rt.error}"
)
