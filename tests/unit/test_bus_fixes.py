"""A bus's GTFS-realtime fix (lat, lon, bearing, speed) placed on its line by the map matcher
priority vehicles' fixes use (clearway.control.priority.bus_fixes); what cannot be placed
is refused with a reason, never with the fix's coordinates."""

from __future__ import annotations

import pytest

from clearway.control.priority.bus_board import BusLine
from clearway.control.priority.bus_fixes import BusFixError, BusFixes
from clearway.network import load_network
from tests.fakes.networks import netgenerate_grid
from tests.fakes.transit import lat_lon, with_geo


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return with_geo(load_network(netgenerate_grid(tmp_path_factory.mktemp("bf") / "g.net.xml", 3)))


@pytest.fixture
def line(net) -> BusLine:
    edges = ("A1B1", "B1C1")
    return BusLine("L", edges, tuple(net.edge(e).length_m for e in edges), {})


def test_fixes_along_the_line_are_placed_on_it(net, line):
    fixes = BusFixes(net)
    got = []
    for k, (edge, off) in enumerate([("A1B1", 60.0), ("A1B1", 130.0), ("B1C1", 20.0),
                                     ("B1C1", 90.0)]):  # fmt: skip
        lat, lon = lat_lon(net, edge, off, dy_m=4.0)  # 4 m of GPS error to the side
        got.append(fixes.place("bus7", "L.0", line, lon, lat, 100.0 + 10 * k, 90.0, 7.0))
    assert [e for e, _ in got] == ["A1B1", "A1B1", "B1C1", "B1C1"]
    for (_, off), want in zip(got, (60.0, 130.0, 20.0, 90.0), strict=True):
        assert off == pytest.approx(want, abs=8.0)
    assert fixes.tracked == {"bus7"}


def test_a_fix_on_the_opposite_carriageway_is_kept_on_the_line(net, line):
    # B1A1 runs beside A1B1 a few metres off: the bus is on its line, driving east.
    lat, lon = lat_lon(net, "B1A1", 100.0)  # 100 m from B1: 79 m from A1
    edge, off = BusFixes(net).place("bus7", "L.0", line, lon, lat, 5.0, None, None)
    assert edge == "A1B1" and off == pytest.approx(line.lengths_m[0] - 100.0, abs=10.0)


def test_a_fix_off_the_line_far_from_lanes_or_without_geo_is_refused(net, line):
    fixes = BusFixes(net)
    lat, lon = lat_lon(net, "A0B0", 100.0)  # the parallel street 200 m away
    with pytest.raises(BusFixError, match="off line 'L' of trip 'L.0'.*more than 30 m") as exc:
        fixes.place("bus7", "L.0", line, lon, lat, 5.0, 90.0, 7.0)
    assert exc.value.reason == "off_line" and f"{lat:.4f}" not in str(exc.value)
    lat, lon = lat_lon(net, "A1B1", 100.0, dy_m=900.0)  # far outside the grid
    with pytest.raises(BusFixError, match="no lane a bus may use within 40 m") as exc:
        fixes.place("bus7", "L.0", line, lon, lat, 6.0, 90.0, 7.0)
    assert exc.value.reason == "no_lane"
    assert fixes.tracked == frozenset()  # nothing kept of refused fixes
    import dataclasses

    bare = BusFixes(dataclasses.replace(net, geo=None))
    with pytest.raises(BusFixError, match="no geo-reference") as exc:
        bare.place("bus7", "L.0", line, lon, lat, 6.0)
    assert exc.value.reason == "no_geo"


def test_traces_are_dropped_when_stale_on_a_new_trip_and_on_reset(net, line):
    fixes = BusFixes(net)
    lat, lon = lat_lon(net, "B1C1", 150.0)
    fixes.place("bus7", "L.0", line, lon, lat, 10.0, 90.0, 7.0)
    # A new trip of the same bus starts a new trace: its place is not held ahead of the start.
    lat0, lon0 = lat_lon(net, "A1B1", 20.0)
    assert fixes.place("bus7", "L.1", line, lon0, lat0, 11.0, 90.0, 7.0)[0] == "A1B1"
    fixes.place("bus8", "L.0", line, lon, lat, 40.0, 90.0, 7.0)
    fixes.prune(45.0, 30.0)
    assert fixes.tracked == {"bus8"}
    fixes.reset()
    assert fixes.tracked == frozenset()
