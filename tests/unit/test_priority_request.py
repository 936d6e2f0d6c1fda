"""Priority requests: validation of what arrives, and the lifecycle with its lease."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from clearway.control.priority import (
    EdgePlace,
    JunctionStatus,
    LonLat,
    PositionUpdate,
    PriorityRequest,
    PriorityRequestSpec,
    RequestState,
    RequestStateError,
    Role,
)


def spec(**kw) -> PriorityRequestSpec:
    base = dict(
        requester_id="AMB-7",
        role="ambulance",
        importance=12,
        incident_id="INC-2026-0042",
        origin={"edge_id": "A0A1"},
        destination={"lon": 13.5, "lat": 52.44},
    )
    return PriorityRequestSpec.model_validate(base | kw)


def update(t: float, edge: str = "A0A1", speed: float = 12.0) -> PositionUpdate:
    return PositionUpdate(time_s=t, place=EdgePlace(edge_id=edge, offset_m=5.0), speed_mps=speed)


def test_a_valid_request_parses_places_of_both_kinds():
    s = spec()
    assert s.role is Role.AMBULANCE and isinstance(s.destination, LonLat)
    assert isinstance(s.origin, EdgePlace) and s.lease_s == 30.0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"importance": 16}, "importance"),
        ({"importance": -1}, "importance"),
        ({"role": "taxi"}, "role"),
        ({"destination": None}, "destination"),
        ({"role": "convoy"}, "convoy"),
        ({"convoy": {"vehicle_count": 8, "length_m": 120, "cruise_speed_mps": 12}}, "convoy"),
        ({"destination": {"lon": 200, "lat": 0}}, "lon"),
        ({"requester_id": ""}, "requester_id"),
        ({"requester_id": "a b"}, "requester_id"),
        ({"lease_s": 0.5}, "lease_s"),
        ({"lease_s": float("nan")}, "lease_s"),
        ({"route": ()}, "route"),
        ({"route": ("e1",)}, "route"),
        ({"arrival_window": {"earliest_s": 50, "latest_s": 10}}, "latest_s"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_requests_are_refused_naming_what_is_wrong(change, field):
    with pytest.raises(ValidationError) as err:
        spec(**change)
    assert field in str(err.value)


def test_a_convoy_needs_its_platoon_and_gets_its_pass_time():
    s = spec(role="convoy", convoy={"vehicle_count": 8, "length_m": 120.0, "cruise_speed_mps": 12.0})
    assert s.convoy.pass_time_s == pytest.approx(10.0)


def test_explicit_route_instead_of_destination():
    s = spec(destination=None, route=("e1", "e2"))
    assert s.route == ("e1", "e2")


@pytest.mark.parametrize(
    "bad",
    [
        {"time_s": float("nan"), "place": {"edge_id": "e"}, "speed_mps": 1},
        {"time_s": 1, "place": {"edge_id": "e", "offset_m": -1}, "speed_mps": 1},
        {"time_s": 1, "place": {"edge_id": "e"}, "speed_mps": 500},
        {"time_s": 1, "place": {"lon": 13.4}, "speed_mps": 1},
    ],
)
def test_malformed_position_updates_are_refused(bad):
    with pytest.raises(ValidationError):
        PositionUpdate.model_validate(bad)


def test_lifecycle_requested_planned_active_completed():
    r = PriorityRequest.new("R1", spec(), 0.0)
    r = r.planned(("A0A1", "A1A2"), ("A1",), 1.0)
    assert r.state is RequestState.PLANNED and r.junctions == {"A1": JunctionStatus.PROCESSING}
    r = r.heard(update(2.0))
    assert r.state is RequestState.ACTIVE and r.last_heard_s == 2.0
    r = r.with_junction("A1", JunctionStatus.GRANTED)
    r = r.to_state(RequestState.COMPLETED, 40.0, "arrived")
    assert r.state.is_final and dict(r.junctions) == {}
    assert [h[1] for h in r.history] == ["requested", "planned", "active", "completed"]


def test_finished_requests_accept_nothing_more():
    r = PriorityRequest.new("R1", spec(), 0.0).to_state(RequestState.CANCELLED, 1.0, "dispatcher")
    with pytest.raises(RequestStateError, match="cancelled"):
        r.heard(update(2.0))
    with pytest.raises(RequestStateError, match="cannot become active"):
        r.to_state(RequestState.ACTIVE, 2.0, "x")


def test_out_of_order_updates_are_refused():
    r = PriorityRequest.new("R1", spec(), 0.0).planned(("e",), (), 0.0).heard(update(10.0))
    with pytest.raises(RequestStateError, match="older than the last one"):
        r.heard(update(9.0))


def test_unknown_junction_status_update_is_refused():
    r = PriorityRequest.new("R1", spec(), 0.0).planned(("e",), ("J1",), 0.0)
    with pytest.raises(RequestStateError, match="does not pass signal 'J9'"):
        r.with_junction("J9", JunctionStatus.GRANTED)


def test_rejection_is_told_to_every_junction():
    r = PriorityRequest.new("R1", spec(), 0.0).planned(("e",), ("J1", "J2"), 0.0)
    r = r.to_state(RequestState.REJECTED, 1.0, "no route")
    assert set(r.junctions.values()) == {JunctionStatus.REJECTED}


@given(
    lease_s=st.floats(1.0, 300.0),
    gaps=st.lists(st.floats(0.0, 400.0), min_size=0, max_size=20),
    probe=st.floats(0.0, 1000.0),
)
def test_every_hold_ends_when_updates_stop(lease_s, gaps, probe):
    """A request expires exactly when its vehicle has been silent for lease_s, never before,
    and once expired it holds no junction."""
    r = PriorityRequest.new("R1", spec(lease_s=lease_s), 0.0).planned(("e",), ("J1",), 0.0)
    t = 0.0
    for gap in gaps:
        t += gap
        r = r.expire_if_stale(t)
        if r.state.is_final:
            assert gap >= lease_s or t - r.last_heard_s >= lease_s
            break
        r = r.heard(update(t))
    if not r.state.is_final:
        now = r.last_heard_s + probe
        after = r.expire_if_stale(now)
        assert after.state.is_final == (probe >= lease_s)
        if after.state.is_final:
            assert after.state is RequestState.EXPIRED and dict(after.junctions) == {}
