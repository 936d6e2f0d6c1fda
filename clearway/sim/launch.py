"""Starting SUMO for the twin: the command line, both backends, and readable failures.

Kept apart from :mod:`clearway.sim.twin` so the twin module is only about what a running
simulation offers (signals, detectors, clock).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Literal

# sumo_env pins SUMO_HOME before libsumo/traci are imported anywhere (see its docstring).
from clearway.sim import sumo_env  # isort: split

from clearway.errors import SimulationError
from clearway.sim.scenario import Scenario

Backend = Literal["libsumo", "traci"]

#: Seconds a vehicle may stand still before SUMO teleports it (resolves rare deadlocks; every
#: teleport is counted by the twin and reported by the evaluation).
TIME_TO_TELEPORT_S = 300.0

_LOG_TAIL_LINES = 15
# TraCI start-up: poll SUMO's socket every 50 ms for up to 10 min (large city nets load slowly);
# try a few free ports in case another process grabs the one picked.
_TRACI_POLL_S = 0.05
_TRACI_CONNECT_RETRIES = 12_000
_TRACI_PORT_ATTEMPTS = 3

# libsumo holds one simulation per process: who holds it now (a SumoTwin), if anyone.
_libsumo_owner: Any = None
_labels = itertools.count()


def missing_inputs(scenario: Scenario) -> list[Path]:
    """Input files of ``scenario`` that do not exist."""
    files = [scenario.net_file, *scenario.route_files, *scenario.additional_files]
    if scenario.detector_file is not None:
        files.append(scenario.detector_file)
    return [Path(p) for p in files if not Path(p).is_file()]


def sumo_command(
    scenario: Scenario,
    step_length_s: float,
    tripinfo: Path | None,
    log: Path | None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The ``sumo`` command line for ``scenario`` (``extra_args`` last, so they override)."""
    cmd = [
        sumo_env.sumo_binary("sumo"),
        "--net-file", str(scenario.net_file),
        "--begin", _time_arg(scenario.begin_s),
        "--end", _time_arg(scenario.end_s),
        "--step-length", f"{step_length_s:g}",
        "--seed", str(scenario.seed),
        "--time-to-teleport", f"{TIME_TO_TELEPORT_S:g}",
        "--no-step-log", "true",
        "--duration-log.disable", "true",
        # Warnings (teleports, emergency braking) go to the log file, not this process' stderr.
        "--no-warnings", "true",
    ]  # fmt: skip
    if scenario.route_files:
        cmd += ["--route-files", ",".join(map(str, scenario.route_files))]
    if scenario.demand_scale != 1.0:
        # SUMO duplicates or drops loaded vehicles itself, for any route/trip/flow file.
        cmd += ["--scale", repr(scenario.demand_scale)]
    adds = [*scenario.additional_files]
    if scenario.detector_file is not None:
        adds.append(scenario.detector_file)
    if adds:
        cmd += ["--additional-files", ",".join(map(str, adds))]
    if tripinfo is not None:
        # Vehicles still driving or never inserted at the end are written too (SUMO writes
        # both with this option), else the worst delays vanish from the statistics.
        cmd += ["--tripinfo-output", str(tripinfo), "--tripinfo-output.write-undeparted", "true"]
    if log is not None:
        cmd += ["--error-log", str(log)]
    return cmd + list(extra_args)


def _time_arg(time_s: float) -> str:
    # Not ``:g``: it rounds to 6 digits, and 13 days (1.1e6 s) would become 1.1e+06.
    return f"{time_s:.3f}".rstrip("0").rstrip(".")


def launch(
    backend: Backend, cmd: list[str], name: str, log: Path | None
) -> tuple[Any, IO[bytes] | None]:
    """Start SUMO.

    Returns
    -------
    tuple
        The API handle (the ``libsumo`` module or a ``traci`` Connection; both have the same
        domains) and, for TraCI, the file collecting SUMO's stderr.

    Raises
    ------
    SimulationError
        If SUMO cannot start, or libsumo is already running a simulation in this process.
    """
    if backend == "traci":
        return _start_traci(cmd, name, log)
    if _libsumo_owner is not None and not _libsumo_owner.closed:
        raise SimulationError(
            f"a libsumo simulation ({_libsumo_owner.scenario.name!r}) is already running in "
            "this process; close it first, or use backend='traci' (or another process) "
            "to run several at once"
        )
    import libsumo

    if libsumo.simulation.isLoaded():
        raise SimulationError(
            "a libsumo simulation started outside SumoTwin is running in this process; "
            "close it (libsumo.close()) first"
        )
    try:
        libsumo.start(cmd)
    except backend_errors("libsumo") as exc:
        # SUMO has printed the details to this process' stderr; the log may hold them too.
        raise SimulationError(
            f"SUMO (libsumo) could not start {name!r}: {exc}{log_tail(log)}"
        ) from exc
    return libsumo, None


def claim_libsumo(owner: Any) -> None:
    """Record ``owner`` (a started SumoTwin) as the holder of this process' libsumo."""
    global _libsumo_owner
    _libsumo_owner = owner


def release_libsumo(owner: Any) -> None:
    """Free libsumo if ``owner`` holds it."""
    global _libsumo_owner
    if _libsumo_owner is owner:
        _libsumo_owner = None


def _start_traci(cmd: list[str], name: str, log: Path | None) -> tuple[Any, IO[bytes]]:
    # Like traci.start(), but polls for SUMO's socket every 50 ms instead of every second
    # (measured on a 3x3 grid: start-up 1.03 s with traci.start, 0.14 s this way).
    import traci
    from sumolib.miscutils import getFreeSocketPort

    errors = backend_errors("traci")
    label = f"clearway-{os.getpid()}-{next(_labels)}"
    failure = ""
    for _attempt in range(_TRACI_PORT_ATTEMPTS):
        port = getFreeSocketPort()
        # A file, not a pipe: nobody reads SUMO's stderr while it runs, and a full pipe
        # would block it.
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the twin closes it in close()
        proc = subprocess.Popen(
            [*cmd, "--remote-port", str(port)], stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            # connect() prints each retry to stdout; keep that out of the caller's output.
            with contextlib.redirect_stdout(io.StringIO()):
                conn = traci.connect(
                    port,
                    numRetries=_TRACI_CONNECT_RETRIES,
                    proc=proc,
                    waitBetweenRetries=_TRACI_POLL_S,
                    label=label,
                )
            return conn, stderr
        except errors as exc:
            # SUMO exited: bad input, or another process took the free port first; retry on
            # a new port, and quote SUMO's own words if it keeps failing.
            failure = f"{exc}{stderr_tail(stderr)}"
            stderr.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    raise SimulationError(f"SUMO (TraCI) could not start {name!r}: {failure}{log_tail(log)}")


def backend_errors(backend: Backend) -> tuple[type[BaseException], ...]:
    """The exception classes a backend raises for SUMO-side failures."""
    # Importing libsumo *replaces* traci.exceptions.TraCIException with libsumo's class, while
    # traci's own modules keep raising the original one: catch every variant.
    import traci.main
    from traci import exceptions

    errors: set[type[BaseException]] = {
        traci.main.TraCIException,
        traci.main.FatalTraCIError,
        exceptions.TraCIException,
        exceptions.FatalTraCIError,
    }
    if backend == "libsumo":
        import libsumo

        errors |= {libsumo.TraCIException, libsumo.FatalTraCIError}
    return tuple(errors)


def stderr_tail(stderr: IO[bytes] | None) -> str:
    """The last lines SUMO wrote to ``stderr``, formatted to append to an error message."""
    if stderr is None or stderr.closed:
        return ""
    stderr.flush()
    stderr.seek(0)
    lines = stderr.read().decode(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    return ("\nSUMO said:\n" + "\n".join(lines)) if lines else ""


def log_tail(log: Path | None) -> str:
    """The last lines of SUMO's error log, formatted to append to an error message."""
    if log is None or not log.is_file():
        return ""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    return ("\nSUMO log " + str(log) + ":\n" + "\n".join(lines)) if lines else ""
