"""The live feed carries people waiting per junction: whole in the snapshot, only the
junctions whose calls or walks changed in an update, counts only."""

from __future__ import annotations

from clearway.service.live_view import LiveView, PedestrianView, feed_snapshot, feed_update


def _view(version: int, peds: dict[str, PedestrianView]) -> LiveView:
    return LiveView(version=version, time_s=float(version), running=True, error=None,
                    pedestrians=peds)  # fmt: skip


def test_a_junction_view_is_its_counts_and_walks():
    v = PedestrianView((20, 21, 23), (2, 0, 1), (False, True, False))
    assert v.to_json() == {
        "waiting": 3,
        "walk": True,
        "crossings": [
            {"link_index": 20, "waiting": 2, "walk": False},
            {"link_index": 21, "waiting": 0, "walk": True},
            {"link_index": 23, "waiting": 1, "walk": False},
        ],
    }


def test_the_feed_sends_the_junctions_whose_pedestrians_changed():
    a = PedestrianView((20, 21), (0, 0), (True, False))
    b = PedestrianView((20, 21), (0, 2), (True, False))
    before = _view(1, {"A0": a, "B1": a})
    now = _view(2, {"A0": a, "B1": b})
    assert feed_snapshot(now)["pedestrians"] == {"A0": a.to_json(), "B1": b.to_json()}
    assert feed_update(before, now)["pedestrians"] == {"B1": b.to_json()}
    assert "pedestrians" not in feed_update(now, _view(3, {"A0": a, "B1": b}))
    assert feed_snapshot(_view(1, {}))["pedestrians"] == {}
