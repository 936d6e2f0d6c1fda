"""HMM map matching against the ground truth of a trace driven along a route's lanes."""

from __future__ import annotations

import numpy as np
import pytest

from clearway.network import load_network
from clearway.network.graph import build_routing_graph
from clearway.network.matching import MatchError, MatchState, match_step
from clearway.network.routing import fastest_route
from clearway.network.snap import snap_to_edge
from tests.fakes.networks import NETGENERATE, netgenerate_grid


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    if not NETGENERATE.exists():
        pytest.skip("netgenerate is not installed next to the Python interpreter")
    net = load_network(netgenerate_grid(tmp_path_factory.mktemp("match") / "g.net.xml", 5))
    return net, build_routing_graph(net, "emergency")


def _trace(net, edges, step_m):
    """True (x, y, edge, heading_deg) every ``step_m`` along the first lane of each edge."""
    out = []
    for e in edges:
        shape = np.array(net.lanes[net.edges[e].lane_ids[0]].shape, dtype=float)
        for p, q in zip(shape[:-1], shape[1:], strict=True):
            n = max(int(np.hypot(*(q - p)) // step_m), 1)
            hdg = (90.0 - np.degrees(np.arctan2(q[1] - p[1], q[0] - p[0]))) % 360.0
            out += [(*(p + (q - p) * (i / n)), e, hdg) for i in range(n)]
    return out


def _route(net, graph):
    ids = sorted(e for e in net.edges if not e.startswith(":"))
    return fastest_route(graph, ids[0], ids[-1]).edges


@pytest.mark.parametrize("sigma_m", [10.0, 15.0])
def test_noisy_trace_stays_on_the_driven_direction(grid, sigma_m):
    net, graph = grid
    truth = _trace(net, _route(net, graph), 10.0)
    rng = np.random.default_rng(1)
    state, hmm, snap = MatchState(), 0, 0
    for i, (x, y, e, hdg) in enumerate(truth):
        nx, ny = x + rng.normal(0, sigma_m), y + rng.normal(0, sigma_m)
        state, m = match_step(net, graph, state, nx, ny, float(i), hdg, 10.0, sigma_m)
        hmm += m.edge_id == e
        snap += snap_to_edge(net, graph, nx, ny, max_distance_m=200)[0] == e
    # honest bar: clearly better than nearest-lane snapping, and right most of the time
    assert hmm > snap
    assert hmm / len(truth) >= 0.8


def test_zero_noise_matches_true_edge_and_offset_within_length(grid):
    net, graph = grid
    truth = _trace(net, _route(net, graph), 7.0)
    state, ok = MatchState(), 0
    for i, (x, y, e, hdg) in enumerate(truth):
        state, m = match_step(net, graph, state, x, y, float(i), hdg, 10.0, 3.0)
        ok += m.edge_id == e
        assert 0.0 <= m.offset_m <= graph.length_m[graph.index[m.edge_id]] + 1e-6
    assert ok / len(truth) >= 0.9


def test_far_point_raises(grid):
    net, graph = grid
    with pytest.raises(MatchError, match="within"):
        match_step(net, graph, MatchState(), 1e6, 1e6, 0.0)
