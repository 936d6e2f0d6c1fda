"""Import an OpenStreetMap extract into a network clearway can control, with demand and detectors.

netconvert does the conversion with SUMO's recommended OSM options (those of ``osmBuild.py``
and the OSM web wizard) plus what signal control needs; see :data:`NETCONVERT_OSM_OPTIONS`.
Compressed extracts (``.osm.bz2``, ``.osm.gz``, ``.osm.xz``) are decompressed to a private
temporary file first, detected by content, not by name.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

from clearway.errors import ClearwayError, NetworkError
from clearway.network import load_network
from clearway.network.diagnostics import network_problems, network_summary
from clearway.sim.detectors import detector_lanes, write_lane_detectors
from clearway.sim.files import ensure_dir, staging
from clearway.sim.osm_report import (
    ImportReport,
    dropped_ways,
    imported_way_ids,
    osm_inventory,
    warning_kinds,
)
from clearway.sim.scenario import random_demand
from clearway.sim.sumo_env import run_tool, sumo_binary, sumo_home

__all__ = ["NETCONVERT_OSM_OPTIONS", "import_osm", "netconvert_osm_options", "osm_name"]

#: netconvert options for an OSM import meant for signal control (each: why).
NETCONVERT_OSM_OPTIONS: tuple[str, ...] = (
    # Roads as SUMO's OSM typemap describes them (lanes, speeds, permissions per highway type).
    "--type-files", str(Path("data") / "typemap" / "osmNetconvert.typ.xml"),
    # SUMO's recommended OSM set: drop pure geometry nodes, guess on/off-ramps and roundabouts.
    "--geometry.remove", "--ramps.guess", "--roundabouts.guess",
    # OSM draws one junction as several nodes (dual carriageways): one junction, one signal.
    "--junctions.join",
    # Signals: OSM often tags them on the approach nodes before a junction — move them onto the
    # junction; one controller for signals that are close together; none at mere geometry
    # nodes. (--tls.guess is added only for maps that tag no signal, see import_osm.)
    "--tls.guess-signals", "--tls.join", "--tls.discard-simple",
    # Turn lanes from the map's turn arrows (where tagged) instead of guessed ones.
    "--osm.turn-lanes",
    # Sidewalks only where the map tags them, crossings only where there are sidewalks: the
    # signal programs then include the pedestrian phases the real signals have.
    "--osm.sidewalks", "--crossings.guess",
    # Only what cars can drive, connected: random trips and routes need one connected network.
    "--keep-edges.by-vclass", "passenger",
    "--remove-edges.isolated", "--keep-edges.components", "1",
    # Street names and OSM ids in the net, so reports can be traced back to the map.
    "--output.street-names", "--output.original-names",
    # Every warning on its own line (no roll-up), so the report counts them exactly.
    "--aggregate-warnings", "-1",
)  # fmt: skip

#: Default time between two departures of the imported network's random demand (s).
DEFAULT_PERIOD_S = 2.0
_OSM_SUFFIXES = (
    ".osm.bz2",
    ".osm.gz",
    ".osm.xz",
    ".osm.xml",
    ".osm",
    ".xml.bz2",
    ".xml.gz",
    ".xml",
)
_MAGIC = {b"BZh": bz2.open, b"\x1f\x8b": gzip.open, b"\xfd7zXZ\x00": lzma.open}
_NETCONVERT_TIMEOUT_S = 3600.0


def netconvert_osm_options(*, guess_signals: bool) -> list[str]:
    """:data:`NETCONVERT_OSM_OPTIONS` with the typemap's full path, plus ``--tls.guess``.

    Parameters
    ----------
    guess_signals
        Add a signal where fast roads cross (netconvert ``--tls.guess``). Only for maps that
        tag no signal: where a map tags them, guessing invents signals the city does not have
        (Luxembourg: 196 signals as mapped, 556 with guessing).
    """
    options = list(NETCONVERT_OSM_OPTIONS)
    typemap = options.index("--type-files") + 1
    options[typemap] = str(sumo_home() / options[typemap])
    return [*options, "--tls.guess"] if guess_signals else options


def osm_name(osm_file: Path) -> str:
    """``West-Oakland.osm.bz2`` -> ``West-Oakland``: the name of the files written."""
    name = osm_file.name
    for suffix in _OSM_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "osm"
    return osm_file.stem or "osm"


def import_osm(
    osm_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 1,
    end_s: float = 3600.0,
    period_s: float = DEFAULT_PERIOD_S,
    name: str | None = None,
) -> ImportReport:
    """Convert an OSM extract into a network, detectors, seeded demand and a ``.sumocfg``.

    Parameters
    ----------
    osm_file
        OpenStreetMap XML, plain or bz2/gzip/xz-compressed.
    out_dir
        Folder for ``<name>.net.xml``, ``<name>.det.xml``, ``<name>.rou.xml`` and
        ``<name>.sumocfg`` (created if missing; existing files of that name are replaced).
    seed
        Seed of the random demand (randomTrips) and of the configuration's SUMO run.
    end_s
        Departures happen in [0, end_s), and the configuration ends there (s).
    period_s
        Mean time between two departures in the whole network (s).
    name
        Stem of the files written; default from the OSM file's name.

    Returns
    -------
    ImportReport
        What was written, counts, netconvert's warnings by kind, and network problems.

    Raises
    ------
    NetworkError
        If the file is missing or unreadable, or netconvert refuses it (quoting its first
        error line: not XML, no roads, ways whose nodes are missing ...), or nothing drivable
        is left after the import.
    """
    source = Path(osm_file)
    _check_readable(source)
    stem = name or osm_name(source)
    out = ensure_dir(out_dir)
    net_file = out / f"{stem}.net.xml"
    work = Path(tempfile.mkdtemp(prefix=".osm-import-", dir=out))
    try:
        plain = _decompressed(source, work)
        try:
            inventory = osm_inventory(plain)
        except (NetworkError, LookupError):  # LookupError: <?xml encoding="unknown"?>
            inventory = None  # not XML: netconvert's own words say why (below)
        guess = inventory is None or inventory.tagged_signals == 0
        options = netconvert_osm_options(guess_signals=guess)
        t0 = time.perf_counter()
        messages = _netconvert(plain, net_file, options, work, source)
        netconvert_s = time.perf_counter() - t0
        if inventory is None:
            inventory = osm_inventory(plain)  # netconvert read it, Python cannot: say so
    finally:
        shutil.rmtree(work, ignore_errors=True)
    net = load_network(net_file)
    summary = network_summary(net)
    if summary["edges"] == 0:
        raise NetworkError(
            f"{source}: no road for cars is left after the import (OSM ways by highway type: "
            f"{inventory.road_ways or 'none'}); choose an extract with drivable roads"
        )
    detector_file = write_lane_detectors(net, out / f"{stem}.det.xml")
    routes_file = out / f"{stem}.rou.xml"
    os.replace(random_demand(net_file, out, seed=seed, end_s=end_s, period_s=period_s), routes_file)
    config_file = _write_config(
        out / f"{stem}.sumocfg", net_file, routes_file, detector_file, seed, end_s
    )
    kinds, examples = warning_kinds(messages)
    problems = network_problems(net)
    if not net.traffic_lights:
        problems.append(
            "no traffic lights: none tagged in the map, and netconvert --tls.guess found no "
            "busy urban junction (multi-lane roads up to 69 km/h); clearway has nothing to control"
        )
    return ImportReport(
        source=source.resolve(),
        net_file=net_file,
        detector_file=detector_file,
        routes_file=routes_file,
        config_file=config_file,
        netconvert_s=round(netconvert_s, 3),
        signals_guessed=guess,
        junctions=summary["junctions"],
        signalised_junctions=summary["signalised_junctions"],
        traffic_lights=summary["traffic_lights"],
        edges=summary["edges"],
        lanes=summary["lanes"],
        crossings=summary["crossings"],
        detectors=len(detector_lanes(net)),
        osm_nodes=inventory.nodes,
        osm_tagged_signals=inventory.tagged_signals,
        osm_road_ways=sum(inventory.road_ways.values()),
        dropped_road_ways=dropped_ways(inventory, imported_way_ids(net_file)),
        warnings_by_kind=kinds,
        warning_examples=examples,
        problems=problems,
    )


# -- steps -----------------------------------------------------------------------------------


def _check_readable(source: Path) -> None:
    if not source.exists():
        raise NetworkError(f"OSM file {source} does not exist; check the path")
    if not source.is_file():
        raise NetworkError(f"OSM file {source} is not a file; give an .osm or .osm.bz2 file")
    if source.stat().st_size == 0:
        raise NetworkError(f"OSM file {source} is empty; download the extract again")


def _decompressed(source: Path, work: Path) -> Path:
    """``source`` itself, or a decompressed copy in ``work`` (netconvert reads plain XML)."""
    with source.open("rb") as f:
        head = f.read(6)
    opener = next((op for magic, op in _MAGIC.items() if head.startswith(magic)), None)
    if opener is None:
        return source
    plain = work / f"{osm_name(source)}.osm"
    try:
        with opener(source, "rb") as packed, plain.open("wb") as dst:
            shutil.copyfileobj(packed, dst, 1 << 20)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise NetworkError(
            f"OSM file {source} looks compressed but cannot be decompressed ({exc}); "
            "download it again"
        ) from exc
    return plain


def _netconvert(plain: Path, net_file: Path, options: list[str], work: Path, source: Path) -> str:
    """Run netconvert; its warnings and errors (text). NetworkError quoting its first error."""
    log = work / "netconvert.log"
    with staging(net_file) as tmp:
        try:
            run_tool(
                [sumo_binary("netconvert"), "--osm-files", str(plain), *options,
                 "--error-log", str(log), "--output-file", str(tmp)],
                what=f"importing {source.name}",
                timeout_s=_NETCONVERT_TIMEOUT_S,
                # netconvert finds its projection database through PROJ_LIB; without it, it
                # prints "Cannot find proj.db" (set for netconvert only: pyproj has its own).
                extra_env={"PROJ_LIB": str(sumo_home() / "data" / "proj")},
            )  # fmt: skip
        except ClearwayError as exc:
            if isinstance(exc.__cause__, subprocess.TimeoutExpired):
                raise NetworkError(
                    f"cannot import OSM file {source}: netconvert did not finish within "
                    f"{_NETCONVERT_TIMEOUT_S:g} s; cut a smaller area from the map"
                ) from None
            text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else str(exc)
            raise NetworkError(_failure_message(source, text)) from None
    return log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""


def _failure_message(source: Path, text: str) -> str:
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.startswith("Error:")), "")
    where = next((ln.strip() for ln in lines if ln.strip().startswith("At line")), "")
    missing = [ln for ln in lines if "referenced geometry information" in ln]
    said = f"netconvert said {first!r}" + (f" ({where})" if where else "") if first else text[-300:]
    hint = "check that it is an OpenStreetMap XML export"
    if missing:
        ref = re.search(r"ref='([^']*)'", missing[0])
        hint = (
            f"{len(missing)} node reference(s) of its ways point to nodes missing from the file "
            f"(e.g. ref={ref.group(1) if ref else '?'}): the extract is incomplete — export it "
            "again with complete ways"
        )
    elif "No nodes loaded" in first:
        hint = "it has no roads netconvert can use (no highway ways with their nodes)"
    elif "document" in first or "tag" in first or "XML" in first:
        hint = "it is not well-formed XML; check that it is an .osm file, not HTML or truncated"
    return f"cannot import OSM file {source}: {said}; {hint}"


def _write_config(
    path: Path, net_file: Path, routes_file: Path, detector_file: Path, seed: int, end_s: float
) -> Path:
    """A ``.sumocfg`` next to its inputs (names relative, so the folder can be moved)."""
    text = f"""<configuration>
    <input>
        <net-file value={quoteattr(net_file.name)}/>
        <route-files value={quoteattr(routes_file.name)}/>
        <additional-files value={quoteattr(detector_file.name)}/>
    </input>
    <time>
        <begin value="0"/>
        <end value="{end_s:g}"/>
    </time>
    <random_number>
        <seed value="{seed}"/>
    </random_number>
</configuration>
"""
    with staging(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
