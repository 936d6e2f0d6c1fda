"""Cached, atomically written files: names keyed by a hash of their inputs.

Every generated file name carries a hash of the inputs that made it, so a second call with the
same inputs reuses the file and a call with other inputs never picks up a stale one. Files are
written under a temporary name and renamed, so parallel evaluation workers building the same
scenario never read a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Bump when the way files are generated changes, so caches built by older code are not reused.
RECIPE = 1


def input_key(*parts: object) -> str:
    """A short hash (10 hex digits) of JSON-able inputs, for file names."""
    blob = json.dumps([RECIPE, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks: city nets can be 100 MB+)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_stem(path: Path) -> str:
    """``grid.net.xml`` -> ``grid``: the name without SUMO's double suffixes."""
    name = path.name
    for suffix in (".net.xml.gz", ".net.xml", ".xml.gz", ".xml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def ensure_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as an absolute path, created if missing."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextmanager
def staging(final: Path) -> Iterator[Path]:
    """Yield a unique temporary name beside ``final``; rename it into place on success."""
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
