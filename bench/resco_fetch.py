"""Fetch the RESCO benchmark networks (real cities with their own demand) for the bench.

The networks ship in the MIT-licensed PyPI package ``sumo-rl`` 1.4.5 (``sumo_rl/nets/RESCO/``:
Cologne and Ingolstadt from the TAPAS/InTAS scenarios, with calibrated real demand). The wheel
is downloaded with pip (``python -m pip download sumo-rl==1.4.5 --no-deps``), its sha256 checked
against :data:`WHEEL_SHA256`, and the folders of the cities asked for unpacked into a cache
folder; nothing is fetched again once the cache holds them. Offline, :class:`FetchSkipped`
says why, and the bench skips the case with that reason.

Run alone: ``python bench/resco_fetch.py <cache dir> [name ...]``.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from clearway.sim.files import file_digest

PACKAGE = "sumo-rl==1.4.5"
WHEEL_NAME = "sumo_rl-1.4.5-py3-none-any.whl"
WHEEL_SHA256 = "322d090e6a66d97cc9b265c0b6fa092687bc6b35965fe5f53f678878d1987660"
NETS_PREFIX = "sumo_rl/nets/RESCO/"


class FetchSkipped(Exception):
    """The networks could not be had (offline, or the wheel is not the one expected)."""


def wheel(cache: Path) -> Path:
    """The checked sumo-rl wheel in ``cache`` (downloaded if missing).

    Raises
    ------
    FetchSkipped
        If pip cannot download it, or its sha256 is not :data:`WHEEL_SHA256`.
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / WHEEL_NAME
    if not path.is_file():
        cmd = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--quiet",
               "-d", str(cache)]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchSkipped(f"pip download {PACKAGE} failed: {exc}") from exc
        if done.returncode != 0 or not path.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise FetchSkipped(f"pip download {PACKAGE} failed (offline?): {tail[0]}")
    digest = file_digest(path)
    if digest != WHEEL_SHA256:
        raise FetchSkipped(f"{path.name} has sha256 {digest}, expected {WHEEL_SHA256}; not used")
    return path


def fetch(cache: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """Folders of the RESCO networks ``names`` (e.g. ``ingolstadt21``), unpacked under
    ``cache/nets``; each holds ``<name>.sumocfg`` with its net and routes.

    Raises
    ------
    FetchSkipped
        If the wheel cannot be had, or does not hold one of ``names``.
    """
    nets = cache / "nets"
    out = {name: nets / name for name in names}
    missing = [n for n, d in out.items() if not (d / f"{n}.sumocfg").is_file()]
    if not missing:
        return out
    with zipfile.ZipFile(wheel(cache)) as zf:
        for name in missing:
            prefix = f"{NETS_PREFIX}{name}/"
            members = [m for m in zf.namelist() if m.startswith(prefix) and not m.endswith("/")]
            if not members:
                raise FetchSkipped(f"{WHEEL_NAME} has no {prefix}")
            for m in members:
                target = out[name] / m[len(prefix) :]
                if ".." in Path(m).parts:
                    raise FetchSkipped(f"{WHEEL_NAME}: unsafe member name {m!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(m))
    return out


if __name__ == "__main__":
    where = fetch(Path(sys.argv[1]), tuple(sys.argv[2:]) or ("ingolstadt21",))
    for key, folder in where.items():
        print(key, folder)
