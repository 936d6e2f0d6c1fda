"""Where SUMO lives, and how to run its programs and tools.

The PyPI wheels put the binaries in ``site-packages/sumo/bin`` and the tools in
``site-packages/sumo/tools``. ``import libsumo`` sets ``SUMO_HOME`` to ``site-packages/sumo_data``
(no ``bin/`` or ``tools/``) when nothing set it before, so this module pins ``SUMO_HOME`` to the
``sumo`` wheel *at import time*; every module that imports libsumo or traci imports this first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import sumo as _sumo_wheel

from clearway.errors import SimulationError

_SUMO_HOME = Path(_sumo_wheel.SUMO_HOME)
# Always override: a SUMO_HOME inherited from libsumo (sumo_data) or from another SUMO install
# would give tools and data of a different layout or release than the pinned 1.28 binaries.
os.environ["SUMO_HOME"] = str(_SUMO_HOME)

#: Programs shipped in ``sumo_home()/bin`` that clearway runs.
BINARIES = ("sumo", "sumo-gui", "netgenerate", "netconvert", "duarouter", "jtrrouter", "od2trips")

#: Lines of a failing tool's stderr quoted in the error (the end says what went wrong).
_STDERR_TAIL_LINES = 25


def sumo_home() -> Path:
    """The SUMO installation folder of the ``eclipse-sumo`` wheel (has ``bin/`` and ``tools/``)."""
    return _SUMO_HOME


def sumo_binary(name: str) -> str:
    """Path of a SUMO program, e.g. ``sumo_binary("netgenerate")``.

    Raises
    ------
    SimulationError
        If the program is not in ``sumo_home()/bin`` (broken or partial install).
    """
    exe = name + ".exe" if sys.platform == "win32" and not name.endswith(".exe") else name
    path = _SUMO_HOME / "bin" / exe
    if not path.is_file():
        raise SimulationError(
            f"SUMO program {name!r} not found at {path}; reinstall the pinned SUMO wheels "
            "(pip install 'eclipse-sumo==1.28.0')"
        )
    return str(path)


def tool(path: str | os.PathLike[str]) -> Path:
    """Path of a SUMO tool relative to ``sumo_home()/tools``, e.g. ``tool("randomTrips.py")``.

    Raises
    ------
    SimulationError
        If the tool does not exist.
    """
    full = _SUMO_HOME / "tools" / path
    if not full.is_file():
        raise SimulationError(f"SUMO tool {str(path)!r} not found at {full}")
    return full


def run_tool(
    args: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    cwd: str | os.PathLike[str] | None = None,
    timeout_s: float | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a SUMO program or tool, capturing its output.

    Parameters
    ----------
    args
        The command. A first element ending in ``.py`` is run with this interpreter
        (``sys.executable``), so the tools find this venv's ``sumolib``.
    what
        What the command does, for the error message (e.g. ``"generating the 5x5 grid"``).
    cwd
        Working directory (tools like randomTrips write side files next to their outputs).
    timeout_s
        Give up after this long (s); ``None`` waits forever.
    extra_env
        Variables added to the command's environment only (not to this process'), e.g.
        ``PROJ_LIB`` for netconvert.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as text.

    Raises
    ------
    SimulationError
        If the command cannot be started, times out, or exits non-zero; the message quotes the
        end of its stderr (or stdout when stderr is empty).
    """
    cmd = [os.fspath(a) for a in args]
    if cmd and cmd[0].endswith(".py"):
        cmd.insert(0, sys.executable)
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, **(extra_env or {})},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SimulationError(f"{what} failed: could not run {cmd[0]!r}: {exc}") from exc
    if proc.returncode != 0:
        text = proc.stderr.strip() or proc.stdout.strip()
        tail = "\n".join(text.splitlines()[-_STDERR_TAIL_LINES:])
        raise SimulationError(
            f"{what} failed (exit code {proc.returncode}) running {' '.join(cmd)}:\n{tail}"
        )
    return proc
