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


# -- the agency's time zone ------------------------------------------------------------------
def _utc(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def test_agency_timezone_is_read_and_bad_ones_are_named(tmp_path) -> None:
    from clearway.control.priority.gtfs import parse_agency_timezone, read_agency_timezone

    head = "agency_id,agency_name,agency_url,agency_timezone\n"
    assert parse_agency_timezone(head + "a,A,https://a,Europe/Berlin\n").key == "Europe/Berlin"
    with pytest.raises(ScheduleError, match="'Mars/Olympus' is not an IANA time zone"):
        parse_agency_timezone(head + "a,A,https://a,Mars/Olympus\n")
    with pytest.raises(ScheduleError, match="several time zones"):
        parse_agency_timezone(head + "a,A,https://a,Europe/Berlin\nb,B,https://b,UTC\n")
    with pytest.raises(ScheduleError, match="no agency_timezone"):
        parse_agency_timezone(head + "a,A,https://a,\n")
    with pytest.raises(ScheduleError, match="agency.txt lacks the column.*agency_timezone"):
        parse_agency_timezone("agency_id,agency_name\na,A\n")
    with pytest.raises(ScheduleError, match=r"cannot read .*agency\.txt.*agency_timezone"):
        read_agency_timezone(tmp_path)


def test_service_days_follow_the_zone_through_daylight_saving_time() -> None:
    from zoneinfo import ZoneInfo

    from clearway.control.priority.gtfs import ServiceDays

    days = ServiceDays(zone=ZoneInfo("Europe/Berlin"))
    eight = 8 * 3600.0  # 08:00:00 in stop_times.txt
    # Winter (CET, UTC+1): 08:00 local is 07:00 UTC; a bus there at 07:02 UTC is 120 s late.
    assert days.lateness_s(_utc("2026-01-15T07:02:00+00:00"), eight) == pytest.approx(120.0)
    # Summer (CEST, UTC+2): 06:00 UTC.
    assert days.lateness_s(_utc("2026-07-15T06:02:00+00:00"), eight) == pytest.approx(120.0)
    # The day DST begins (29 March 2026, 02:00 -> 03:00): the service day starts at noon
    # minus 12 h = 22:00 UTC the day before, so 08:00:00 is 06:00 UTC (08:00 CEST).
    assert days.starts_s(_utc("2026-03-29T06:00:00+00:00"))[1] == _utc("2026-03-28T22:00:00+00:00")
    # A bus at 23:55 local, 10 min early for a 00:05:00 trip, is early, not 23 h 50 min late.
    five_past = 300.0
    assert days.lateness_s(_utc("2026-01-15T22:55:00+00:00"), five_past) == pytest.approx(-600.0)
    assert days.lateness_s(_utc("2026-03-29T06:00:00+00:00"), eight) == pytest.approx(0.0)
    # ... and the day it ends (25 October 2026): 23:00 UTC the day before; 08:00 CET.
    assert days.lateness_s(_utc("2026-10-25T07:00:30+00:00"), eight) == pytest.approx(30.0)
    # The zone is applied, not UTC midnight: read as UTC the same bus would be 1 h off.
    assert ServiceDays(start_s=_utc("2026-01-15T00:00:00+00:00")).lateness_s(
        _utc("2026-01-15T07:02:00+00:00"), eight
    ) == pytest.approx(-3480.0)


def test_a_trip_across_midnight_is_on_the_service_day_it_began() -> None:
    from zoneinfo import ZoneInfo

    from clearway.control.priority.bus_board import BusBoard, BusLine, BusReport
    from clearway.control.priority.gtfs import ServiceDays

    # Trip N_0 of Thursday 15 January leaves A at 23:50:00 and reaches C at 24:20:00, which
    # is 00:20 CET on Friday (23:20 UTC on Thursday).
    trips = "route_id,service_id,trip_id\nN,wk,N_0\n"
    stop_times = (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "N_0,23:50:00,23:50:00,A,1\nN_0,24:20:00,24:20:00,C,2\n"
    )
    line = BusLine("N", ("e1", "e2"), (1000.0, 1000.0), {"A": ("e1", 0.0), "C": ("e2", 1000.0)})
    days = ServiceDays(zone=ZoneInfo("Europe/Berlin"))
    board = BusBoard(parse_schedule(trips, stop_times), {"N": line}, service_days=days)
    at_c = _utc("2026-01-15T23:25:00+00:00")  # 00:25 local on Friday: 5 min late at C
    assert board.lateness_s(BusReport("N_0", "e2", 1000.0, 0.0, at_c)) == pytest.approx(300.0)
    halfway = _utc("2026-01-15T23:05:00+00:00")  # 00:05 local, due there at 00:05
    assert board.lateness_s(BusReport("N_0", "e1", 1000.0, 8.0, halfway)) == pytest.approx(0.0)
    # Before midnight too (23:52 local, 2 min after leaving A, 1/15 of the way).
    early = _utc("2026-01-15T22:52:00+00:00")
    assert board.lateness_s(BusReport("N_0", "e1", 2000.0 / 15, 8.0, early)) == pytest.approx(
        0.0, abs=1e-6
    )
