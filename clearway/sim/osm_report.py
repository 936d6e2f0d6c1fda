"""What an OpenStreetMap import produced, and what of the map it could not model.

netconvert reports what it could not model as ``Warning:`` lines naming single ids; grouped by
kind (ids and numbers blanked out) they say what an engineer should look at — unknown way
types, turn arrows that do not fit the lanes, junctions not joined. The OSM file itself tells
which road ways did not make it into the network (by ``highway`` type).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clearway.errors import NetworkError

__all__ = [
    "ImportReport",
    "OsmInventory",
    "imported_way_ids",
    "osm_inventory",
    "warning_kinds",
]

_WARNING = "Warning: "
# netconvert's own roll-up line ("11 total messages of type: ..."): the single lines are kept,
# so the roll-up would count them twice.
_ROLL_UP = re.compile(r"^\d+ total messages of type")
_QUOTED = re.compile(r"'[^']*'")
# A token holding a digit is an id, a list of ids or a measurement ("-3411#2,-30252", "19.4m").
_ID_TOKEN = re.compile(r"[-\w#.,:]*\d[-\w#.,:]*")
_ORIG_ID = re.compile(r'key="origId" value="([^"]*)"')


@dataclass(frozen=True)
class OsmInventory:
    """Counts read from an OSM file.

    Attributes
    ----------
    nodes
        ``<node>`` elements (count).
    road_ways
        ``highway`` type -> number of ways of that type.
    tagged_signals
        Nodes tagged ``highway=traffic_signals`` (count).
    road_way_ids
        Ids of the ways with a ``highway`` tag, by type.
    """

    nodes: int
    road_ways: dict[str, int]
    tagged_signals: int
    road_way_ids: dict[str, frozenset[str]] = field(repr=False)


@dataclass(frozen=True)
class ImportReport:
    """The outcome of :func:`clearway.sim.osm_import.import_osm` (``to_dict`` is the JSON).

    Attributes
    ----------
    source
        The OSM file imported.
    net_file, detector_file, routes_file, config_file
        What was written: network, clearway's lane-area detectors, seeded random demand, and a
        SUMO configuration tying them together.
    netconvert_s
        Wall-clock time of netconvert (s).
    signals_guessed
        The map tags no signal, so netconvert guessed them (``--tls.guess``).
    junctions, signalised_junctions, traffic_lights, edges, lanes, crossings, detectors
        Counts in the imported network (edges and lanes: normal road edges only).
    osm_nodes, osm_tagged_signals
        Nodes, and nodes tagged ``highway=traffic_signals``, in the OSM file.
    osm_road_ways
        Ways with a ``highway`` tag in the OSM file.
    dropped_road_ways
        ``highway`` type -> ways of that type not in the network (footways and the like are
        removed on purpose: the network keeps what passenger cars can use).
    warnings_by_kind
        netconvert warning kind -> count, most frequent first.
    warning_examples
        One full warning line per kind.
    problems
        :func:`clearway.network.diagnostics.network_problems` of the result, plus a line when
        the network has no traffic light.
    """

    source: Path
    net_file: Path
    detector_file: Path
    routes_file: Path
    config_file: Path
    netconvert_s: float
    signals_guessed: bool
    junctions: int
    signalised_junctions: int
    traffic_lights: int
    edges: int
    lanes: int
    crossings: int
    detectors: int
    osm_nodes: int
    osm_tagged_signals: int
    osm_road_ways: int
    dropped_road_ways: dict[str, int]
    warnings_by_kind: dict[str, int]
    warning_examples: dict[str, str]
    problems: list[str]

    @property
    def warnings(self) -> int:
        """All netconvert warnings (count)."""
        return sum(self.warnings_by_kind.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (paths as strings)."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        data["warnings"] = self.warnings
        return data


def warning_kinds(messages: str) -> tuple[dict[str, int], dict[str, str]]:
    """Group netconvert's warnings by kind.

    Parameters
    ----------
    messages
        netconvert's stderr (or error log).

    Returns
    -------
    tuple
        Kind -> count (most frequent first), and kind -> the first full line of that kind. A
        kind is the message with quoted names replaced by ``'...'`` and ids/numbers by ``N``.
    """
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for line in messages.splitlines():
        if not line.startswith(_WARNING):
            continue
        text = line[len(_WARNING) :].strip()
        if _ROLL_UP.match(text):
            continue
        kind = _ID_TOKEN.sub("N", _QUOTED.sub("'...'", text))
        counts[kind] += 1
        examples.setdefault(kind, text)
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return ordered, {k: examples[k] for k in ordered}


def osm_inventory(osm_file: Path) -> OsmInventory:
    """Count nodes, road ways by ``highway`` type and tagged signals of an OSM file.

    Raises
    ------
    NetworkError
        If the file is not well-formed XML (names the line).
    """
    nodes = signals = 0
    ways: dict[str, set[str]] = {}
    try:
        for _event, elem in ET.iterparse(osm_file, events=("end",)):
            if elem.tag == "node":
                nodes += 1
                if any(t.get("k") == "highway" and t.get("v") == "traffic_signals" for t in elem):
                    signals += 1
                elem.clear()  # city extracts have 10^5+ nodes: keep memory flat
            elif elem.tag == "way":
                kind = next(
                    (t.get("v", "") for t in elem.iter("tag") if t.get("k") == "highway"), None
                )
                if kind is not None:
                    ways.setdefault(kind, set()).add(elem.get("id", ""))
                elem.clear()
    except ET.ParseError as exc:
        raise NetworkError(f"{osm_file} is not well-formed OSM XML: {exc}") from exc
    return OsmInventory(
        nodes=nodes,
        road_ways={k: len(v) for k, v in sorted(ways.items())},
        tagged_signals=signals,
        road_way_ids={k: frozenset(v) for k, v in ways.items()},
    )


def imported_way_ids(net_file: Path) -> set[str]:
    """OSM way ids the network's lanes came from (netconvert ``--output.original-names``)."""
    ids: set[str] = set()
    with net_file.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if "origId" in line:
                for match in _ORIG_ID.finditer(line):
                    # Joined ways list several ids; a way split in two keeps its id on both.
                    ids.update(v.split("#")[0] for v in match.group(1).split())
    return ids


def dropped_ways(inventory: OsmInventory, imported: set[str]) -> dict[str, int]:
    """``highway`` type -> ways of that type in the OSM file but not in the network."""
    dropped = {k: len(ids - imported) for k, ids in inventory.road_way_ids.items()}
    return {k: n for k, n in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])) if n}
