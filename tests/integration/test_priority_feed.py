"""The twin reports positions of declared priority vehicles, and of no other vehicle."""

from __future__ import annotations

import pytest

from clearway.control.priority import EdgePlace
from clearway.ports import PriorityVehicleFeed
from clearway.sim.scenario import grid_scenario
from clearway.sim.twin import SumoTwin

pytestmark = pytest.mark.sumo


def test_only_tracked_vehicles_are_reported_with_edge_offset_and_speed(tmp_path):
    sc = grid_scenario(tmp_path, size="3x3", seed=2, end_s=200.0, load="moderate")
    with SumoTwin.start(sc) as twin:
        assert isinstance(twin, PriorityVehicleFeed)
        twin.track_priority_vehicle("0")
        twin.track_priority_vehicle("no-such-vehicle")
        seen = []
        for _ in range(60):
            twin.advance(1.0)
            pos = twin.priority_positions()
            assert set(pos) <= {"0"}
            if "0" in pos:
                seen.append(pos["0"])
        assert seen, "vehicle 0 never reported"
        p = seen[-1]
        assert isinstance(p.place, EdgePlace) and p.time_s == twin.now_s()
        assert p.speed_mps >= 0 and p.place.offset_m >= 0
        times = [u.time_s for u in seen]
        assert times == sorted(times)
        twin.untrack_priority_vehicle("0")
        twin.advance(1.0)
        assert twin.priority_positions() == {}
