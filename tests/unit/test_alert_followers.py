"""Simulated drivers who follow the public alert feed: who they are (a seeded share of the
loaded trips, the same for every strategy of a seed), when the twin is asked to re-route
them (when the feed's windows change, and every few seconds while any is announced; not
before they leave, not after they have arrived), and the feed's edge windows made from the
desk's live requests with no ids."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clearway.control.priority.request import JunctionStatus, RequestState, Role
from clearway.evaluation.alert_drivers import desk_corridors, edge_windows
from clearway.service.public_alerts import AlertWindow
from clearway.sim.alert_followers import (
    REFRESH_S,
    AlertFollowers,
    choose_followers,
    loaded_trips,
)


def test_loaded_trips_reads_vehicles_and_trips_with_their_departures(tmp_path):
    f = tmp_path / "d.rou.xml"
    f.write_text(
        '<routes><vType id="p"/><vehicle id="a" depart="3.5"><route edges="x y"/></vehicle>'
        '<trip id="b" depart="triggered" from="x" to="y"/>'
        '<flow id="f" begin="0" end="9" number="3" from="x" to="y"/></routes>'
    )
    assert loaded_trips([f]) == {"a": 3.5, "b": 0.0}


def test_followers_are_a_seeded_share_the_same_every_time():
    trips = {f"v{i}": float(i) for i in range(4000)}
    a = choose_followers(trips, 0.3, seed=1, exclude={"v7"})
    assert a == choose_followers(dict(reversed(list(trips.items()))), 0.3, seed=1, exclude={"v7"})
    assert 0.27 < len(a) / len(trips) < 0.33
    assert "v7" not in a and all(a[v] == trips[v] for v in a)
    assert a != choose_followers(trips, 0.3, seed=2)  # another seed, other drivers
    assert choose_followers(trips, 0.0, seed=1) == {}
    assert choose_followers(trips, 1.0, seed=1, exclude={"v7"}) == {
        v: t for v, t in trips.items() if v != "v7"
    }
    with pytest.raises(ValueError, match="0-1"):
        choose_followers(trips, 1.5, seed=1)


class FakeTwin:
    def __init__(self, on_road: set[str]) -> None:
        self.on_road = on_road
        self.calls: list[tuple[str, dict]] = []
        self.weights: dict[str, float] = {}

    def set_routing_weights(self, weights_s):
        self.weights.update(weights_s)

    def avoid_edges(self, vehicle_id, windows_s):
        self.calls.append((vehicle_id, dict(windows_s)))
        return vehicle_id in self.on_road


def test_followers_are_told_on_change_and_refresh_only_while_on_the_road():
    twin = FakeTwin({"a", "b"})
    f = AlertFollowers(twin, {"a": 0.0, "b": 5.0, "late": 100.0, "never": 1.0})
    f.update(10.0, {})
    assert twin.calls == []  # nothing announced: nobody re-routed
    w = {"E1": (20.0, 40.0)}
    f.update(11.0, w)
    assert sorted(v for v, _ in twin.calls) == ["a", "b", "never"]  # not "late": not left yet
    assert all(got == w for _, got in twin.calls) and f.reroutes == 2
    twin.calls.clear()
    f.update(12.0, w)
    assert twin.calls == []  # unchanged, refreshed later
    f.update(11.0 + REFRESH_S, w)
    assert sorted(v for v, _ in twin.calls) == ["a", "b", "never"]
    # "a" arrives: once gone after being seen it is dropped; "never" (not inserted yet) is not.
    twin.on_road.discard("a")
    twin.calls.clear()
    f.update(12.0 + REFRESH_S, {"E1": (20.0, 45.0)})
    twin.calls.clear()
    f.update(13.0 + REFRESH_S, {"E2": (30.0, 50.0)})
    assert sorted(v for v, _ in twin.calls) == ["b", "never"]


def test_edge_windows_span_an_edge_s_windows_and_skip_junctions():
    ws = [
        AlertWindow("edge", "E", "E", "E", "emergency", 10.0, 30.0),
        AlertWindow("edge", "E", "E", "E", "convoy", 60.0, 90.0),
        AlertWindow("junction", "J", "E", "F", "emergency", 0.0, 99.0),
    ]
    assert edge_windows(ws) == {"E": (10.0, 90.0)}


def _rec(state, junctions, role=Role.AMBULANCE, convoy=None, route=("A", "B")):
    return SimpleNamespace(
        state=state, route=route, junctions=junctions,
        spec=SimpleNamespace(role=role, convoy=convoy, requester_id="AMB-1", incident_id="INC"),
    )  # fmt: skip


def test_desk_corridors_keep_live_requests_ahead_without_ids():
    live = _rec(RequestState.ACTIVE, {"S1": JunctionStatus.GRANTED, "S2": JunctionStatus.REJECTED})
    done = _rec(RequestState.COMPLETED, {"S1": JunctionStatus.GRANTED})
    convoy = _rec(RequestState.PLANNED, {"S1": JunctionStatus.PROCESSING}, role=Role.CONVOY,
                  convoy=SimpleNamespace(pass_time_s=12.0))  # fmt: skip
    etas = {"r1": {"S1": 50.0, "S2": 60.0}, "r2": {"S1": 40.0}, "r3": {"S1": 70.0}}
    desk = SimpleNamespace(
        requests={"r1": live, "r2": done, "r3": convoy}, etas_s=lambda rid: etas[rid]
    )
    out = desk_corridors(desk)
    assert [(c.reason, dict(c.etas_s), c.pass_time_s) for c in out] == [
        ("emergency", {"S1": 50.0}, 0.0),  # the rejected junction is not held: not announced
        ("convoy", {"S1": 70.0}, 12.0),
    ]
    assert "r1" not in repr(out) and "AMB-1" not in repr(out)
