"""What the live runtime ran on, as written into every request's ``created`` audit record.

A replay of a past incident (``clearway replay``) re-runs the same demand on the twin: it
needs the scenario the service ran (network, demand, detectors, SUMO seed, time window, demand
factor) and how it controlled the signals (priority strategy, normal controller, control
period). None of it is personal data: file paths and SHA-256 digests of the SUMO inputs,
numbers and strategy names. The digests let the replay check that the files it finds are the
ones the service ran, and refuse a changed file; the network's digest without its comments
(:func:`content_digest`) tells whether a scenario given instead has the same network.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from clearway.sim.files import file_digest
from clearway.sim.scenario import Scenario

#: ``site`` of a runtime on a SUMO twin / on field controllers.
TWIN_SITE = "twin"
FIELD_SITE = "field"


def run_config(
    scenario: Scenario | None,
    *,
    strategy: str,
    normal: str,
    tick_s: float,
    backend: str,
) -> dict[str, Any]:
    """The runtime's configuration as JSON (``scenario`` ``None``: field controllers).

    Parameters
    ----------
    scenario
        The scenario as given to the runtime (without the priority vType clearway adds).
    strategy, normal
        Priority strategy and normal controller between holds.
    tick_s
        Time between two control decisions (s).
    backend
        ``libsumo`` or ``traci``.
    """
    control = {"strategy": strategy, "normal": normal, "tick_s": float(tick_s)}
    if scenario is None:
        return {"site": FIELD_SITE, **control}
    return {"site": TWIN_SITE, **control, "backend": backend, **_scenario_config(scenario)}


def run_config_of(runtime: Any) -> dict[str, Any]:
    """:func:`run_config` of a :class:`~clearway.service.runtime.ServiceRuntime`."""
    return run_config(
        runtime.scenario, strategy=runtime.strategy, normal=runtime.normal,
        tick_s=runtime.tick_s, backend=runtime.backend,
    )  # fmt: skip


@lru_cache(maxsize=8)
def _scenario_config(scenario: Scenario) -> dict[str, Any]:
    # Digests once per scenario (a city's route files can be large); the dict is copied by
    # the caller's ``**`` before it goes into a payload.
    def files(paths: tuple[Path, ...]) -> list[dict[str, str]]:
        return [{"path": str(Path(p).resolve()), "sha256": _digest(Path(p))} for p in paths]

    det = scenario.detector_file
    net = files((scenario.net_file,))[0]
    return {
        "scenario": scenario.name,
        "net": {**net, "content_sha256": content_digest(Path(scenario.net_file))},
        "routes": files(scenario.route_files),
        "additional": files(scenario.additional_files),
        "detectors": None if det is None else files((det,))[0],
        "seed": scenario.seed,
        "begin_s": scenario.begin_s,
        "end_s": scenario.end_s,
        "demand_scale": scenario.demand_scale,
    }


def _digest(path: Path) -> str:
    try:
        return file_digest(path)
    except OSError:  # gone already: the replay will say so
        return ""


_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


def content_digest(path: Path) -> str:
    """SHA-256 of a SUMO XML file without its comments (``.gz`` read uncompressed): the same
    for a network generated again from the same inputs, whose header comment names another
    time and output path. ``""`` if it cannot be read."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(_COMMENT.sub(b"", data)).hexdigest()
