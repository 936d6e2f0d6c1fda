"""Networks for the safety property tests: a generated grid and three real nets from the SUMO
wheel, each loaded once per test session, with the guard's models and the oracle's."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clearway.network.loader import load_network
from clearway.network.model import Network
from clearway.signals.build import build_intersections
from clearway.signals.model import Intersection
from clearway.signals.safety import SafetyGuard
from tests.fakes.networks import netgenerate_grid

from .oracle import OracleSignal, build_oracle

NET_NAMES = ("grid", "berlin", "braunschweig", "fokr")


def sumo_game_dir() -> Path:
    import sumo

    return Path(sumo.SUMO_HOME) / "tools" / "game"


def real_net_path(name: str) -> Path:
    g = sumo_game_dir()
    return {
        "berlin": g / "DRT" / "osm.net.xml",  # Berlin, 15 signals
        "braunschweig": g / "bs3d" / "bs.net.xml",  # Braunschweig, 4 programs, 'u' states
        "fokr": g / "fokr_bs_demo" / "fokr_bs.net.xml.gz",  # pedestrian crossings, 46 links
    }[name]


@dataclass(frozen=True, eq=False)
class NetCase:
    """One network with the guard's intersection models and the oracle's models."""

    name: str
    net: Network
    models: dict[str, Intersection]
    oracles: dict[str, OracleSignal]
    guard: SafetyGuard = field(repr=False)

    @property
    def signal_ids(self) -> list[str]:
        return sorted(self.models)

    def phase_states(self, sid: str) -> list[str]:
        """Every distinct phase state of every program of ``sid`` (full length), in order."""
        tl = self.net.traffic_lights[sid]
        out: list[str] = []
        for prog in tl.programs.values():
            for ph in prog.phases:
                if len(ph.state) == tl.link_count and ph.state not in out:
                    out.append(ph.state)
        return out


@functools.cache
def load_case(name: str, path: str) -> NetCase:
    net = load_network(path)
    models = build_intersections(net)
    oracles = {sid: build_oracle(net, sid, m.timings) for sid, m in models.items()}
    return NetCase(name, net, models, oracles, SafetyGuard(models))


@pytest.fixture(scope="session")
def grid_net_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return netgenerate_grid(
        tmp_path_factory.mktemp("safety_nets") / "grid.net.xml", 3, "--seed", "42"
    )


@pytest.fixture(scope="session", params=NET_NAMES)
def net_case(request: pytest.FixtureRequest) -> NetCase:
    name = request.param
    path = request.getfixturevalue("grid_net_path") if name == "grid" else real_net_path(name)
    return load_case(name, str(path))
