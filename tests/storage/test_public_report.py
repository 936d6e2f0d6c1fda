"""The public transparency report's aggregation: k floor, figures per day and month, and what
is never published."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from clearway.control.priority.desk import RecoveryRecord
from clearway.errors import ConfigError
from clearway.network.no_priority import red_wait_s
from clearway.service.runtime_records import hold_entry
from clearway.storage.audit import AuditLog
from clearway.storage.public_report import (
    MIN_K,
    RequestFacts,
    aggregate,
    build_report,
    check_k,
    collect,
    parse_period,
    publish,
)
from tests.fakes.trips import add_trip, assert_no_private_data

DAY = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


def _facts(n: int, **kw) -> list[RequestFacts]:
    out = []
    for _ in range(n):
        f = RequestFacts(DAY, route=("a", "b"), served_signals={"J1"}, **kw)
        if f.outcome == "completed":
            f.active_s, f.done_s = 100.0, 160.0
        out.append(f)
    return out


def _estimate(route):
    return 100.0, ("J1", "J2")


@pytest.mark.parametrize("n, published", [(4, False), (5, True)])
def test_every_request_cell_is_suppressed_below_five_requests(n, published):
    cells = aggregate(_facts(n, outcome="completed"), 0, 5, _estimate)
    total = cells["requests"]
    ambulance = cells["requests_by_role"]["other"]
    saved = cells["time_saved_median_s"]
    completed = cells["outcomes"]["completed"]
    for c in (total, ambulance, saved, completed):
        if published:
            assert c["value"] is not None and c["requests"] == n and "suppressed" not in c
        else:
            assert c == {"value": None, "suppressed": "fewer than 5 requests"}
    if published:
        assert total["value"] == n and completed["value"] == n
        assert saved["value"] == 40.0  # estimate 100 s - trip 60 s
        assert set(cells["holds_per_junction"]) == {"J1", "J2"}
        assert "holds_other_junctions" not in cells
    else:
        assert cells["holds_per_junction"] == {}
        assert cells["holds_other_junctions"]["suppressed"]


def test_a_count_of_four_is_hidden_beside_published_counts():
    facts = _facts(6, outcome="completed") + _facts(4, outcome="expired")
    cells = aggregate(facts, 3, 5, _estimate)
    assert cells["requests"]["value"] == 10
    assert cells["outcomes"]["completed"]["value"] == 6
    assert cells["outcomes"]["expired"] == {"value": None, "suppressed": "fewer than 5 requests"}
    # The median is of the completed trips only (6 of them).
    assert cells["time_saved_median_s"] == {"value": 40.0, "requests": 6}
    assert cells["guard_rejections"]["value"] == 3


def test_without_a_network_time_saved_is_not_estimated_and_holds_come_from_served_records():
    cells = aggregate(_facts(5, outcome="completed"), 0, 5, None)
    assert cells["time_saved_median_s"]["value"] is None
    assert "not_estimated" in cells["time_saved_median_s"]
    assert set(cells["holds_per_junction"]) == {"J1"}
    assert (
        cells["others_extra_delay"]["value"] is None
        and cells["others_extra_delay"]["not_estimated"]
    )
    # Monitor violations are counted from the audit log (none given here: 0, not "unknown").
    assert cells["monitor_violations"] == {"value": 0, "records": 0}


def test_k_below_five_is_refused_and_a_larger_k_suppresses_more():
    with pytest.raises(ConfigError, match="below the floor of 5"):
        check_k(4)
    assert check_k(MIN_K) == 5
    cells = aggregate(_facts(6), 0, 7, None)
    assert cells["requests"]["value"] is None


def test_periods_are_utc_days_and_months():
    m = parse_period(month="2026-12")
    assert (m.start, m.end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert len(m.days()) == 31
    d = parse_period(day="2026-02-28")
    assert d.end - d.start == timedelta(days=1) and d.kind == "day"
    for bad in ({"month": "2026-13"}, {"day": "2026-02-30"}, {"month": "2026-12-01"},
                {"day": "2026-12"}, {"month": "2026-12", "day": "2026-12-01"}):  # fmt: skip
        with pytest.raises(ConfigError):
            parse_period(**bad)


def test_red_wait_is_the_uniform_arrival_term():
    # 30 s green, 60 s red in a 90 s cycle: 60^2 / (2 * 90) = 20 s.
    assert red_wait_s([True, False], [30.0, 60.0]) == pytest.approx(20.0)
    # The red wraps: red 20 + green 40 + red 30 is one red of 50 s.
    assert red_wait_s([False, True, False], [20.0, 40.0, 30.0]) == pytest.approx(2500 / 180)
    assert red_wait_s([True], [60.0]) == 0.0
    assert red_wait_s([False, False], [30.0, 30.0]) == pytest.approx(30.0)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_report_from_a_database_counts_per_day_and_month(sessions, backend):
    for i in range(5):
        add_trip(sessions, DAY + timedelta(minutes=i), trip_s=60.0 + i)
    for i in range(4):
        add_trip(sessions, DAY + timedelta(days=1, minutes=i), role="fire", outcome="cancelled")
    add_trip(sessions, DAY + timedelta(minutes=30), role="police", flagged=True)
    add_trip(sessions, DAY + timedelta(minutes=40), restored=True)  # trip not measurable
    add_trip(sessions, DAY + timedelta(minutes=50), outcome="unfinished")
    add_trip(sessions, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))  # the month before
    log = AuditLog(sessions)
    log.append("signal.rejected", junction_id="B1", payload={"state": "GG", "reasons": ["x"]},
               at=DAY)  # fmt: skip
    with sessions() as s:
        rep = build_report(s, parse_period(month="2026-12"), estimator=lambda r: (200.0, ("B1",)))
    totals = rep["totals"]
    assert totals["requests"]["value"] == 12
    assert totals["requests_by_role"]["ambulance"]["value"] == 7
    assert totals["requests_by_role"]["fire"]["suppressed"]  # 4
    assert totals["requests_by_role"]["police"]["suppressed"]  # 1
    assert totals["outcomes"]["completed"]["value"] == 7
    # Trips 60..64 s and the police one of 100 s; the restored one is not counted.
    assert totals["time_saved_median_s"] == {"value": 137.5, "requests": 6}  # 200 s - trips
    assert totals["holds_per_junction"] == {"B1": {"value": 12, "requests": 12}}
    assert totals["guard_rejections"]["value"] == 1
    days = {d["day"]: d for d in rep["days"]}
    assert len(days) == 31
    assert days["2026-12-03"]["requests"]["value"] == 8
    assert days["2026-12-04"]["requests"]["suppressed"]
    assert days["2026-12-04"]["outcomes"]["cancelled"]["suppressed"]
    assert days["2026-12-03"]["guard_rejections"]["value"] == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_monitor_violations_are_counted_per_day_from_their_audit_records(sessions, backend):
    """What the live runtime writes (``monitor.violation``: one per violation, or one with the
    count past the monitor's kept cap) is counted per UTC day and in the month's total."""
    log = AuditLog(sessions)
    for minute in (1, 2):
        log.append("monitor.violation", junction_id="B1", at=DAY + timedelta(minutes=minute),
                   payload={"rule": "conflict", "time_s": 12.0, "links": [0, 3], "count": 1})  # fmt: skip
    log.append("monitor.violation", at=DAY + timedelta(days=2),
               payload={"rule": "unkept", "count": 7})  # fmt: skip
    log.append("monitor.violation", at=datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
               payload={"rule": "yellow", "count": 1})  # the month before  # fmt: skip
    with sessions() as s:
        rep = build_report(s, parse_period(month="2026-12"))
    assert rep["totals"]["monitor_violations"] == {"value": 9, "records": 9}
    days = {d["day"]: d["monitor_violations"]["value"] for d in rep["days"]}
    assert days["2026-12-03"] == 2 and days["2026-12-05"] == 7 and days["2026-12-04"] == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_others_extra_delay_is_the_sum_of_the_holds_estimates_above_the_k_floor(
    sessions, backend
):
    """The ``hold.ended`` records the live service writes (one per junction hold, its
    estimated cost to everyone else) are summed per request, per day and month; a day with
    fewer than k requests with an estimate is suppressed; a hold without one does not count."""
    for i in range(5):  # two holds each, 0.02 + 0.03 veh·h
        add_trip(sessions, DAY + timedelta(minutes=i), hold_costs_veh_h=(0.02, 0.03))
    add_trip(sessions, DAY + timedelta(minutes=9), hold_costs_veh_h=(None,))  # not estimated
    for i in range(3):  # the next day: 3 requests with an estimate, below k
        add_trip(sessions, DAY + timedelta(days=1, minutes=i), hold_costs_veh_h=(0.1,))
    with sessions() as s:
        rep = build_report(s, parse_period(month="2026-12"))
    total = rep["totals"]["others_extra_delay"]
    assert total == {"value": pytest.approx(0.55), "requests": 8, "unit": "veh·h"}
    days = {d["day"]: d["others_extra_delay"] for d in rep["days"]}
    assert days["2026-12-03"] == {"value": pytest.approx(0.25), "requests": 5, "unit": "veh·h"}
    assert days["2026-12-04"] == {
        "value": None, "suppressed": "fewer than 5 requests", "unit": "veh·h"
    }
    assert days["2026-12-05"]["value"] is None and days["2026-12-05"]["not_estimated"]


@sqlite_only
def test_a_hold_shared_by_requests_is_split_between_them(sessions):
    rids = [add_trip(sessions, DAY + timedelta(minutes=i)) for i in range(5)]
    shared = RecoveryRecord("J9", ("a", "b"), 995.0, 1040.0, 1050.0, (), 0.5)
    AuditLog(sessions).append_many([replace(hold_entry(shared, rids[:2]), at=DAY + timedelta(hours=1))])
    with sessions() as s:
        facts, _ = collect(s, parse_period(day="2026-12-03"))
        rep = build_report(s, parse_period(day="2026-12-03"))
    shares = {rid: f.others_delay_veh_h for rid, f in facts.items()}
    assert shares[rids[0]] == shares[rids[1]] == pytest.approx(0.25)
    assert all(shares[r] is None for r in rids[2:])
    # Two requests carry an estimate: below k, so the day's figure is not published.
    assert rep["totals"]["others_extra_delay"]["suppressed"] == "fewer than 5 requests"


@sqlite_only
def test_no_principal_request_id_vehicle_or_place_is_published(sessions):
    rids = [
        add_trip(sessions, DAY + timedelta(minutes=i), route=("A0A1", "A1B1")) for i in range(6)
    ]
    with sessions() as s:
        report = publish(s, parse_period(day="2026-12-03"))
    assert report["totals"]["requests"]["value"] == 6  # the trips are in it, as a count
    assert_no_private_data(report, rids)


@pytest.mark.sumo
def test_route_estimate_on_a_grid_is_free_flow_plus_the_red_wait(tmp_path):
    from clearway.network import load_network
    from clearway.network.no_priority import estimate_route, route_estimator
    from tests.fakes.networks import netgenerate_grid

    net = load_network(netgenerate_grid(tmp_path / "g.net.xml", 3))
    route = ("A0A1", "A1B1", "B1C1")
    est = estimate_route(net, route)
    free = sum(net.edge(e).length_m / net.edge(e).speed_mps for e in route)
    assert est.free_flow_s == pytest.approx(free)
    assert est.signals == ("A1", "B1")
    assert (
        0
        < est.signal_wait_s
        < sum(net.traffic_light(s).default_program.cycle_s for s in est.signals)
    )
    assert route_estimator(net)(route) == (est.total_s, ("A1", "B1"))
    assert route_estimator(net)(("nowhere",)) is None
