"""Reading a SUMO configuration (``.sumocfg``): the inputs and the time window clearway runs.

SUMO reads every element of a configuration as an option named like the element, its value
in a ``value`` (or ``v``) attribute or in the element's text; section elements (``<input>``,
``<time>``) only group them, and ``n``/``net``, ``r``/``routes``, ``a``/``additional``, ``b``
and ``e`` are the same options as the long names. File lists are separated by commas (or
spaces); a relative path counts from the folder of the configuration file, and ``${NAME}``
is an environment variable. This module reads the same way, with the standard library's XML
parser, and checks that every file named exists.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clearway.errors import ConfigError
from clearway.sim.detectors import DETECTOR_PREFIX

__all__ = [
    "SumoConfig",
    "SumoConfigError",
    "holds_clearway_detectors",
    "parse_sumo_time",
    "read_sumocfg",
]

# SUMO option names (and their synonyms) that clearway takes from a configuration.
_OPTIONS = {
    "net-file": "net", "n": "net", "net": "net",
    "route-files": "routes", "r": "routes", "routes": "routes",
    "additional-files": "additional", "a": "additional", "additional": "additional",
    "begin": "begin", "b": "begin",
    "end": "end", "e": "end",
}  # fmt: skip
# Elements that only group options (SUMO's option topics); never reported as ignored.
_SECTIONS = {
    "configuration", "sumoConfiguration", "input", "output", "time", "processing", "routing",
    "report", "random_number", "gui_only", "traci_server", "mesoscopic", "emissions",
    "communication", "battery", "friction", "tls_defaults", "pedestrian_model",
    "bicycle_model", "junction_model", "lanechanging_model",
}  # fmt: skip
_ENV = re.compile(r"\$\{([^}]*)\}")
# Sections whose options change what SUMO prints or shows, never what it simulates: not
# worth a note when clearway leaves them out.
_QUIET_SECTIONS = {"report", "gui_only"}


class SumoConfigError(ConfigError):
    """A SUMO configuration file is missing, malformed, or names a file that does not exist."""


@dataclass(frozen=True, slots=True)
class SumoConfig:
    """What clearway takes from a ``.sumocfg``.

    Attributes
    ----------
    path
        The configuration file (absolute).
    net_file
        The network (absolute path; always given).
    route_files, additional_files
        Demand and additional files, in the configuration's order (absolute paths; may be
        empty).
    begin_s, end_s
        SUMO ``begin`` and ``end`` (s); ``None`` when the configuration does not set them
        (SUMO then begins at 0 and runs until no vehicle is left).
    ignored
        Other options set in the configuration, which clearway does not apply (e.g.
        ``step-length``, ``scale``): the caller says so. Report and GUI options (what SUMO
        prints or shows) are left out of this list.
    """

    path: Path
    net_file: Path
    route_files: tuple[Path, ...] = ()
    additional_files: tuple[Path, ...] = ()
    begin_s: float | None = None
    end_s: float | None = None
    ignored: tuple[str, ...] = ()


def read_sumocfg(path: str | os.PathLike[str]) -> SumoConfig:
    """Read a SUMO configuration file.

    Parameters
    ----------
    path
        The ``.sumocfg`` file.

    Returns
    -------
    SumoConfig
        Its network, route and additional files (resolved against the file's folder, as SUMO
        does) and its begin and end times (s).

    Raises
    ------
    SumoConfigError
        The file is missing or not XML; it names no network; a file it names does not exist;
        a time is not a time; begin is negative or not before end.
    """
    cfg = Path(path)
    if not cfg.is_file():
        raise SumoConfigError(
            f"SUMO configuration {cfg} not found; give the path of an existing .sumocfg file"
        )
    try:
        root = ET.parse(cfg).getroot()
    except ET.ParseError as exc:
        raise SumoConfigError(f"SUMO configuration {cfg} is not valid XML: {exc}") from None
    values: dict[str, str] = {}
    ignored: list[str] = []
    for el, quiet in _elements(root):
        value = el.get("value", el.get("v"))
        if value is None and len(el) == 0:
            value = (el.text or "").strip() or None
        if value is None:
            continue
        key = _OPTIONS.get(el.tag)
        if key is None:
            if el.tag not in _SECTIONS and not quiet:
                ignored.append(el.tag)
            continue
        values[key] = _substitute_env(value, cfg, el.tag)
    base = cfg.resolve().parent
    nets = _files(values.get("net", ""), base, cfg, "net-file")
    if not nets:
        raise SumoConfigError(
            f"SUMO configuration {cfg} names no network: add <net-file value=\"....net.xml\"/> "
            "under <input>, or give --net"
        )
    if len(nets) > 1:
        raise SumoConfigError(f"SUMO configuration {cfg}: net-file names {len(nets)} files; "
                              "SUMO takes one network")  # fmt: skip
    begin = _time(values, "begin", cfg)
    end = _time(values, "end", cfg)
    if end is not None and end < 0:
        end = None  # SUMO's default -1: run until every vehicle has left
    if begin is not None and begin < 0:
        raise SumoConfigError(f"SUMO configuration {cfg}: begin {begin:g} s is negative")
    if begin is not None and end is not None and begin >= end:
        raise SumoConfigError(
            f"SUMO configuration {cfg}: begin {begin:g} s is not before end {end:g} s"
        )
    return SumoConfig(
        path=cfg.resolve(),
        net_file=nets[0],
        route_files=_files(values.get("routes", ""), base, cfg, "route-files"),
        additional_files=_files(values.get("additional", ""), base, cfg, "additional-files"),
        begin_s=begin,
        end_s=end,
        ignored=tuple(dict.fromkeys(ignored)),
    )


def holds_clearway_detectors(path: Path) -> bool:
    """Whether an additional file declares clearway's own lane-area detectors (``cw_*``).

    ``clearway import-osm`` lists its detector file in the ``.sumocfg`` it writes; clearway
    adds the same detectors to every run itself, and SUMO refuses a detector declared twice.
    Reads only up to the file's first detector.
    """
    try:
        for _event, el in ET.iterparse(path, events=("start",)):
            if el.tag in ("laneAreaDetector", "e2Detector"):
                return el.get("id", "").startswith(DETECTOR_PREFIX)
    except ET.ParseError:
        return False  # not ours: SUMO names what is wrong with it
    return False


def parse_sumo_time(text: str) -> float:
    """A SUMO time value in seconds: ``25200``, ``25200.5``, ``7:00:00`` or ``1:07:00:00``.

    Raises
    ------
    ValueError
        If ``text`` is none of these forms.
    """
    parts = text.strip().split(":")
    if len(parts) > 4 or not all(parts):
        raise ValueError(text)
    seconds = 0.0
    for factor, part in zip((86400.0, 3600.0, 60.0, 1.0)[-len(parts):], parts, strict=True):
        seconds += factor * float(part)
    if not math.isfinite(seconds):
        raise ValueError(text)
    return seconds


def _elements(root: ET.Element, quiet: bool = False) -> Iterator[tuple[ET.Element, bool]]:
    """Every element under ``root`` (itself first), and whether it sits in a quiet section."""
    yield root, quiet
    for child in root:
        yield from _elements(child, quiet or child.tag in _QUIET_SECTIONS)


def _time(values: dict[str, str], key: str, cfg: Path) -> float | None:
    text = values.get(key)
    if text is None:
        return None
    try:
        return parse_sumo_time(text)
    except ValueError:
        raise SumoConfigError(
            f"SUMO configuration {cfg}: {key} {text!r} is not a time; write seconds (25200) "
            "or h:mm:ss (7:00:00)"
        ) from None


def _files(text: str, base: Path, cfg: Path, option: str) -> tuple[Path, ...]:
    names = [n for n in re.split(r"[,\s]+", text) if n]
    paths = tuple(Path(n) if Path(n).is_absolute() else base / n for n in names)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SumoConfigError(
            f"SUMO configuration {cfg}: {option} names {', '.join(missing)}, which does not "
            "exist (relative paths count from the configuration's folder)"
        )
    return paths


def _substitute_env(value: str, cfg: Path, option: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise SumoConfigError(
                f"SUMO configuration {cfg}: {option} uses ${{{m.group(1)}}}, which is not set "
                "in the environment"
            )
        return os.environ[m.group(1)]

    return _ENV.sub(sub, value)
