"""Arrival advice for a priority vehicle that lets another through first (pure, no SUMO)."""

from __future__ import annotations

import pytest

from clearway.control.priority.advice import (
    MIN_ADVISED_SPEED_MPS,
    advised,
    arrival_advice,
    change_s,
    slowed,
)
from clearway.control.priority.arbitration import Claim
from clearway.control.priority.corridor import JunctionPlan
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import PriorityRequestSpec, RequestState, Role
from tests.fakes.junctions import four_leg

MODELS = {"J": four_leg(yellow_s=3.5, clearance_s=2.0), "K": four_leg()}


def plan(rid, links, importance, eta_s, *, sid="J", distance_m=300.0, hold_s=2.0, lead_s=5.0):
    """A plan with no queue: green from ``lead_s`` before the ETA, hold ``hold_s`` after it."""
    return JunctionPlan(
        signal_id=sid, junction_id=sid,
        claim=Claim(rid, sid, frozenset(links), importance, eta_s), core=frozenset(links),
        target_state="", eta_s=eta_s, distance_m=distance_m, queue_m=0.0,
        transition_s=lead_s, green_start_s=eta_s - lead_s, hold_until_s=eta_s + hold_s,
    )  # fmt: skip


def test_change_time_is_the_yellow_and_clearance_of_the_ending_links_that_meet_the_next():
    m = MODELS["J"]
    assert change_s(m, {0}, {1}) == pytest.approx(5.5)
    assert change_s(m, {3}, {1}) == 0.0  # the right turn meets nothing


def test_the_less_important_vehicle_arriving_first_is_told_to_arrive_after_the_others_green():
    amb = plan("amb", {0}, 14, eta_s=30.0)
    pol = plan("pol", {1}, 10, eta_s=28.0, distance_m=280.0)
    advice = arrival_advice({"amb": [amb], "pol": [pol]}, MODELS, now_s=8.0)
    assert set(advice) == {"pol"}
    a = advice["pol"]
    assert a.yields_to == "amb" and a.signal_id == "J"
    assert a.green_from_s == pytest.approx(32.0 + 5.5)  # ambulance's hold end + its change
    assert a.arrive_after_s == pytest.approx(37.5 + 1.0)  # no queue, the margin
    assert a.speed_mps == pytest.approx(280.0 / (38.5 - 8.0))
    assert "amb" in a.reason and "importance 14" in a.reason


def test_a_signal_that_acts_late_on_a_change_moves_the_advised_arrival_by_that_much():
    amb = plan("amb", {0}, 14, eta_s=30.0)
    pol = plan("pol", {1}, 10, eta_s=28.0, distance_m=280.0)
    plans = {"amb": [amb], "pol": [pol]}
    direct = arrival_advice(plans, MODELS, now_s=8.0)["pol"]
    late = arrival_advice(plans, MODELS, now_s=8.0, latency_s={"J": 1.0})["pol"]
    assert late.green_from_s == pytest.approx(direct.green_from_s + 1.0)
    assert late.arrive_after_s == pytest.approx(direct.arrive_after_s + 1.0)
    # Latency of another signal changes nothing here.
    other = arrival_advice(plans, MODELS, now_s=8.0, latency_s={"K": 3.0})["pol"]
    assert other.green_from_s == pytest.approx(direct.green_from_s)


def test_no_advice_without_a_clash_in_links_or_in_time():
    amb = plan("amb", {0}, 14, eta_s=30.0)
    assert arrival_advice({"amb": [amb], "b": [plan("b", {3}, 10, 28.0)]}, MODELS, 8.0) == {}
    # Through and clear before the ambulance's green must start: not delayed.
    early = plan("c", {1}, 10, eta_s=12.0, hold_s=1.0)
    assert arrival_advice({"amb": [amb], "c": [early]}, MODELS, 8.0) == {}
    # Arriving after the other's green and change anyway.
    late = plan("d", {1}, 10, eta_s=60.0)
    assert arrival_advice({"amb": [amb], "d": [late]}, MODELS, 8.0) == {}


def test_too_close_to_slow_down_gets_the_reason_but_no_speed():
    amb = plan("amb", {0}, 14, eta_s=30.0)
    pol = plan("pol", {1}, 10, eta_s=29.0, distance_m=40.0)
    a = arrival_advice({"amb": [amb], "pol": [pol]}, MODELS, now_s=26.0)["pol"]
    assert 40.0 / (a.arrive_after_s - 26.0) < MIN_ADVISED_SPEED_MPS
    assert a.speed_mps is None and a.yields_to == "amb"


def test_the_junction_that_delays_the_vehicle_most_is_advised():
    amb_j, amb_k = plan("amb", {0}, 14, eta_s=30.0), plan("amb", {0}, 14, 50.0, sid="K")
    pol_j = plan("pol", {1}, 10, eta_s=29.0, distance_m=250.0)
    pol_k = plan("pol", {1}, 10, eta_s=45.0, sid="K", distance_m=450.0)
    advice = arrival_advice({"amb": [amb_j, amb_k], "pol": [pol_j, pol_k]}, MODELS, 8.0)
    assert advice["pol"].signal_id == "K"  # 52 + 5.5 + 1 - 45 = 13.5 s later, against 9.5 s at J


def test_a_slowed_vehicles_holds_follow_its_advised_arrival():
    amb = plan("amb", {0}, 14, eta_s=30.0)
    near = plan("pol", {1}, 10, eta_s=18.0, sid="K", distance_m=140.0)
    at = plan("pol", {1}, 10, eta_s=28.0, distance_m=280.0)
    after = plan("pol", {1}, 10, eta_s=40.0, sid="K", distance_m=450.0)
    a = arrival_advice({"amb": [amb], "pol": [at]}, MODELS, 8.0)["pol"]
    out = slowed([near, at, after], a, 8.0)
    assert out[1].eta_s == pytest.approx(a.arrive_after_s)
    assert out[0].eta_s == pytest.approx(8.0 + 140.0 / a.speed_mps)
    shift = a.arrive_after_s - at.eta_s
    assert out[2].eta_s == pytest.approx(40.0 + shift)
    assert out[2].green_start_s == pytest.approx(after.green_start_s + shift)
    assert out[2].hold_until_s == pytest.approx(after.hold_until_s + shift)
    assert slowed([near, at], None, 8.0) == [near, at]


def test_records_change_only_when_the_advice_changes_for_the_driver():
    spec = PriorityRequestSpec(
        requester_id="pol-1", role=Role.POLICE, importance=10, incident_id="i",
        route=("a", "b"),
    )  # fmt: skip
    req = PriorityRequest.new("pol", spec, 0.0)
    amb = plan("amb", {0}, 14, eta_s=30.0)
    a = arrival_advice({"amb": [amb], "pol": [plan("pol", {1}, 10, 28.0)]}, MODELS, 8.0)
    (changed,) = advised([req], a)
    assert changed.advice == a["pol"]
    assert advised([changed], a) == []  # the same advice again: nothing to write
    (cleared,) = advised([changed], {})
    assert cleared.advice is None
    ended = changed.to_state(RequestState.CANCELLED, 9.0, "cancelled")
    assert advised([ended], a)[0].advice is None  # a final request keeps no advice
