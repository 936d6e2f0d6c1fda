"""The immutable network model: junctions, edges, lanes, links, traffic-light programs, geometry.

Built once by :func:`clearway.network.load_network` and shared read-only by everything else.
Coordinates are the network's own Cartesian metres (SUMO's x/y); :class:`GeoReference`
converts to and from lon/lat where the net file carries a projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

from clearway.errors import (
    UnknownEdgeError,
    UnknownJunctionError,
    UnknownLaneError,
    UnknownSignalError,
)

Point = tuple[float, float]


def _reduce_to_constructor(self: object) -> tuple:
    # Slotted frozen dataclasses otherwise unpickle through dataclasses' generic __setstate__,
    # which looks up the fields again for every object: most of loading a cached city network.
    return (type(self), tuple(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Lane:
    """One lane of an edge.

    Attributes
    ----------
    length_m, speed_mps, width_m
        Length (m), speed limit (m/s) and width (m).
    allowed
        SUMO vehicle classes allowed on the lane (e.g. ``"passenger"``, ``"emergency"``).
    shape
        Centre line as (x, y) points in network metres.
    """

    id: str
    edge_id: str
    index: int
    length_m: float
    speed_mps: float
    width_m: float
    allowed: frozenset[str]
    shape: tuple[Point, ...]

    __reduce__ = _reduce_to_constructor


@dataclass(frozen=True, slots=True)
class Edge:
    """A directed road segment between two junctions.

    ``function`` is SUMO's: ``""`` for a normal road, ``"internal"``, ``"crossing"``,
    ``"walkingarea"`` for the pieces inside junctions.
    """

    id: str
    from_junction: str
    to_junction: str
    lane_ids: tuple[str, ...]
    length_m: float
    speed_mps: float
    function: str = ""
    name: str = ""
    priority: int = -1

    @property
    def is_normal(self) -> bool:
        """True for a road edge (not internal, crossing or walking area)."""
        return self.function == ""

    __reduce__ = _reduce_to_constructor


@dataclass(frozen=True, slots=True)
class Link:
    """A lane-to-lane connection through a junction (one SUMO ``<connection>``).

    Attributes
    ----------
    junction_index
        Row of this link in its junction's right-of-way matrix (``foes``/``response``);
        -1 when the junction has no matrix entry for it.
    signal_id, signal_index
        The traffic light driving this link and the position in its state string that does;
        ``None``/-1 for an unsignalised link.
    direction
        SUMO's turn direction: ``s`` straight, ``l``/``L`` left, ``r``/``R`` right, ``t`` U-turn.
    is_crossing
        True for a pedestrian crossing (walking area -> crossing).
    length_m
        Length of the path through the junction (the internal lane), 0 when unknown (m).
    approach_speed_mps
        Speed limit of the approaching lane (m/s).
    """

    junction_id: str
    junction_index: int
    from_lane: str
    to_lane: str
    via_lane: str | None
    from_edge: str
    to_edge: str
    direction: str
    signal_id: str | None
    signal_index: int
    is_crossing: bool
    length_m: float
    approach_speed_mps: float

    __reduce__ = _reduce_to_constructor


@dataclass(frozen=True, slots=True)
class Junction:
    """A node of the network.

    ``foes[i]`` and ``response[i]`` are the raw bit strings of the net file's ``<request>``
    for link ``i`` of this junction; as in SUMO, the *last* character is link 0.
    ``foes[i]`` bit j: the paths of links i and j cross or merge.
    ``response[i]`` bit j: link i must yield to link j.
    """

    id: str
    type: str
    x_m: float
    y_m: float
    shape: tuple[Point, ...]
    incoming_lanes: tuple[str, ...]
    foes: tuple[str, ...] = ()
    response: tuple[str, ...] = ()

    def are_foes(self, i: int, j: int) -> bool:
        """True if links ``i`` and ``j`` of this junction cross or merge."""
        return _bit(self.foes, i, j)

    def must_yield(self, i: int, j: int) -> bool:
        """True if link ``i`` must yield to link ``j`` by the junction's right of way."""
        return _bit(self.response, i, j)

    __reduce__ = _reduce_to_constructor


def _bit(rows: tuple[str, ...], i: int, j: int) -> bool:
    if not (0 <= i < len(rows)):
        return False
    row = rows[i]
    return 0 <= j < len(row) and row[len(row) - 1 - j] == "1"


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a signal program: its state string and duration (s)."""

    duration_s: float
    state: str
    min_dur_s: float | None = None
    max_dur_s: float | None = None
    name: str = ""

    __reduce__ = _reduce_to_constructor


@dataclass(frozen=True, slots=True)
class SignalProgram:
    """A traffic-light program (SUMO ``<tlLogic>``)."""

    program_id: str
    type: str
    offset_s: float
    phases: tuple[Phase, ...]

    @property
    def cycle_s(self) -> float:
        """Cycle length (s): the sum of the phase durations."""
        return sum(p.duration_s for p in self.phases)

    __reduce__ = _reduce_to_constructor


@dataclass(frozen=True, slots=True)
class TrafficLight:
    """A signal controller (SUMO ``tlLogic``) and the junctions it drives.

    ``link_count`` is the length of its state strings; ``programs`` are keyed by program id;
    ``default_program_id`` is the one SUMO starts with (the last one loaded for that id).
    """

    id: str
    junction_ids: tuple[str, ...]
    link_count: int
    programs: Mapping[str, SignalProgram]
    default_program_id: str

    @property
    def default_program(self) -> SignalProgram:
        """The program the network file starts this signal with."""
        return self.programs[self.default_program_id]

    def __reduce__(self) -> tuple:
        # A read-only mapping proxy does not pickle (the network cache pickles models).
        return (_traffic_light, (self.id, self.junction_ids, self.link_count, dict(self.programs),
                                 self.default_program_id))  # fmt: skip


def _traffic_light(
    id: str, junction_ids: tuple[str, ...], link_count: int, programs: dict, default: str
) -> TrafficLight:
    return TrafficLight(id, junction_ids, link_count, MappingProxyType(programs), default)


@dataclass(frozen=True, slots=True)
class GeoReference:
    """The net file's ``<location>``: projection string and offset to network metres."""

    proj: str
    offset_x_m: float
    offset_y_m: float

    __reduce__ = _reduce_to_constructor


@dataclass(frozen=True, eq=False)
class Network:
    """An immutable road network with its signals.

    Use :func:`clearway.network.load_network` to build one. Lookups by id raise an
    :class:`~clearway.errors.UnknownIdError` subclass that names the id and near matches.
    """

    source: Path | None
    junctions: Mapping[str, Junction]
    edges: Mapping[str, Edge]
    lanes: Mapping[str, Lane]
    links: tuple[Link, ...]
    traffic_lights: Mapping[str, TrafficLight]
    geo: GeoReference | None
    bounds_m: tuple[float, float, float, float]
    _links_by_signal: Mapping[str, tuple[Link, ...]] = field(repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_signal: dict[str, list[Link]] = {}
        for link in self.links:
            if link.signal_id is not None and link.signal_index >= 0:
                by_signal.setdefault(link.signal_id, []).append(link)
        frozen = {k: tuple(sorted(v, key=lambda lk: lk.signal_index)) for k, v in by_signal.items()}
        for name in ("junctions", "edges", "lanes", "traffic_lights"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "_links_by_signal", MappingProxyType(frozen))

    def __reduce__(self) -> tuple:
        # Read-only mapping proxies do not pickle: rebuild them from plain dicts.
        return (
            Network,
            (
                self.source, dict(self.junctions), dict(self.edges), dict(self.lanes), self.links,
                dict(self.traffic_lights), self.geo, self.bounds_m,
            ),
        )  # fmt: skip

    # -- lookups ---------------------------------------------------------------------------
    def junction(self, junction_id: str) -> Junction:
        """The junction with this id; :class:`UnknownJunctionError` if none."""
        try:
            return self.junctions[junction_id]
        except KeyError:
            raise UnknownJunctionError(junction_id, self.junctions, where=self._where) from None

    def edge(self, edge_id: str) -> Edge:
        """The edge with this id; :class:`UnknownEdgeError` if none."""
        try:
            return self.edges[edge_id]
        except KeyError:
            raise UnknownEdgeError(edge_id, self.edges, where=self._where) from None

    def lane(self, lane_id: str) -> Lane:
        """The lane with this id; :class:`UnknownLaneError` if none."""
        try:
            return self.lanes[lane_id]
        except KeyError:
            raise UnknownLaneError(lane_id, self.lanes, where=self._where) from None

    def traffic_light(self, signal_id: str) -> TrafficLight:
        """The traffic light with this id; :class:`UnknownSignalError` if none."""
        try:
            return self.traffic_lights[signal_id]
        except KeyError:
            raise UnknownSignalError(signal_id, self.traffic_lights, where=self._where) from None

    def signal_links(self, signal_id: str) -> tuple[Link, ...]:
        """Links driven by a traffic light, ordered by signal index (several may share one)."""
        self.traffic_light(signal_id)
        return self._links_by_signal.get(signal_id, ())

    @property
    def _where(self) -> str:
        return f"network {self.source.name}" if self.source else "the network"

    @property
    def signalised_junction_ids(self) -> tuple[str, ...]:
        """Ids of junctions driven by at least one traffic light."""
        return tuple(sorted({j for tl in self.traffic_lights.values() for j in tl.junction_ids}))
