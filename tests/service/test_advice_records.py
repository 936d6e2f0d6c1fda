"""The arbitration's advice to a vehicle that lets another through first is audited (who goes
first where, and why) once per change, stored with the request, and shown by the API schema."""

from __future__ import annotations

from clearway.control.priority.advice import ArrivalAdvice
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import PriorityRequestSpec, RequestState, Role
from clearway.service.runtime_records import changed_events, request_detail, signature

SPEC = PriorityRequestSpec(
    requester_id="pol-1", role=Role.POLICE, importance=10, incident_id="i-1", route=("a", "b")
)


def advice(speed_mps: float | None = 11.2, yields_to: str = "amb") -> ArrivalAdvice:
    return ArrivalAdvice(
        "pol", "J", yields_to, 37.5, 38.5, 280.0, speed_mps, f"lets {yields_to} through first at J"
    )


def test_new_advice_is_audited_with_its_reason_and_stored_with_the_request():
    before = PriorityRequest.new("pol", SPEC, 0.0)
    known = {"r1": signature(before)}
    after = before.with_advice(advice())
    (entry,) = changed_events({"r1": after}, known, None, 8.0)
    assert entry.payload["event"] == "advised"
    assert entry.payload["advice"]["yields_to"] == "amb"
    assert entry.payload["advice"]["speed_mps"] == 11.2
    assert "through first" in entry.payload["advice"]["reason"]
    assert request_detail(after)["advice"]["signal_id"] == "J"
    assert request_detail(before)["advice"] is None


def test_the_same_advice_at_a_new_speed_is_not_audited_again_but_a_new_choice_is():
    first = PriorityRequest.new("pol", SPEC, 0.0).with_advice(advice(11.2))
    known = {"r1": signature(first)}
    assert changed_events({"r1": first.with_advice(advice(10.4))}, known, None, 9.0) == []
    (entry,) = changed_events({"r1": first.with_advice(advice(None))}, known, None, 9.0)
    assert entry.payload["advice"]["speed_mps"] is None  # now a stop cannot be avoided
    (gone,) = changed_events({"r1": first.with_advice(None)}, known, None, 9.0)
    assert gone.payload["event"] == "advised" and gone.payload["advice"] is None


def test_a_request_that_ends_is_audited_for_its_end_only():
    first = PriorityRequest.new("pol", SPEC, 0.0).with_advice(advice())
    known = {"r1": signature(first)}
    ended = first.to_state(RequestState.CANCELLED, 9.0, "cancelled").with_advice(None)
    (entry,) = changed_events({"r1": ended}, known, None, 9.0)
    assert entry.payload["event"] == "cancelled"
