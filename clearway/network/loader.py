"""Load a SUMO ``.net.xml`` (plain or gzipped) into the immutable :class:`Network`.

:mod:`clearway.network.netfile` checks and parses the file (clear errors for wrong input);
this module turns sumolib's objects into the frozen model.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sumolib

from clearway.errors import NetworkError, NoTrafficLightsError
from clearway.network.model import (
    Edge,
    GeoReference,
    Junction,
    Lane,
    Link,
    Network,
    Phase,
    Point,
    SignalProgram,
    TrafficLight,
)
from clearway.network.netfile import REGENERATE, read_sumo_net

__all__ = ["load_network", "require_traffic_lights"]

#: vClass names sumolib still lists but SUMO replaced long ago; no current net uses them.
_DEPRECATED_VCLASSES = frozenset(sumolib.net.lane.SUMO_VEHICLE_CLASSES_DEPRECATED)


# -- public API ------------------------------------------------------------------------------
def load_network(path: str | os.PathLike[str]) -> Network:
    """Read a SUMO network file into an immutable :class:`Network`.

    Parameters
    ----------
    path
        A ``.net.xml`` file, plain or gzip-compressed (detected by content, not by name).

    A model loaded before from the same bytes comes from the network cache
    (:mod:`clearway.network.cache`).

    Returns
    -------
    Network
        Junctions (without SUMO's internal ones), all edges and lanes (including internal,
        crossing and walking-area ones), the links through every junction, the traffic
        lights with their programs, the geo-reference and the bounds (m).

    Raises
    ------
    NetworkError
        If the file is missing, a directory, empty, not XML, not a SUMO network, or
        damaged; the message names the file and what to do.
    """
    from clearway.network.cache import cached_network  # the cache builds with this module

    return cached_network(Path(path), lambda source: _checked_build(read_sumo_net(source), source))


def require_traffic_lights(net: Network) -> None:
    """Raise :class:`NoTrafficLightsError` unless ``net`` has at least one traffic light.

    Raises
    ------
    NoTrafficLightsError
        If the network has no signalised junction.
    """
    if not net.traffic_lights:
        name = net.source.name if net.source else "(built in memory)"
        raise NoTrafficLightsError(
            f"network {name} has no traffic lights; clearway controls signalised junctions "
            "— build one with netconvert --tls.guess or choose another network"
        )


# -- building the model ----------------------------------------------------------------------
class _Damaged(Exception):
    """A net sumolib parsed but SUMO would refuse; the message says what is wrong (no file)."""


def _checked_build(snet: Any, source: Path) -> Network:
    """:func:`_build_network`, every failure a :class:`NetworkError` naming the file."""
    try:
        return _build_network(snet, source)
    except _Damaged as exc:
        raise NetworkError(f"{source} is not a valid SUMO network: {exc}; {REGENERATE}") from None
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        # sumolib accepts some damage it cannot represent (an edge without junctions ...).
        raise NetworkError(
            f"{source} is not a valid SUMO network ({type(exc).__name__} while building the "
            f"model: {exc}); {REGENERATE}"
        ) from exc


def _build_network(snet: Any, source: Path) -> Network:
    lanes, sumo_lanes, edges = _edges_and_lanes(snet)
    programmed = {t.getID() for t in snet.getTrafficLights() if t.getPrograms()}
    lane_ids = {id(sl): lane_id for lane_id, sl in sumo_lanes.items()}
    links = _links(snet, sumo_lanes, lane_ids, lanes, programmed)
    return Network(
        source=source,
        junctions={n.getID(): _junction(n) for n in snet.getNodes() if n.getType() != "internal"},
        edges=edges,
        lanes=lanes,
        links=tuple(links),
        traffic_lights=_traffic_lights(snet, programmed),
        geo=_geo_reference(snet),
        bounds_m=_bounds(snet),
    )


def _points(shape: list[Point] | None) -> tuple[Point, ...]:
    # sumolib's 2-D shapes are already lists of (float, float) tuples; copying them point by
    # point was the largest cost of building a city net.
    return tuple(shape) if shape else ()


def _junction(node: Any) -> Junction:
    # sumolib keeps <request> rows in dicts keyed by index; a missing row reads as "".
    rows = max(node._foes, default=-1) + 1
    links = max((len(f) for f in node._foes.values()), default=0)
    if rows > links:  # also guards against building a row tuple for index="999999999"
        raise _Damaged(
            f"junction {node.getID()!r} has a <request> with index {rows - 1}, but its foes "
            f"strings have only {links} characters (one per link)"
        )
    x_m, y_m = node.getCoord() if node.getCoord3D() is not None else (0.0, 0.0)
    return Junction(
        id=node.getID(),
        type=node.getType() or "",
        x_m=float(x_m),
        y_m=float(y_m),
        shape=_points(node.getShape()),
        incoming_lanes=tuple(lane for lane in (node._incLanes or ()) if lane),
        foes=tuple(node._foes.get(i, "") for i in range(rows)),
        response=tuple(node._prohibits.get(i, "") for i in range(rows)),
    )


def _edges_and_lanes(snet: Any) -> tuple[dict[str, Lane], dict[str, Any], dict[str, Edge]]:
    lanes: dict[str, Lane] = {}
    sumo_lanes: dict[str, Any] = {}
    edges: dict[str, Edge] = {}
    permissions: dict[frozenset[str], frozenset[str]] = {}  # share one set per distinct value
    for sedge in snet.getEdges(withInternal=True):
        edge_id = sedge.getID()
        lane_ids = []
        for index, slane in enumerate(sedge.getLanes()):
            lane_id = f"{edge_id}_{index}"  # sumolib's getID() is O(lanes) per call
            allowed = frozenset(slane.getPermissions()) - _DEPRECATED_VCLASSES
            for attribute, value in (("length", slane.getLength()), ("speed", slane.getSpeed()),
                                     ("width", slane.getWidth())):  # fmt: skip
                if not math.isfinite(value):  # SUMO refuses these too
                    raise _Damaged(f"lane {lane_id!r} has {attribute}={value}")
            lanes[lane_id] = Lane(
                id=lane_id,
                edge_id=edge_id,
                index=index,
                length_m=float(slane.getLength()),
                speed_mps=float(slane.getSpeed()),
                width_m=float(slane.getWidth()),
                allowed=permissions.setdefault(allowed, allowed),
                shape=_points(slane.getShape()),
            )
            sumo_lanes[lane_id] = slane
            lane_ids.append(lane_id)
        edges[edge_id] = _edge(sedge, tuple(lane_ids), lanes)
    return lanes, sumo_lanes, edges


def _edge(sedge: Any, lane_ids: tuple[str, ...], lanes: dict[str, Lane]) -> Edge:
    from_node, to_node = sedge.getFromNode(), sedge.getToNode()
    if (from_node is None or to_node is None) and not sedge.getFunction():
        # An internal edge that lost function="internal" reads as a road without junctions.
        raise _Damaged(
            f"edge {sedge.getID()!r} has no 'from'/'to' junction (a road edge needs both; "
            'internal edges need function="internal")'
        )
    first = lanes[lane_ids[0]] if lane_ids else None
    return Edge(
        id=sedge.getID(),
        from_junction=from_node.getID() if from_node else "",
        to_junction=to_node.getID() if to_node else "",
        lane_ids=lane_ids,
        length_m=first.length_m if first else 0.0,
        speed_mps=max((lanes[lid].speed_mps for lid in lane_ids), default=0.0),
        function=sedge.getFunction() or "",
        name=sedge.getName() or "",
        priority=int(sedge.getPriority()),
    )


def _counts_in_request(conn: Any) -> bool:
    """Whether SUMO gives this connection a row in its junction's right-of-way matrix.

    Same rule as sumolib's ``Node.getLinkIndex``: entries into walking areas, and walking
    area exits other than onto a crossing, have no row.
    """
    from_function = conn.getFrom().getFunction()
    to_function = conn.getTo().getFunction()
    return not (
        to_function == "walkingarea"
        or (from_function == "walkingarea" and to_function != "crossing")
    )


def _is_link(conn: Any) -> bool:
    """A vehicle link (leaving a road lane) or a pedestrian crossing (walking area -> crossing)."""
    from_function = conn.getFrom().getFunction()
    to_function = conn.getTo().getFunction()
    if from_function == "":
        return to_function != "walkingarea"  # sidewalk -> walking area is no junction passage
    return from_function == "walkingarea" and to_function == "crossing"


def _links(
    snet: Any,
    sumo_lanes: dict[str, Any],
    lane_ids: dict[int, str],
    lanes: dict[str, Lane],
    programmed: set[str],
) -> list[Link]:
    """All links, junction by junction in request-index order.

    ``Connection.getJunctionIndex`` rescans the junction for every call (quadratic on a
    city); one walk over each junction's incoming lanes numbers all its connections at once.
    """
    links: list[Link] = []
    indexed: set[int] = set()
    for node in snet.getNodes():
        index = 0
        for lane_id in node._incLanes or ():
            slane = sumo_lanes.get(lane_id)
            if slane is None or slane.getEdge().getToNode() is not node:
                continue  # sumolib would fail here; such a lane has no links at this node
            for conn in slane.getOutgoing():
                if not _counts_in_request(conn):
                    continue
                if _is_link(conn):
                    links.append(_link(conn, index, lane_ids, lanes, programmed))
                    indexed.add(id(conn))
                index += 1
    # A damaged net may have connections on lanes its junction does not list; keep them
    # visible (index -1) rather than silently dropping a signalised movement.
    for slane in sumo_lanes.values():
        for conn in slane.getOutgoing():
            if id(conn) not in indexed and _is_link(conn):
                links.append(_link(conn, -1, lane_ids, lanes, programmed))
    return links


def _link(
    conn: Any,
    junction_index: int,
    lane_ids: dict[int, str],
    lanes: dict[str, Lane],
    programmed: set[str],
) -> Link:
    from_lane = lane_ids[id(conn.getFromLane())]
    to_lane = lane_ids[id(conn.getToLane())]
    via = conn.getViaLaneID() or None
    is_crossing = conn.getTo().getFunction() == "crossing"
    # A crossing has no via lane: the crossing itself is the path through the junction.
    path_lane = to_lane if is_crossing else via
    signal_id = conn.getTLSID() or None
    if signal_id not in programmed:
        # Rail signals and rail crossings carry a tl id but SUMO builds their logic
        # internally (no <tlLogic>); clearway does not drive them.
        signal_id = None
    return Link(
        junction_id=conn.getFrom().getToNode().getID(),
        junction_index=junction_index,
        from_lane=from_lane,
        to_lane=to_lane,
        via_lane=via,
        from_edge=conn.getFrom().getID(),
        to_edge=conn.getTo().getID(),
        direction=conn.getDirection(),
        signal_id=signal_id,
        signal_index=int(conn.getTLLinkIndex()) if signal_id else -1,
        is_crossing=is_crossing,
        length_m=lanes[path_lane].length_m if path_lane in lanes else 0.0,
        approach_speed_mps=lanes[from_lane].speed_mps,
    )


def _traffic_lights(snet: Any, programmed: set[str]) -> dict[str, TrafficLight]:
    lights: dict[str, TrafficLight] = {}
    for tls in snet.getTrafficLights():
        if tls.getID() not in programmed:
            continue
        # Connections from internal lanes count too: the second stop of an indirect left
        # turn is driven by its own state character.
        connections = tls.getConnections()
        junction_ids = sorted(
            {in_lane.getEdge().getToNode().getID() for in_lane, _o, _i in connections}
        )
        programs = {pid: _program(pid, p) for pid, p in tls.getPrograms().items()}
        max_index = max((int(i) for _in, _out, i in connections), default=-1)
        longest_state = max(
            (len(ph.state) for p in programs.values() for ph in p.phases), default=0
        )
        bad = next((i for _in, _o, i in connections if not 0 <= int(i) < longest_state), None)
        if bad is not None:  # as SUMO: "Invalid linkIndex"; also bounds link_count
            raise _Damaged(
                f"a connection controlled by traffic light {tls.getID()!r} has linkIndex {bad}, "
                f"but its phase states have {longest_state} characters (valid: 0 to "
                f"{longest_state - 1})"
            )
        lights[tls.getID()] = TrafficLight(
            id=tls.getID(),
            junction_ids=tuple(junction_ids),
            link_count=max(max_index + 1, longest_state),
            programs=MappingProxyType(programs),
            # SUMO starts a signal with the program loaded *last* (checked with sumo 1.28).
            default_program_id=next(reversed(programs)),
        )
    return lights


def _program(program_id: str, sprogram: Any) -> SignalProgram:
    return SignalProgram(
        program_id=program_id,
        type=sprogram.getType() or "",
        offset_s=float(sprogram.getOffset()),
        phases=tuple(_phase(p) for p in sprogram.getPhases()),
    )


def _phase(sphase: Any) -> Phase:
    return Phase(
        duration_s=float(sphase.duration),
        state=sphase.state,
        min_dur_s=_optional_s(sphase.minDur),
        max_dur_s=_optional_s(sphase.maxDur),
        name=sphase.name or "",
    )


def _optional_s(value: float | None) -> float | None:
    # sumolib stores an absent minDur/maxDur as -1.
    return float(value) if value is not None and value >= 0 else None


def _geo_reference(snet: Any) -> GeoReference | None:
    location = snet._location  # sumolib's getters raise KeyError when <location> is absent
    proj = (location.get("projParameter") or "!").strip()
    if proj == "!":
        return None
    offset_x, offset_y = _floats(location.get("netOffset") or "0,0")[:2]
    return GeoReference(proj=proj, offset_x_m=offset_x, offset_y_m=offset_y)


def _bounds(snet: Any) -> tuple[float, float, float, float]:
    conv = snet._location.get("convBoundary")
    if conv:
        x_min, y_min, x_max, y_max = _floats(conv)[:4]
        return x_min, y_min, x_max, y_max
    (x_min, x_max), (y_min, y_max) = snet._ranges  # from junction positions
    if x_min > x_max:  # no junctions at all
        return 0.0, 0.0, 0.0, 0.0
    return float(x_min), float(y_min), float(x_max), float(y_max)


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]
