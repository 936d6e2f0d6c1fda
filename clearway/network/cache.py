"""A cache of loaded networks, so a city's network is parsed once, not once per run.

Parsing a city's ``.net.xml`` with sumolib and building the :class:`Network` takes seconds
(about 3 s for Luxembourg City's 22 MB net) -- as long as a quarter of an hour of SUMO on
that network -- and every run, evaluation seed and command loads it again. The loaded model
is kept as a pickle named by the SHA-256 of the file's bytes *and* of the source of the
modules that build it, so an edited network or a changed loader never reads an old model:
the intersection model and with it the safety guard are always built from the file as it is.

The cache lives in ``$CLEARWAY_CACHE_DIR`` (default ``$XDG_CACHE_HOME/clearway`` or
``~/.cache/clearway``); ``CLEARWAY_CACHE_DIR=off`` switches it off. A cache that cannot be
written or read is skipped (the network is parsed), never an error. Only load pickles from a
folder you trust, as with any pickle.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.metadata
import os
import pickle
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from clearway.network.model import Network

#: Environment variable naming the cache folder; ``off`` (or empty) disables the cache.
CACHE_ENV = "CLEARWAY_CACHE_DIR"
_OFF = {"", "off", "0", "false", "no"}
_READ_BYTES = 1 << 20
#: Models kept; the least recently written beyond this are removed (a city's is ~12 MB).
MAX_ENTRIES = 32


def cache_dir() -> Path | None:
    """The network cache folder, or ``None`` when the cache is off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clearway"


def cached_network(path: Path, build: Callable[[Path], Network]) -> Network:
    """``build(path)``, or the model it built before from the same bytes with the same code.

    Parameters
    ----------
    path
        The network file (checked by ``build`` when there is no cached model).
    build
        Parses and builds the model; its errors propagate unchanged.
    """
    folder = cache_dir()
    if folder is None or not path.is_file():
        return build(path)  # a missing file gets build's clear error
    try:
        entry = folder / "networks" / f"{_key(path)}.pickle"
    except OSError:
        return build(path)
    net = _read(entry)
    if net is not None:
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used: pruned last
    else:
        net = build(path)
        _write(entry, net)
    # The same bytes may sit under another name: the model names the file it was loaded from.
    object.__setattr__(net, "source", path)
    return net


def _key(path: Path) -> str:
    digest = hashlib.sha256(_code_fingerprint().encode())
    with path.open("rb") as f:
        while chunk := f.read(_READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


#: The modules whose code decides what a loaded network holds.
_BUILDERS = ("loader.py", "model.py", "netfile.py")


@cache
def _code_fingerprint() -> str:
    digest = hashlib.sha256(_sumolib_version().encode())  # it parses the file
    for name in _BUILDERS:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def _sumolib_version() -> str:
    try:
        return importlib.metadata.version("sumolib")
    except importlib.metadata.PackageNotFoundError:  # SUMO_HOME/tools on the path instead
        return "unknown"


def _read(entry: Path) -> Network | None:
    try:
        with entry.open("rb") as f, _collector_paused():
            net = pickle.load(f)
    except Exception:  # missing, truncated by a crash, or from an incompatible Python
        return None
    return net if isinstance(net, Network) else None


@contextlib.contextmanager
def _collector_paused():
    # Unpickling a city builds ~10^5 objects, none of them garbage: the collector's passes
    # in between found nothing and took half the load (Luxembourg City: 0.49 -> 0.21 s).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write(entry: Path, net: Network) -> None:
    # Written under a temporary name and renamed: parallel runs never read half a file.
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(net, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except Exception:
        with contextlib.suppress(Exception):
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        return
    _prune(entry.parent)


def _prune(folder: Path) -> None:
    with contextlib.suppress(OSError):
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[MAX_ENTRIES:]:
            old.unlink(missing_ok=True)
