"""Free-passage metrics from hand-made SUMO outputs: tripinfo, edgeData, paired rows."""

from __future__ import annotations

import math

import pytest

from clearway.errors import ConfigError, SimulationError
from clearway.evaluation.free_flow import FreeFlow
from clearway.evaluation.priority_metrics import (
    OthersDelay,
    TripOutcome,
    cross_streets,
    extra_delay_veh_h,
    median,
    read_vehicle_trips,
    trip_outcome,
)
from clearway.evaluation.priority_rows import medians_by_strategy, strategy_row
from clearway.evaluation.priority_run import RunMeasures
from clearway.sim.edge_data import read_edge_time_loss_s, write_edge_data_additional
from clearway.sim.priority_trips import PriorityTrip

TRIPINFO = """<?xml version="1.0" encoding="UTF-8"?>
<tripinfos>
    <tripinfo id="a" depart="10.00" arrival="70.00" duration="60.00" departDelay="1.00" timeLoss="20.00" waitingCount="1"/>
    <tripinfo id="b" depart="12.00" arrival="-1" duration="-1" departDelay="0.00" timeLoss="30.00" waitingCount="0"/>
    <tripinfo id="c" depart="-1" arrival="-1" duration="-1" departDelay="50.00" timeLoss="0.00" waitingCount="0"/>
    <tripinfo id="ev1" depart="100.00" arrival="190.00" duration="90.00" departDelay="2.00" timeLoss="8.00" waitingCount="2"/>
    <tripinfo id="cv.0" depart="100.00" arrival="180.00" duration="80.00" departDelay="0.00" timeLoss="5.00" waitingCount="1"/>
    <tripinfo id="cv.1" depart="101.50" arrival="195.00" duration="93.50" departDelay="0.00" timeLoss="9.00" waitingCount="3"/>
    <tripinfo id="cv.2" depart="103.00" arrival="200.00" duration="97.00" departDelay="0.00" timeLoss="9.00" waitingCount="0"/>
</tripinfos>
"""

EDGEDATA = """<meandata>
    <interval begin="0.00" end="300.00" id="cw_edges">
        <edge id="x" sampledSeconds="10" timeLoss="12.50"/>
        <edge id="y" sampledSeconds="0"/>
    </interval>
    <interval begin="300.00" end="600.00" id="cw_edges">
        <edge id="x" sampledSeconds="10" timeLoss="7.50"/>
        <edge id="y" sampledSeconds="5" timeLoss="1.00"/>
    </interval>
</meandata>
"""

EV = PriorityTrip("ev1", ("e1", "e2"), 100.0)
CONVOY = PriorityTrip("cv", ("e1", "e2"), 100.0, role="convoy", importance=8, vehicle_count=3)


@pytest.fixture
def tripinfo(tmp_path):
    p = tmp_path / "tripinfo.xml"
    p.write_text(TRIPINFO)
    return p


def test_priority_vehicles_are_picked_out_and_everyone_else_summed(tmp_path, tripinfo):
    found, others = read_vehicle_trips(tripinfo, [*EV.vehicle_ids, *CONVOY.vehicle_ids])
    assert set(found) == {"ev1", "cv.0", "cv.1", "cv.2"}
    # a: 20 + 1, b (still driving): 30 + 0, c (never inserted): 0 + 50.
    assert others.vehicles == 3
    assert others.total_delay_s == pytest.approx(101.0)
    assert others.mean_time_loss_s == pytest.approx(50.0 / 3)
    assert others.p95_time_loss_s == pytest.approx(29.0)  # numpy linear interpolation
    assert found["ev1"].waiting_count == 2 and found["ev1"].depart_delay_s == 2.0


def test_single_vehicle_outcome(tripinfo):
    found, _ = read_vehicle_trips(tripinfo, EV.vehicle_ids)
    o = trip_outcome(EV, found)
    assert o == TripOutcome("ev1", True, 90.0, 2.0, 2)


def test_convoy_runs_from_lead_departure_to_last_arrival_and_counts_most_stops(tripinfo):
    found, _ = read_vehicle_trips(tripinfo, CONVOY.vehicle_ids)
    o = trip_outcome(CONVOY, found)
    assert o.arrived and o.travel_time_s == pytest.approx(200.0 - 100.0)
    assert o.stops == 3


def test_a_convoy_with_a_vehicle_still_driving_has_no_travel_time(tmp_path):
    p = tmp_path / "t.xml"
    p.write_text(TRIPINFO.replace('id="cv.2" depart="103.00" arrival="200.00"', 'id="cv.2" depart="103.00" arrival="-1"'))
    found, _ = read_vehicle_trips(p, CONVOY.vehicle_ids)
    o = trip_outcome(CONVOY, found)
    assert not o.arrived and math.isnan(o.travel_time_s)


def test_a_vehicle_never_inserted_has_not_arrived(tripinfo):
    trip = PriorityTrip("c", ("e1",), 0.0)
    found, _ = read_vehicle_trips(tripinfo, trip.vehicle_ids)
    o = trip_outcome(trip, found)
    assert not o.arrived and math.isnan(o.depart_delay_s)
    missing = trip_outcome(PriorityTrip("zz", ("e1",), 0.0), {})
    assert not missing.arrived


def test_unreadable_tripinfo_says_what_to_do(tmp_path):
    with pytest.raises(SimulationError, match="not found"):
        read_vehicle_trips(tmp_path / "none.xml", [])
    half = tmp_path / "half.xml"
    half.write_text(TRIPINFO[:300])
    with pytest.raises(SimulationError, match="close the simulation"):
        read_vehicle_trips(half, [])


def test_extra_delay_is_in_vehicle_hours_and_signed():
    assert extra_delay_veh_h(7200.0 + 1800.0, 7200.0) == pytest.approx(0.5)
    assert extra_delay_veh_h(3600.0, 7200.0) == pytest.approx(-1.0)


def test_edge_time_loss_sums_intervals_and_empty_edges_count_zero(tmp_path):
    p = tmp_path / "ed.xml"
    p.write_text(EDGEDATA)
    assert read_edge_time_loss_s(p) == {"x": pytest.approx(20.0), "y": pytest.approx(1.0)}
    p.write_text(EDGEDATA[:200])
    with pytest.raises(SimulationError, match="not complete XML"):
        read_edge_time_loss_s(p)


def test_edge_data_request_lists_the_edges_and_refuses_none(tmp_path):
    add = write_edge_data_additional(tmp_path / "a.add.xml", ["b", "a", "b"], tmp_path / "o.xml")
    text = add.read_text()
    assert 'edges="a b"' in text and str((tmp_path / "o.xml").resolve()) in text
    with pytest.raises(ConfigError, match="at least one edge"):
        write_edge_data_additional(tmp_path / "b.add.xml", [], tmp_path / "o.xml")


def test_cross_streets_are_approaches_not_on_any_route():
    into = {"J1": ["r1", "n1", "s1"], "J2": ["r2", "w2"], "J3": ["x3"]}
    assert cross_streets(into, ["J1", "J2"], ["r1", "r2", "s1"]) == ("n1", "w2")


def test_median_ignores_missing_values():
    assert median([3.0, None, 1.0, float("nan"), 2.0]) == 2.0
    assert median([None]) is None


def _measures(strategy, seed, travel, others_s, cross_s, recoveries=(), stops=1):
    return RunMeasures(
        label=strategy, strategy=strategy, seed=seed,
        trips=(TripOutcome("ev1", True, travel, 0.0, stops),),
        others=OthersDelay(100, others_s, 30.0, 90.0), cross_time_loss_s=cross_s,
        recoveries_s=tuple(recoveries), safety_violations=0, guard_rejections=0, teleports=0,
        requests_completed=1, wall_s=1.0, traces=(),
    )  # fmt: skip


def test_rows_pair_each_run_with_its_reference_and_medians_span_seeds():
    ff = {"ev1": FreeFlow("ev1", 80.0, 0)}
    rows = []
    for seed, (travel, extra_s) in enumerate([(100.0, 360.0), (120.0, 720.0), (90.0, 0.0)], 1):
        ref = _measures("none", seed, 0.0, 10_000.0, 500.0)
        run = _measures("corridor", seed, travel, 10_000.0 + extra_s, 500.0 + extra_s / 2, (20.0, 40.0))
        rows.append(strategy_row("s", run, ref, [EV], ff))
    r = rows[0]
    assert r["priority_travel_time_s"] == 100.0 and r["free_flow_time_s"] == 80.0
    assert r["ratio"] == 1.25 and r["stops"] == 1 and r["priority_arrived"]
    assert r["others_extra_delay_veh_h"] == pytest.approx(0.1)
    assert r["cross_street_extra_delay_veh_h"] == pytest.approx(0.05)
    assert r["time_to_recover_s"] == 30.0 and r["time_to_recover_max_s"] == 40.0
    m = medians_by_strategy(rows, ["corridor"])["corridor"]
    assert m["seeds"] == 3 and m["priority_travel_time_s"] == 100.0
    assert m["others_extra_delay_veh_h"] == pytest.approx(0.1)
    assert m["trips"]["ev1"]["ratio"] == 1.25
    assert m["safety_violations_total"] == 0 and m["priority_arrived_all"]
