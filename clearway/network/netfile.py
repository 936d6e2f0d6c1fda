"""Check and parse a SUMO network file (plain or gzipped) with sumolib.

The file is checked cheaply first (exists, is a file, is XML, root element ``<net>``) so that a
wrong path or a routes file gets a message that says what to do; every parser failure is
wrapped into :class:`~clearway.errors.NetworkError`.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import IO, Any
from xml import sax
from xml.etree import ElementTree
from xml.parsers import expat
from xml.sax import SAXParseException

import sumolib

from clearway.errors import NetworkError

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 64 * 1024
#: The usual remedy for a damaged net, ending every such message.
REGENERATE = "re-create it with netconvert (or netgenerate)"
#: What a user most likely handed us instead of a net, by root element.
_ROOT_HINTS = {
    "routes": "this is a demand (routes/trips) file; pass the .net.xml it was made for",
    "additional": "this is an additional file (detectors, programs); pass the .net.xml",
    "osm": "this is raw OpenStreetMap data; convert it first with netconvert --osm-files",
    "configuration": "this is a configuration file; pass the .net.xml it names",
    "sumoConfiguration": "this is a .sumocfg; pass the .net.xml it names",
    "nodes": "this is a plain-XML nodes file; build the net with netconvert",
    "edges": "this is a plain-XML edges file; build the net with netconvert",
}


def read_sumo_net(path: Path) -> Any:
    """sumolib's network object for ``path``, after checking it is a readable SUMO network.

    Raises
    ------
    NetworkError
        If the file is missing, a directory, empty, not XML, not a SUMO network, or damaged;
        the message names the file and what to do.
    """
    source = _check_path(path)
    root = _sniff_root(source)
    if root != "net":
        hint = _ROOT_HINTS.get(root, f"pass a SUMO network; {REGENERATE}")
        raise NetworkError(
            f"{source} is XML but not a SUMO network: root element <{root}>, expected <net>; {hint}"
        )
    return _read_with_sumolib(source)


# -- checking the file -----------------------------------------------------------------------
def _check_path(path: Path) -> Path:
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.net.xml*"))[:5]
        inside = f" (it contains {', '.join(found)})" if found else ""
        raise NetworkError(f"{path} is a directory, not a network file; pass a .net.xml{inside}")
    if not path.exists():
        raise NetworkError(
            f"network file not found: {path}; check the path (relative paths start at "
            f"{Path.cwd()}) or build a net with netgenerate/netconvert"
        )
    if not os.access(path, os.R_OK):
        raise NetworkError(f"cannot read network file {path}: permission denied")
    if path.stat().st_size == 0:
        raise NetworkError(f"{path} is empty (0 bytes); {REGENERATE}")
    return path


def _open_bytes(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(len(_GZIP_MAGIC))
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else path.open("rb")


def _sniff_root(path: Path) -> str:
    """Name of the root element, parsing only as far as its start tag."""
    parser = ElementTree.XMLPullParser(events=("start",))
    seen = 0
    try:
        with _open_bytes(path) as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                seen += len(chunk)
                parser.feed(chunk)
                for _event, element in parser.read_events():
                    return element.tag.rpartition("}")[2]  # ignore an XML namespace
            if seen == 0:
                raise NetworkError(f"{path} is empty (a gzip file with no content); {REGENERATE}")
            parser.close()  # no start tag at all: raises ParseError("no element found")
    except ElementTree.ParseError as exc:
        line = exc.position[0]
        raise NetworkError(
            f"{path} is not XML (line {line}: {expat.ErrorString(exc.code)}); "
            "pass a SUMO .net.xml or .net.xml.gz file"
        ) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _damaged_gzip(path, exc) from exc
    except OSError as exc:
        raise NetworkError(f"cannot read network file {path}: {exc}") from exc
    except LookupError as exc:  # <?xml encoding="..."?> names a codec Python does not know
        raise NetworkError(
            f"{path} declares an unknown text encoding ({exc}); SUMO writes UTF-8: {REGENERATE}"
        ) from exc
    raise NetworkError(f"{path} has no root element; {REGENERATE}")  # pragma: no cover


def _damaged_gzip(path: Path, exc: BaseException) -> NetworkError:
    return NetworkError(
        f"{path} is a truncated or damaged gzip file ({exc}); download it again or {REGENERATE}"
    )


class _NetReader(sumolib.net.NetReader):  # type: ignore[misc]
    """sumolib's reader, remembering the element it is at so an error can name it."""

    _locator: Any = None
    element: tuple[str, Any] | None = None

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 - SAX's name
        self.element = (name, attrs)
        super().startElement(name, attrs)

    def where(self) -> str:
        """``line 12, <lane id="a_0">``: where the parser was, or ``""`` before the root."""
        if self.element is None:
            return ""
        name, attrs = self.element
        ident = next((f" {k}={attrs[k]!r}" for k in ("id", "from", "index") if k in attrs), "")
        line = self._locator.getLineNumber() if self._locator is not None else None
        return f"{f'line {line}, ' if line else ''}<{name}{ident}>: "


def _read_with_sumolib(path: Path) -> Any:
    # sumolib.net.readNet with the same options, parsed here so errors name line and element.
    reader = _NetReader(withInternal=True, withPedestrianConnections=True, withPrograms=True)
    try:
        with _open_bytes(path) as stream:
            sax.parse(stream, reader)
        return reader.getNet()
    except SAXParseException as exc:
        raise NetworkError(
            f"{path} is truncated or malformed XML (line {exc.getLineNumber()}: "
            f"{exc.getMessage()}); {REGENERATE}"
        ) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _damaged_gzip(path, exc) from exc
    except OSError as exc:
        raise NetworkError(f"cannot read network file {path}: {exc}") from exc
    except KeyError as exc:
        raise NetworkError(
            f"{path} is not a valid SUMO network: {reader.where()}a required attribute or "
            f"referenced id {exc} is missing; {REGENERATE}"
        ) from exc
    except Exception as exc:  # sumolib signals malformed nets with bare Value/Index/TypeErrors
        raise NetworkError(
            f"{path} could not be read as a SUMO network ({reader.where()}"
            f"{type(exc).__name__}: {exc}); {REGENERATE}"
        ) from exc
