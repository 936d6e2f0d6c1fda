"""Demand without driver imperfection (``sigma=0``): paired runs that differ only by cause.

Why: SUMO's Krauss drivers dawdle by a random draw every step, from random-number streams
shared per lane. One extra vehicle (an ambulance on a far-away road) shifts those streams, and
from then on every vehicle on every lane sharing them drives differently: on a 5x5 grid 2,400
of 3,000 vehicles changed their trip, worth several tenths of a vehicle-hour of "extra delay"
that the ambulance did not cause. With ``sigma=0`` no vehicle draws while driving and only the
vehicles the ambulance really meets change (measured: 10 of 3,000).

:func:`without_driver_noise` rewrites route files with ``sigma="0"`` on every vType of a
Krauss-family car-following model (the ones that use it) and a ``DEFAULT_VEHTYPE`` that has
it, for vehicles without a type. Everything else is copied unchanged (comments are dropped).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from clearway.errors import SimulationError
from clearway.sim.files import ensure_dir, file_digest, file_stem, input_key, staging

#: Car-following models whose ``sigma`` is a random dawdling (SUMO's default is Krauss).
_SIGMA_MODELS = frozenset({"Krauss", "KraussOrig1", "KraussPS", "KraussX", "SKOrig", "SmartSK"})
_DEFAULT_TYPE = "DEFAULT_VEHTYPE"


def without_driver_noise(
    route_files: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> tuple[Path, ...]:
    """Copies of ``route_files`` whose drivers do not dawdle (cached by content).

    Parameters
    ----------
    route_files
        SUMO route/trip files (plain or gzipped).
    out_dir
        Where the copies go.

    Returns
    -------
    tuple of Path
        The rewritten files, in the same order.

    Raises
    ------
    SimulationError
        If a file is missing or not XML.
    """
    out = ensure_dir(out_dir)
    paths = [Path(p) for p in route_files]
    defines_default = any(_defines_default_type(p) for p in paths)
    result = []
    for i, src in enumerate(paths):
        add_default = i == 0 and not defines_default
        key = input_key("no-driver-noise", file_digest(src), add_default)
        stem = file_stem(src).removesuffix(".rou")
        dst = out / f"{stem}_calm_{key}.rou.xml"
        if not dst.is_file():
            with staging(dst) as tmp, tmp.open("w", encoding="utf-8") as f:
                _rewrite(src, f, add_default)
        result.append(dst)
    return tuple(result)


def _open(path: Path) -> IO[bytes]:
    if not path.is_file():
        raise SimulationError(f"route file {path} not found; check the path")
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _calm(elem: ElementTree.Element) -> None:
    for vt in elem.iter("vType"):
        if vt.get("carFollowModel", "Krauss") in _SIGMA_MODELS:
            vt.set("sigma", "0")
        # Old-style nested model definitions carry their own sigma.
        for child in vt:
            if child.tag.startswith("carFollowing-") and child.tag[13:] in _SIGMA_MODELS:
                child.set("sigma", "0")


def _rewrite(src: Path, out: IO[str], add_default: bool) -> None:
    """Stream ``src`` to ``out`` top-level element by top-level element (city demand is big)."""
    depth = 0
    root: ElementTree.Element | None = None
    try:
        with _open(src) as f:
            for event, elem in ElementTree.iterparse(f, events=("start", "end")):
                if event == "start":
                    if root is None:
                        root = elem
                        # Namespaced attributes (the XSD location) would need their namespace
                        # declared again; SUMO does not need them.
                        attrs = "".join(
                            f' {k}="{_esc(v)}"' for k, v in elem.attrib.items() if k[0] != "{"
                        )
                        out.write(f"<{elem.tag}{attrs}>\n")
                        if add_default:
                            out.write(f'    <vType id="{_DEFAULT_TYPE}" sigma="0"/>\n')
                    depth += 1
                    continue
                depth -= 1
                if depth == 1:
                    _calm(elem)
                    out.write(
                        "    " + ElementTree.tostring(elem, encoding="unicode").strip() + "\n"
                    )
                    root.clear()  # type: ignore[union-attr]
    except ElementTree.ParseError as exc:
        raise SimulationError(f"route file {src} is not valid XML: {exc}") from None
    if root is None:
        raise SimulationError(f"route file {src} is empty")
    out.write(f"</{root.tag}>\n")


def _defines_default_type(path: Path) -> bool:
    try:
        with _open(path) as f:
            for _, elem in ElementTree.iterparse(f, events=("end",)):
                if elem.tag == "vType" and elem.get("id") == _DEFAULT_TYPE:
                    return True
                if elem.tag in ("vehicle", "trip", "flow", "person"):
                    elem.clear()
    except ElementTree.ParseError as exc:
        raise SimulationError(f"route file {path} is not valid XML: {exc}") from None
    return False


def _esc(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
