"""The twin's simulated priority vehicles follow their request's advice and new route, as a
real driver reading the request would (no SUMO: a fake twin records what it is told)."""

from __future__ import annotations

from dataclasses import replace

from clearway.control.priority.advice import ArrivalAdvice
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import Convoy, PriorityRequestSpec, RequestState, Role
from clearway.errors import SimulationError
from clearway.service.simulated_drivers import SimulatedDrivers

ROUTE = ("a", "b", "c", "d")


class FakeTwin:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.speeds: list[tuple[str, float | None]] = []
        self.routes: list[tuple[str, tuple[str, ...]]] = []
        self.refuse = refuse or set()

    def advise_speed(self, vehicle_id: str, speed_mps: float | None) -> None:
        self.speeds.append((vehicle_id, speed_mps))

    def set_route(self, vehicle_id: str, edges) -> None:
        if vehicle_id in self.refuse:
            raise SimulationError(f"{vehicle_id} is inside a junction")
        self.routes.append((vehicle_id, tuple(edges)))


def record(vid: str = "amb", convoy: Convoy | None = None) -> PriorityRequest:
    role = Role.AMBULANCE if convoy is None else Role.CONVOY
    spec = PriorityRequestSpec(requester_id=vid, role=role, importance=14,
                               incident_id="i", route=ROUTE, convoy=convoy)  # fmt: skip
    return replace(PriorityRequest.new("r-" + vid, spec, 0.0), route=ROUTE)


def advice(speed_mps: float | None) -> ArrivalAdvice:
    return ArrivalAdvice("r-amb", "J", "r-fire", 40.0, 41.0, 200.0, speed_mps, "lets fire first")


def test_advice_is_followed_once_per_change_and_lifted_when_it_ends():
    twin, drivers = FakeTwin(), SimulatedDrivers()
    req = record()
    drivers.follow(twin, [req.with_advice(advice(8.0))], on_road={"amb"})
    drivers.follow(twin, [req.with_advice(advice(8.0))], on_road={"amb"})
    drivers.follow(twin, [req], on_road={"amb"})
    assert twin.speeds == [("amb", 8.0), ("amb", None)]


def test_a_vehicle_not_on_the_road_yet_is_steered_once_it_is():
    twin, drivers = FakeTwin(), SimulatedDrivers()
    req = record().with_advice(advice(6.0))
    drivers.follow(twin, [req], on_road=set())
    assert twin.speeds == []
    drivers.follow(twin, [req], on_road={"amb"})
    assert twin.speeds == [("amb", 6.0)]


def test_a_new_route_is_taken_and_a_refused_one_is_tried_again_next_tick():
    twin, drivers = FakeTwin(refuse={"amb"}), SimulatedDrivers()
    req = record()
    drivers.follow(twin, [req], on_road={"amb"})
    new = replace(req, route=("b", "x", "d"))
    drivers.follow(twin, [new], on_road={"amb"})
    assert twin.routes == [] and drivers.reroutes == {}
    twin.refuse.clear()
    drivers.follow(twin, [new], on_road={"amb"})
    drivers.follow(twin, [new], on_road={"amb"})
    assert twin.routes == [("amb", ("b", "x", "d"))]
    assert drivers.reroutes == {"amb": 1}


def test_a_convoy_s_followers_drive_its_way_so_far_then_the_new_route():
    twin, drivers = FakeTwin(), SimulatedDrivers()
    convoy = Convoy(vehicle_count=3, length_m=40.0, cruise_speed_mps=12.0)
    req = record("esc", convoy)
    drivers.follow(twin, [req], on_road={"esc"})
    drivers.follow(twin, [replace(req, route=("c", "y"))], on_road={"esc"})
    assert twin.routes == [
        ("esc", ("c", "y")),
        ("esc.1", ("a", "b", "c", "y")),
        ("esc.2", ("a", "b", "c", "y")),
    ]


def test_a_finished_request_lets_go_of_its_vehicle():
    twin, drivers = FakeTwin(), SimulatedDrivers()
    req = record().with_advice(advice(7.0))
    drivers.follow(twin, [req], on_road={"amb"})
    done = req.to_state(RequestState.CANCELLED, 5.0, "cancelled")
    drivers.follow(twin, [done], on_road={"amb"})
    drivers.follow(twin, [done], on_road={"amb"})
    assert twin.speeds == [("amb", 7.0), ("amb", None)]
