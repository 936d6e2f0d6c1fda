"""GTFS static schedules and lateness (clearway.control.priority.gtfs), and the conditional
transit decision (clearway.control.priority.transit) on hand-made cases."""

from __future__ import annotations

import pytest

from clearway.control.priority.gtfs import (
    ScheduleError,
    lateness_at_stop_s,
    lateness_s,
    parse_gtfs_time,
    parse_schedule,
    read_schedule,
    scheduled_at_s,
)
from clearway.control.priority.transit import (
    Action,
    BusCall,
    PhaseWindow,
    Served,
    TransitSettings,
    decide,
)

TRIPS = "route_id,service_id,trip_id\nL1,wk,L1_0\nL1,wk,L1_1\n"
STOP_TIMES = (
    "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "L1_0,07:00:00,07:00:00,A,1\n"
    "L1_0,07:01:40,07:02:00,B,2\n"
    "L1_0,07:04:00,07:04:00,C,3\n"
    "L1_1,25:00:10,,A,1\n"
)
DIST = {"A": 0.0, "B": 500.0, "C": 1500.0}


def test_gtfs_time_past_midnight_and_errors() -> None:
    assert parse_gtfs_time("07:05:30") == 7 * 3600 + 5 * 60 + 30
    assert parse_gtfs_time(" 25:10:00") == 25 * 3600 + 600
    for bad in ("7:05", "07:60:00", "aa:00:00", "-1:00:00"):
        with pytest.raises(ScheduleError, match="GTFS time"):
            parse_gtfs_time(bad)


def test_schedule_is_parsed_in_sequence_order_and_fills_missing_times() -> None:
    shuffled = STOP_TIMES.splitlines()
    text = "\n".join([shuffled[0], shuffled[3], shuffled[1], shuffled[2], shuffled[4]])
    sched = parse_schedule(TRIPS, text)
    trip = sched["L1_0"]
    assert trip.route_id == "L1"
    assert [s.stop_id for s in trip.stops] == ["A", "B", "C"]
    assert trip.call(2).arrival_s == 7 * 3600 + 100 and trip.call(2).departure_s == 7 * 3600 + 120
    assert sched["L1_1"].stops[0].departure_s == 25 * 3600 + 10  # departure from arrival


def test_schedule_errors_name_what_to_fix(tmp_path) -> None:
    with pytest.raises(ScheduleError, match="stop_sequence"):
        parse_schedule(TRIPS, "trip_id,arrival_time,departure_time,stop_id\n")
    with pytest.raises(ScheduleError, match="trips.txt does not list"):
        parse_schedule(TRIPS, STOP_TIMES + "X,07:00:00,07:00:00,A,1\n")
    with pytest.raises(ScheduleError, match="no arrival or departure"):
        parse_schedule(TRIPS, STOP_TIMES + "L1_1,,,B,2\n")
    with pytest.raises(ScheduleError, match="trips.txt and stop_times.txt"):
        read_schedule(tmp_path)
    (tmp_path / "trips.txt").write_text(TRIPS)
    (tmp_path / "stop_times.txt").write_text(STOP_TIMES)
    assert set(read_schedule(tmp_path)) == {"L1_0", "L1_1"}
    with pytest.raises(ScheduleError, match="no stop_sequence 9"):
        read_schedule(tmp_path)["L1_0"].call(9)


def test_lateness_interpolates_by_distance_between_stops() -> None:
    trip = parse_schedule(TRIPS, STOP_TIMES)["L1_0"]
    t0 = 7 * 3600.0
    # Halfway from B (departs 07:02:00) to C (arrives 07:04:00): due at 07:03:00.
    assert scheduled_at_s(trip, DIST, 1000.0) == pytest.approx(t0 + 180)
    assert lateness_s(trip, DIST, 1000.0, t0 + 180 + 75) == pytest.approx(75)
    # Before the first stop: its departure; past the last: its arrival.
    assert scheduled_at_s(trip, DIST, -10.0) == t0
    assert scheduled_at_s(trip, DIST, 9999.0) == t0 + 240
    # A bus 90 s past its scheduled time at stop B, before and after departing.
    assert lateness_at_stop_s(trip, 2, t0 + 190) == pytest.approx(90)
    assert lateness_at_stop_s(trip, 2, t0 + 190, departed=True) == pytest.approx(70)
    with pytest.raises(ScheduleError, match="no place on the route"):
        scheduled_at_s(trip, {"A": 0.0}, 10.0)
    with pytest.raises(ScheduleError, match="not in order"):
        scheduled_at_s(trip, {"A": 0.0, "B": 900.0, "C": 800.0}, 10.0)


WINDOW = PhaseWindow(normal_end_s=100.0, floor_end_s=70.0, gap_s=5.0)
S = TransitSettings(late_threshold_s=60.0, max_extension_s=10.0, max_early_s=10.0, pass_s=2.0)


def test_late_bus_gets_an_extension_up_to_the_limit_only_if_it_makes_it() -> None:
    late = 90.0
    d = decide(WINDOW, [BusCall(105.0, late, Served.NOW)], S, 99.0)
    assert (d.action, d.end_s) == (Action.EXTEND, 107.0)
    # It would miss even the longest extension: nothing is stretched for nothing.
    assert decide(WINDOW, [BusCall(109.0, late, Served.NOW)], S, 99.0).action is Action.NONE
    # It gets through by the normal end anyway.
    assert decide(WINDOW, [BusCall(90.0, late, Served.NOW)], S, 80.0).end_s == 100.0


def test_on_time_bus_changes_nothing() -> None:
    for served in Served:
        d = decide(WINDOW, [BusCall(104.0, 60.0, served)], S, 95.0)
        assert (d.action, d.end_s) == (Action.NONE, 100.0)


def test_early_green_ends_the_phase_sooner_but_never_below_min_green() -> None:
    bus = BusCall(97.0, 120.0, Served.NEXT)
    # It would reach the stop line before its green's normal start (105): this phase ends
    # max_early_s sooner.
    d = decide(WINDOW, [bus], S, 80.0)
    assert (d.action, d.end_s) == (Action.EARLY, 90.0)
    # Past that time already: it ends now.
    assert decide(WINDOW, [bus], S, 94.0).end_s == 94.0
    # Arriving after its green starts anyway: nothing to do.
    assert decide(WINDOW, [BusCall(106.0, 120.0, Served.NEXT)], S, 80.0).action is Action.NONE
    # The minimum green holds it.
    floor = PhaseWindow(100.0, 95.0, 5.0)
    assert decide(floor, [BusCall(60.0, 120.0, Served.NEXT)], S, 50.0).end_s == 95.0
    # A bus two phases away gets nothing.
    assert decide(WINDOW, [BusCall(60.0, 120.0, Served.LATER)], S, 50.0).action is Action.NONE


def test_extension_wins_over_early_green() -> None:
    calls = [BusCall(95.0, 100.0, Served.NOW), BusCall(90.0, 300.0, Served.NEXT)]
    d = decide(WINDOW, calls, S, 85.0)
    assert (d.action, d.end_s) == (Action.NONE, 100.0)


def test_settings_refuse_negative_limits() -> None:
    with pytest.raises(ValueError, match="max_early_s"):
        TransitSettings(max_early_s=-1.0)
