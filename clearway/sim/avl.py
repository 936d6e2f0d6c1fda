"""An AVL (automatic vehicle location) unit, emulated on top of the twin's exact positions.

The twin knows where its priority vehicles are to the centimetre, every step. A real unit in an
ambulance does not: it reports a GPS fix with a horizontal error of metres, once a second or
less often, the report arrives late (modem, dispatch server), and some reports never arrive.
:class:`AvlFeed` wraps an exact :class:`~clearway.ports.PriorityVehicleFeed` and delivers
what such a unit would:

* every ``1 / rate_hz`` seconds (from a random phase per vehicle) a sample of the vehicle's
  true place — the lane centre line point of its edge and offset — in network x/y, with
  Gaussian error of ``sigma_m`` on each axis, the true heading with ``heading_sigma_deg``
  and the true speed with ``speed_sigma_mps`` of noise, ``accuracy_m = sigma_m``;
* a sample is lost with probability ``drop``;
* a sample measured at ``t`` is visible from ``t + latency_s`` on, and carries ``time_s = t``
  (when it was measured, not when it arrived).

Samples are taken when the feed is read (once per control tick): a rate above the tick rate
samples every tick. Each vehicle draws from its own generator seeded with (``seed``, its id),
a fixed number of numbers per sample, dropped or not: the k-th sample of a vehicle has the
same error in every strategy's run of a seed, so paired runs differ by the strategy alone.
A vehicle that leaves the network is reported until its last samples have arrived, then no
longer (as the exact feed forgets it).
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from clearway.control.priority.request import EdgePlace, PositionUpdate, XYPlace
from clearway.errors import ConfigError
from clearway.network.geometry import edge_point
from clearway.network.model import Network, Point
from clearway.ports import Clock, PriorityVehicleFeed

#: GPS course over ground wobbles by a few degrees at driving speed (1 sigma, degrees).
HEADING_SIGMA_DEG = 3.0
#: Speed from GPS Doppler is good to a few tenths of a m/s (1 sigma, m/s).
SPEED_SIGMA_MPS = 0.3
#: Largest speed a position update may carry (m/s; PositionUpdate's own bound).
_MAX_SPEED_MPS = 70.0
#: A sample is visible once ``now - time_s`` reaches the latency within this (s): traffic
#: times are sums of float steps.
_TIME_EPS_S = 1e-6


@dataclass(frozen=True)
class AvlSettings:
    """How the emulated unit reports.

    Attributes
    ----------
    sigma_m
        Horizontal position error, 1 sigma on each of x and y (m); also its ``accuracy_m``.
    rate_hz
        Reports per second (Hz).
    latency_s
        Delay from measurement to delivery (s).
    drop
        Probability that a report is lost (0 <= drop < 1).
    heading_sigma_deg, speed_sigma_mps
        Noise of the reported heading (degrees) and speed (m/s), 1 sigma.
    on_road
        Report the true edge place (``EdgePlace``) instead of x/y: a unit whose fixes are
        already matched onto the road exactly, so only rate, latency and loss act (needs
        ``sigma_m`` 0). It isolates what the corridor does about old and missing reports.
    """

    sigma_m: float = 0.0
    rate_hz: float = 1.0
    latency_s: float = 0.0
    drop: float = 0.0
    heading_sigma_deg: float = HEADING_SIGMA_DEG
    speed_sigma_mps: float = SPEED_SIGMA_MPS
    on_road: bool = False

    def __post_init__(self) -> None:
        if self.on_road and self.sigma_m > 0:
            raise ConfigError(
                f"an on-road AVL unit reports exact edge places; give sigma_m 0, not {self.sigma_m}"
            )
        checks = (
            ("sigma_m", self.sigma_m, 0.0 <= self.sigma_m <= 1000.0, "between 0 and 1000 m"),
            ("rate_hz", self.rate_hz, 0.0 < self.rate_hz <= 100.0, "above 0 and at most 100 Hz"),
            ("latency_s", self.latency_s, 0.0 <= self.latency_s <= 600.0, "between 0 and 600 s"),
            ("drop", self.drop, 0.0 <= self.drop < 1.0, "at least 0 and below 1 (a share)"),
            ("heading_sigma_deg", self.heading_sigma_deg, self.heading_sigma_deg >= 0.0, "≥ 0"),
            ("speed_sigma_mps", self.speed_sigma_mps, self.speed_sigma_mps >= 0.0, "≥ 0"),
        )
        for name, value, ok, allowed in checks:
            if not (math.isfinite(value) and ok):
                flag = "--avl-" + name.replace("_", "-")
                raise ConfigError(f"AVL {name} ({flag}) is {value!r}; it must be {allowed}")

    @classmethod
    def from_options(
        cls,
        sigma_m: float | None = None,
        rate_hz: float | None = None,
        latency_s: float | None = None,
        drop: float | None = None,
    ) -> AvlSettings | None:
        """The settings of ``clearway evaluate --avl-*``: ``None`` (the exact feed) when no
        option is given, else the given ones with the others at an ideal unit's (no error,
        1 Hz, no latency, no loss)."""
        given = {"sigma_m": sigma_m, "rate_hz": rate_hz, "latency_s": latency_s, "drop": drop}
        if all(v is None for v in given.values()):
            return None
        return cls(**{k: float(v) for k, v in given.items() if v is not None})

    @property
    def period_s(self) -> float:
        """Time between two reports (s)."""
        return 1.0 / self.rate_hz

    def to_dict(self) -> dict:
        """The settings as JSON (evaluation headers and run lines)."""
        return asdict(self)


@dataclass
class _Unit:
    """One vehicle's unit: its random stream, next report time, reports in flight."""

    rng: np.random.Generator
    next_s: float
    in_flight: deque[PositionUpdate] = field(default_factory=deque)
    visible: PositionUpdate | None = None


def vehicle_seed(seed: int, vehicle_id: str) -> list[int]:
    """Seed of one vehicle's generator: the run's seed and a stable hash of its id (Python's
    ``hash`` of a string changes with every process)."""
    return [seed, zlib.crc32(vehicle_id.encode("utf-8"))]


class AvlFeed:
    """A :class:`~clearway.ports.PriorityVehicleFeed` that reports like a real AVL unit.

    Parameters
    ----------
    exact
        The exact feed (edge + offset of each vehicle now), e.g. the twin.
    clock
        Traffic time (the twin): when reports become visible.
    net
        The network, for the x/y of an edge place.
    settings
        How the unit reports.
    seed
        Seeds every vehicle's generator (with the vehicle's id).
    """

    def __init__(
        self,
        exact: PriorityVehicleFeed,
        clock: Clock,
        net: Network,
        settings: AvlSettings,
        *,
        seed: int = 0,
    ) -> None:
        self.exact = exact
        self.clock = clock
        self.net = net
        self.settings = settings
        self.seed = seed
        self._units: dict[str, _Unit] = {}
        #: Samples taken and samples lost, over all vehicles (counts).
        self.sampled = 0
        self.dropped = 0

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        """The latest report that has arrived of each vehicle, by its id; a vehicle none of
        whose reports has arrived yet (or that left the network and whose last reports have
        all arrived) is absent."""
        now_s = self.clock.now_s()
        exact = self.exact.priority_positions()
        for vid, truth in exact.items():
            unit = self._units.get(vid)
            if unit is None:
                rng = np.random.default_rng(vehicle_seed(self.seed, vid))
                # A unit's clock is not aligned with the vehicle's departure.
                unit = self._units[vid] = _Unit(rng, now_s + rng.uniform(0.0, self.settings.period_s))
            if now_s + _TIME_EPS_S >= unit.next_s:
                self._sample(unit, truth, now_s)
        out: dict[str, PositionUpdate] = {}
        for vid, unit in list(self._units.items()):
            arrived = False
            while unit.in_flight and now_s - unit.in_flight[0].time_s + _TIME_EPS_S >= (
                self.settings.latency_s
            ):
                unit.visible = unit.in_flight.popleft()
                arrived = True
            if vid not in exact and not unit.in_flight and not arrived:
                del self._units[vid]  # gone, and its last report has been read
                continue
            if unit.visible is not None:
                out[vid] = unit.visible
        return out

    def _sample(self, unit: _Unit, truth: PositionUpdate, now_s: float) -> None:
        s = self.settings
        # Polls may be sparser than the rate: the next report is the next one after now.
        missed = math.floor((now_s + _TIME_EPS_S - unit.next_s) / s.period_s)
        unit.next_s += (missed + 1) * s.period_s
        # Always the same draws per sample, lost or not, so the streams stay paired.
        lost, dx, dy, dh, dv = unit.rng.random(), *unit.rng.standard_normal(4)
        self.sampled += 1
        if lost < s.drop:
            self.dropped += 1
            return
        place = truth.place
        if not isinstance(place, EdgePlace):
            raise ConfigError(
                f"the AVL emulator needs the exact feed's edge places, got {type(place).__name__}"
            )
        (x, y), heading = place_pose(self.net, place.edge_id, place.offset_m)
        unit.in_flight.append(
            PositionUpdate(
                time_s=truth.time_s,
                place=place if s.on_road else XYPlace(x_m=x + s.sigma_m * dx, y_m=y + s.sigma_m * dy),
                speed_mps=min(max(truth.speed_mps + s.speed_sigma_mps * dv, 0.0), _MAX_SPEED_MPS),
                heading_deg=(heading + s.heading_sigma_deg * dh) % 360.0,
                accuracy_m=s.sigma_m if s.sigma_m > 0 else None,
            )
        )


def place_pose(net: Network, edge_id: str, offset_m: float) -> tuple[Point, float]:
    """Where ``offset_m`` along ``edge_id`` is (its rightmost lane's centre line, network m)
    and which way the lane runs there (degrees clockwise from north, as GPS course).

    Raises
    ------
    UnknownEdgeError
        ``edge_id`` is not in the network.
    """
    point = edge_point(net, edge_id, offset_m)
    edge = net.edge(edge_id)
    if not edge.lane_ids:
        return point, 0.0
    # The same lane and scaling as edge_point's.
    lane = net.lane(edge.lane_ids[0])
    scale = lane.length_m / edge.length_m if edge.length_m > 0 else 1.0
    return point, _heading_deg(lane.shape, max(offset_m * scale, 0.0))


def _heading_deg(shape: tuple[Point, ...], along_m: float) -> float:
    """Direction of the shape's segment at ``along_m`` (degrees clockwise from north)."""
    left = along_m
    segments = list(zip(shape, shape[1:], strict=False))
    for k, ((x0, y0), (x1, y1)) in enumerate(segments):
        seg = math.hypot(x1 - x0, y1 - y0)
        if seg > 0 and (left <= seg or k == len(segments) - 1):
            return math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360.0
        left -= seg
    return 0.0
