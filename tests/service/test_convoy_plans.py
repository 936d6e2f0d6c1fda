"""``/convoys/plans``: a convoy booked for a departure window — quote, confirm, clash (409),
windows that cannot be booked (422), peaks and the audit log — against the live runtime (3x3
grid in libsumo, corridor priority, 50x real time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from clearway.service.runtime import ServiceRuntime

from .conftest import Service, make_service

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

PLAN = {
    "convoy_id": "POL-1",
    "incident_id": "OP-3",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "vehicle_count": 4,
    "length_m": 60.0,
    "cruise_speed_mps": 12.5,
}


def _signals(live: Service, route: list[str]) -> list[str]:
    """The signals a route passes, in driving order (every grid junction but the corners
    has one; live travel times may pick any of the shortest routes)."""
    net = live.ctx.network
    found = [net.edge(e).to_junction for e in route[:-1]]
    return [j for j in found if j in live.ctx.intersections]


def _plan(live: Service, start_in_s: float, length_s: float, **extra: Any) -> dict[str, Any]:
    now = live.ctx.runtime.now_s()
    window = {"window_start_s": now + start_in_s, "window_end_s": now + start_in_s + length_s}
    return PLAN | window | extra


def _quote(live: Service, body: dict[str, Any], role: str = "dispatcher") -> dict[str, Any]:
    r = live.client.post("/convoys/plans", json=body, headers=live.as_(role))
    assert r.status_code == 201, r.text
    return r.json()


def _audit(live: Service, kind: str) -> list[dict[str, Any]]:
    page = live.ctx.audit.query(kind=kind, limit=1000)
    return [
        {"principal": r.principal, "request_id": r.request_id, **r.payload} for r in page.records
    ]


def test_a_quote_shows_holds_and_cost_and_books_nothing_until_confirmed(live_service):
    live = live_service
    q = _quote(live, _plan(live, 120, 300))
    assert q["state"] == "quoted" and q["confirmable"] and q["conflicts"] == [], q
    assert q["owner"] == "dispatcher" and q["route"][0] == "A0A1" and q["route"][-1] == "B2C2"
    sig = [j["signal_id"] for j in q["junctions"]]
    assert sig == _signals(live, q["route"]) and len(sig) == 3 and sig[0] == "A1", sig
    for j in q["junctions"]:
        # held from before the earliest arrival to after the latest tail passage
        travel_s = j["distance_m"] / 12.5
        assert j["hold_from_s"] < q["window_start_s"] + travel_s
        assert j["hold_to_s"] > q["window_end_s"] + travel_s + 60 / 12.5
        assert j["hold_s"] == pytest.approx(j["hold_to_s"] - j["hold_from_s"])
        assert j["expected_vehicles_held"] == pytest.approx(
            j["cross_flow_vph"] * j["hold_s"] / 3600, abs=0.06
        )
        assert j["detected_lanes"] > 0 and j["hold_from_utc"] is not None
    dist = [j["distance_m"] for j in q["junctions"]]
    assert dist == sorted(dist) and dist[0] > 0
    assert "time-of-day profile" in q["demand_source"]
    assert {j["flow_source"] for j in q["junctions"]} <= {"history", "recent"}
    # nothing booked yet
    assert live.client.get("/convoys", headers=live.as_("viewer")).json() == []
    (quoted,) = _audit(live, "convoy.plan.quoted")
    assert quoted["plan_id"] == q["plan_id"] and quoted["principal"] == "dispatcher"
    assert [j["signal_id"] for j in quoted["junctions"]] == sig

    r = live.client.post(f"/convoys/plans/{q['plan_id']}/confirm", headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["state"] == "confirmed" and booked["request_id"].startswith("pr-"), booked
    # as booked: the route the desk planned at confirmation, and its windows
    assert [j["signal_id"] for j in booked["junctions"]] == _signals(live, booked["route"])
    if booked["route"] == q["route"]:
        assert [j["hold_from_s"] for j in booked["junctions"]] == pytest.approx(
            [j["hold_from_s"] for j in q["junctions"]]
        )
    convoy = live.client.get(f"/convoys/{booked['request_id']}", headers=live.as_("viewer")).json()
    assert convoy["state"] == "planned" and convoy["vehicle_id"] == "POL-1", convoy
    assert convoy["depart_s"] == pytest.approx(q["window_start_s"])  # leaves at the window start
    (confirmed,) = _audit(live, "convoy.plan.confirmed")
    assert confirmed["plan_id"] == q["plan_id"] and confirmed["request_id"] == booked["request_id"]
    listed = live.client.get("/convoys/plans?state=confirmed", headers=live.as_("viewer")).json()
    assert [p["plan_id"] for p in listed] == [q["plan_id"]]
    # a booking is confirmed once
    r = live.client.post(f"/convoys/plans/{q['plan_id']}/confirm", headers=live.as_("dispatcher"))
    assert r.status_code == 409 and "confirmed" in r.json()["detail"], r.text


def test_a_clashing_booking_is_refused_naming_the_booking_junction_and_times(live_service):
    live = live_service
    first = _quote(live, _plan(live, 200, 300))
    r = live.client.post(
        f"/convoys/plans/{first['plan_id']}/confirm", headers=live.as_("dispatcher")
    )
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]

    # the same route, another convoy, leaving in the first one's window: every junction clashes
    body = _plan(live, 350, 60) | {"convoy_id": "POL-2", "incident_id": "OP-4"}
    second = _quote(live, body, role="dispatcher2")
    assert not second["confirmable"], second
    shared = set(_signals(live, first["route"])) & set(_signals(live, second["route"]))
    assert "A1" in shared and {c["signal_id"] for c in second["conflicts"]} == shared
    assert {c["booking_id"] for c in second["conflicts"]} == {first["plan_id"]}
    assert {c["request_id"] for c in second["conflicts"]} == {rid}
    assert {c["convoy_id"] for c in second["conflicts"]} == {"POL-1"}
    for c in second["conflicts"]:
        assert c["ours_from_s"] < c["theirs_to_s"] and c["theirs_from_s"] < c["ours_to_s"], c

    r = live.client.post(
        f"/convoys/plans/{second['plan_id']}/confirm", headers=live.as_("dispatcher2")
    )
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert r.json()["error"] == "BookingConflictError"
    assert first["plan_id"] in detail and rid in detail and "'A1'" in detail, detail
    first_a1 = first["junctions"][0]
    stamp = datetime.fromisoformat(first_a1["hold_from_utc"]).astimezone(UTC)
    assert stamp.strftime("%Y-%m-%dT%H:%M:%S") in detail, detail  # the times, in UTC
    assert f"{first_a1['hold_from_s']:.1f} s" in detail, detail  # ... and in traffic time
    refused = live.client.get(
        f"/convoys/plans/{second['plan_id']}", headers=live.as_("viewer")
    ).json()
    assert refused["state"] == "refused" and refused["reason"] == detail
    (audited,) = _audit(live, "convoy.plan.refused")
    assert audited["plan_id"] == second["plan_id"] and audited["principal"] == "dispatcher2"
    assert {c["signal_id"] for c in audited["conflicts"]} == shared
    assert [
        c["vehicle_id"] for c in live.client.get("/convoys", headers=live.as_("viewer")).json()
    ] == ["POL-1"]

    # well after the first convoy: no clash
    later = _quote(live, _plan(live, 3000, 60) | {"convoy_id": "POL-3"}, role="dispatcher2")
    assert later["confirmable"] and later["conflicts"] == [], later
    # once the first booking is cancelled, its junctions are free again
    assert live.client.delete(f"/convoys/{rid}", headers=live.as_("dispatcher")).status_code == 200
    again = _quote(live, body, role="dispatcher2")
    assert again["confirmable"], again
    r = live.client.post(
        f"/convoys/plans/{again['plan_id']}/confirm", headers=live.as_("dispatcher2")
    )
    assert r.status_code == 201, r.text


def test_an_unfinished_convoy_without_a_window_clashes_too(live_service):
    live = live_service
    r = live.client.post(
        "/convoys", json=PLAN | {"convoy_id": "POL-9", "depart_in_s": 300},
        headers=live.as_("dispatcher"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    q = _quote(live, _plan(live, 290, 30) | {"convoy_id": "POL-10"})
    assert {c["booking_id"] for c in q["conflicts"]} == {r.json()["request_id"]}, q


PAST = {"window_start": "2020-01-01T08:00:00Z", "window_end": "2020-01-01T08:10:00Z"}


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (PAST, "in the past"),
        ((60, 3601), "longer than"),
        ((86_500, 60), "ahead"),
    ],
)
def test_windows_that_cannot_be_booked_are_422_with_the_reason(live_service, window, words):
    live = live_service
    body = PLAN | window if isinstance(window, dict) else _plan(live, *window)
    r = live.client.post("/convoys/plans", json=body, headers=live.as_("dispatcher"))
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"] and r.json()["error"] == "BookingWindowError", r.text
    (audited,) = _audit(live, "convoy.plan.refused")
    assert words in audited["reason"] and audited["plan_id"] is None
    assert live.client.get("/convoys/plans", headers=live.as_("viewer")).json() == []


def test_malformed_windows_are_422_naming_the_problem(live_service):
    live = live_service
    now = live.ctx.runtime.now_s()
    cases = [
        (PLAN | {"window_start_s": now + 200, "window_end_s": now + 100}, "before it starts"),
        (PLAN | {"window_start_s": now + 200}, "both its start and its end"),
        (PLAN, "exactly one pair"),
        (
            PLAN | {"window_start_s": now + 100, "window_end_s": now + 200,
                    "window_start": "2030-01-01T10:00:00Z", "window_end": "2030-01-01T10:05:00Z"},
            "exactly one pair",
        ),
    ]  # fmt: skip
    for body, words in cases:
        r = live.client.post("/convoys/plans", json=body, headers=live.as_("dispatcher"))
        assert r.status_code == 422 and words in r.text, (body, r.text)


def test_a_utc_window_is_taken_on_the_traffic_clock(live_service):
    live = live_service
    clock = live.ctx.runtime.traffic_clock()
    now = live.ctx.runtime.now_s()
    start_utc = datetime.fromtimestamp(clock.to_utc_s(now + 600), UTC)
    end_utc = datetime.fromtimestamp(clock.to_utc_s(now + 660), UTC)
    body = PLAN | {"window_start": start_utc.isoformat(), "window_end": end_utc.isoformat()}
    q = _quote(live, body)
    # the twin's clock is re-anchored every tick: within a tick of the asked times
    assert q["window_start_s"] == pytest.approx(now + 600, abs=2 * live.ctx.runtime.tick_s * 50)
    assert q["window_end_s"] - q["window_start_s"] == pytest.approx(60, abs=1e-3)


def test_who_may_quote_and_confirm(live_service):
    live = live_service
    r = live.client.post("/convoys/plans", json=_plan(live, 100, 60), headers=live.as_("viewer"))
    assert r.status_code == 403, r.text
    q = _quote(live, _plan(live, 100, 60))
    url = f"/convoys/plans/{q['plan_id']}/confirm"
    r = live.client.post(url, headers=live.as_("dispatcher2"))
    assert r.status_code == 403 and "owner" in r.json()["detail"], r.text
    assert (
        live.client.get(f"/convoys/plans/{q['plan_id']}", headers=live.as_("viewer")).json()[
            "state"
        ]
        == "quoted"
    )
    r = live.client.post("/convoys/plans/pl-0000000000000000/confirm", headers=live.as_("operator"))
    assert r.status_code == 404 and "convoy plan" in r.json()["detail"], r.text
    r = live.client.post(url, headers=live.as_("operator"))  # an operator may
    assert r.status_code == 201 and r.json()["state"] == "confirmed", r.text


@contextmanager
def _service_with(engine, sessions, scenario, **settings: Any) -> Iterator[Service]:
    runtime = ServiceRuntime(scenario, strategy="corridor", speed=50.0)
    svc = make_service(engine, sessions, None, runtime=runtime, **settings)
    with svc.client:
        yield svc
    assert runtime.violations == []


@pytest.fixture
def peak_service(engine, sessions, live_scenario) -> Iterator[Service]:
    """The live service with a peak table: the twin's first half hour, and B1 from 02:00;
    no flow is a peak."""
    peaks = "00:00-00:30,B1@02:00-03:00"
    with _service_with(engine, sessions, live_scenario, peak_table=peaks, peak_flow_vph=1e9) as s:
        yield s


@pytest.fixture
def busy_service(engine, sessions, live_scenario) -> Iterator[Service]:
    """The live service where any cross flow of 1 veh/h or more is a peak."""
    with _service_with(engine, sessions, live_scenario, peak_flow_vph=1.0) as s:
        yield s


def _history_s(live: Service, seen_s: float) -> None:
    """Wait until the run's detectors have been read over ``seen_s`` of traffic time."""
    end = time.monotonic() + 60
    while live.ctx.runtime.flows.observed_s < seen_s:
        assert time.monotonic() < end, live.ctx.runtime.flows.observed_s
        time.sleep(0.1)


def test_cost_is_from_the_time_of_day_history_where_there_is_one(busy_service):
    live = busy_service
    _history_s(live, 420.0)  # the first 15-min bin has 300 s of readings and more
    now = live.ctx.runtime.now_s()
    assert now < 800, now  # still in the first bin
    q = _quote(live, _plan(live, 10, 20))  # window in the first bin
    flows = live.ctx.runtime.flows
    for j in q["junctions"]:
        assert j["flow_source"] == "history", j
        assert j["cross_flow_vph"] >= 0 and j["detected_lanes"] == 6, j
    total = [j["cross_flow_vph"] for j in q["junctions"]]
    assert sum(total) > 0, q["junctions"]  # light demand flows somewhere
    for j in q["junctions"]:
        flagged = any("detector history" in why for why in j["peaks"])
        assert flagged == (j["cross_flow_vph"] >= 1.0), j
    # five hours on: no reading at that time of day yet, the last 15 min stand in (and are no
    # peak: that far ahead they say nothing)
    later = _quote(live, _plan(live, 5 * 3600 - now, 20) | {"convoy_id": "POL-6"})
    assert {j["flow_source"] for j in later["junctions"]} == {"recent"}
    assert not later["in_peak"], later["junctions"]
    a1 = later["junctions"][0]
    assert a1["cross_flow_vph"] == pytest.approx(
        sum(flows.recent_vph(lane) for lane in _cross(live, "A1", "A0A1")), rel=0.2
    )


def _cross(live: Service, sid: str, approach: str) -> set[str]:
    net = live.ctx.network
    return {
        lk.from_lane for lk in net.signal_links(sid) if not lk.from_lane.startswith(approach + "_")
    }


def test_windows_in_a_configured_peak_are_flagged(peak_service):
    live = peak_service
    early = _quote(live, _plan(live, 60, 60))  # the first half hour of simulated time
    assert early["in_peak"], early
    assert all(any("peak 00:00-00:30" in why for why in j["peaks"]) for j in early["junctions"]), (
        early["junctions"]
    )
    # at 02:10 simulated time: only B1 is in its peak
    now = live.ctx.runtime.now_s()
    via_b1 = {"convoy_id": "POL-5", "destination_edge": "B1C1"}  # A0A1, A1B1, B1C1
    late = _quote(live, _plan(live, 2 * 3600 + 600 - now, 60) | via_b1)
    flagged = {j["signal_id"]: j["peaks"] for j in late["junctions"]}
    assert flagged == {"A1": [], "B1": ["peak 02:00-03:00@B1 (CLEARWAY_PEAK_TABLE)"]}, flagged
    assert late["in_peak"]


def test_two_clashing_quotes_confirmed_at_once_book_one(live_service):
    live = live_service
    a = _quote(live, _plan(live, 400, 120) | {"convoy_id": "POL-A"})
    b = _quote(live, _plan(live, 450, 120) | {"convoy_id": "POL-B"}, role="dispatcher2")
    assert a["confirmable"] and b["confirmable"]  # neither is booked yet
    barrier = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def confirm(plan: dict[str, Any], role: str) -> None:
        barrier.wait()
        url = f"/convoys/plans/{plan['plan_id']}/confirm"
        answers[plan["plan_id"]] = live.client.post(url, headers=live.as_(role))

    threads = [
        threading.Thread(target=confirm, args=(a, "dispatcher")),
        threading.Thread(target=confirm, args=(b, "dispatcher2")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [201, 409], {k: r.text for k, r in answers.items()}
    won = next(k for k, r in answers.items() if r.status_code == 201)
    lost = next(r for r in answers.values() if r.status_code == 409)
    assert won in lost.json()["detail"], lost.text
    booked = live.client.get("/convoys", headers=live.as_("viewer")).json()
    assert len([c for c in booked if c["state"] not in ("cancelled",)]) == 1, booked


@pytest.fixture
def one_per_district(engine, sessions, live_scenario) -> Iterator[Service]:
    """The live service with one corridor per 1 km square: the whole grid is one district."""
    with _service_with(
        engine, sessions, live_scenario, max_corridors_per_area=1, area_cell_m=1000.0
    ) as s:
        yield s


def _confirm(live: Service, plan: dict[str, Any], role: str = "dispatcher") -> Any:
    return live.client.post(f"/convoys/plans/{plan['plan_id']}/confirm", headers=live.as_(role))


def test_the_district_cap_counts_only_what_holds_junctions_at_the_same_time(one_per_district):
    live = one_per_district
    first = _quote(live, _plan(live, 3000, 60) | {"convoy_id": "POL-T"})
    booked = _confirm(live, first)
    assert booked.status_code == 201, booked.text
    # an ambulance now: the convoy booked for later does not fill the district
    r = live.client.post(
        "/priority-requests",
        json={"vehicle_id": "AMB-N", "role": "ambulance", "incident_id": "INC-N",
              "origin_edge": "A0A1", "destination_edge": "B2C2", "max_duration_s": 1800},
        headers=live.as_("dispatcher2"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    # a second convoy while the first may still hold junctions (no window clash): the cap
    clash_free = _quote(live, _plan(live, 3400, 60) | {"convoy_id": "POL-U"}, "dispatcher2")
    assert clash_free["confirmable"], clash_free["conflicts"]
    r = _confirm(live, clash_free, "dispatcher2")
    assert r.status_code == 409 and r.json()["error"] == "AreaBusyError", r.text
    assert booked.json()["request_id"] in r.json()["detail"], r.text  # the one filling it
    # long after the first one's deadline: admitted
    later = _quote(live, _plan(live, 9000, 60) | {"convoy_id": "POL-V"}, "dispatcher2")
    assert _confirm(live, later, "dispatcher2").status_code == 201


def test_a_convoy_already_on_the_road_cannot_be_booked_again(live_service):
    live = live_service
    r = live.client.post(
        "/convoys", json=PLAN | {"convoy_id": "POL-D"}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 201, r.text
    q = _quote(live, _plan(live, 3000, 60) | {"convoy_id": "POL-D"})
    c = _confirm(live, q)
    assert c.status_code == 409 and "unfinished request" in c.json()["detail"], c.text
    (audited,) = _audit(live, "convoy.plan.refused")
    assert audited["plan_id"] == q["plan_id"] and "unfinished request" in audited["reason"]
    # still quoted: it may be confirmed once the other request is over
    assert (
        live.client.get(f"/convoys/plans/{q['plan_id']}", headers=live.as_("viewer")).json()[
            "state"
        ]
        == "quoted"
    )


def test_a_quote_not_confirmed_before_its_window_starts_lapses(live_service):
    live = live_service
    q = _quote(live, _plan(live, 20, 10))  # 20 simulated s: 0.4 s here
    assert q["expires_s"] == pytest.approx(q["window_start_s"])
    end = time.monotonic() + 10
    while live.ctx.runtime.now_s() <= q["window_start_s"]:
        assert time.monotonic() < end
        time.sleep(0.05)
    shown = live.client.get(f"/convoys/plans/{q['plan_id']}", headers=live.as_("viewer")).json()
    assert shown["state"] == "lapsed" and not shown["confirmable"], shown
    for _ in range(2):  # and so it stays
        r = _confirm(live, q)
        assert r.status_code == 422 and "lapsed" in r.json()["detail"], r.text
        assert r.json()["error"] == "BookingWindowError", r.text
    assert live.client.get("/convoys", headers=live.as_("viewer")).json() == []
    assert [a["plan_id"] for a in _audit(live, "convoy.plan.refused")] == [q["plan_id"]] * 2
