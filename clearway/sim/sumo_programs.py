"""SUMO's own adaptive signal programs as external baselines (``--strategy sumo-actuated``,
``sumo-delay-based``).

For every traffic light an additional ``tlLogic`` of SUMO's type ``actuated`` or
``delay_based`` is written with the phases of its default program; loaded after the network it
replaces the default, and SUMO runs it with its own (generated) detectors. clearway then only
watches: nothing passes the guard. To compare control logic rather than change intervals, the
programs get clearway's yellows, all-reds and minimum greens written in
(:func:`write_sumo_programs`); on the 5x5 grid the monitor then sees no violation at all, but
where a program ends a pedestrian green without a yellow phase SUMO may still clear crossings
faster than clearway would — the monitor reports it as a clearance deviation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

from clearway.errors import ConfigError
from clearway.network.model import Network, SignalProgram
from clearway.signals.model import Intersection
from clearway.sim.files import staging

#: clearway strategy name -> SUMO tlLogic type.
SUMO_TYPES = {"sumo-actuated": "actuated", "sumo-delay-based": "delay_based"}
#: Green phases get at least this minimum and at most this maximum duration (s), the ranges
#: SUMO's own defaults use for guessed actuated programs.
MIN_GREEN_S = 5.0
MAX_GREEN_S = 50.0
PROGRAM_ID = "cw_sumo_baseline"


def write_sumo_programs(
    net: Network,
    strategy: str,
    out: str | os.PathLike[str],
    models: Mapping[str, Intersection] | None = None,
) -> Path:
    """Write the baseline programs of ``strategy`` for every traffic light of ``net``.

    With ``models`` the programs keep clearway's safety timings, so the comparison is about
    the control logic and not about shorter change intervals: every yellow lasts at least the
    longest yellow of its links, an all-red of the longest red clearance of the links that just
    ended follows it, and no green is shorter than its links' minimum green (all rounded up to
    whole seconds, the simulation step).

    Parameters
    ----------
    net
        The network.
    strategy
        ``sumo-actuated`` or ``sumo-delay-based``.
    out
        The additional file to write.
    models
        clearway's intersection models (safety timings) per signal id.

    Returns
    -------
    Path
        ``out``.
    """
    kind = SUMO_TYPES.get(strategy)
    if kind is None:
        raise ConfigError(f"unknown SUMO baseline {strategy!r}; choose one of {sorted(SUMO_TYPES)}")
    lines = ["<additional>"]
    for tl in net.traffic_lights.values():
        program = tl.default_program
        model = (models or {}).get(tl.id)
        lines.append(
            f"    <tlLogic id={quoteattr(tl.id)} type=\"{kind}\" programID=\"{PROGRAM_ID}\" "
            f"offset=\"{program.offset_s:g}\">"
        )
        for state, lo, hi in _phases(program, model):
            d = lo
            lines.append(
                f"        <phase duration=\"{d:g}\" state=\"{state}\" minDur=\"{lo:g}\" "
                f"maxDur=\"{hi:g}\"/>"
            )
        lines.append("    </tlLogic>")
    lines.append("</additional>")
    path = Path(out)
    with staging(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _phases(
    program: SignalProgram, model: Intersection | None
) -> list[tuple[str, float, float]]:
    """``(state, min duration, max duration)`` of every phase to write (s)."""
    out: list[tuple[str, float, float]] = []
    phases = program.phases
    for k, phase in enumerate(phases):
        state = phase.state
        before = phases[k - 1].state
        yellow = [i for i, c in enumerate(state) if c in "yY"]
        green = [i for i, c in enumerate(state) if c in "Gg"]
        if green and not yellow:
            lo = phase.min_dur_s if phase.min_dur_s is not None else min(MIN_GREEN_S, phase.duration_s)
            hi = phase.max_dur_s if phase.max_dur_s is not None else max(MAX_GREEN_S, phase.duration_s)
            if model is not None:
                lo = max(lo, math.ceil(max(model.timings[i].min_green_s for i in green)))
                hi = max(hi, lo)
            out.append((state, lo, hi))
            continue
        d = phase.duration_s
        if model is not None and yellow:
            d = max(d, math.ceil(max(model.timings[i].yellow_s for i in yellow) - 1e-9))
        out.append((state, d, d))
        if model is not None and yellow:
            # Links that ended their green when this yellow began without a yellow of their own
            # (pedestrian crossings) need their clearance too, minus the yellow already shown.
            straight_red = [i for i, c in enumerate(state) if c in "rs" and before[i] in "Gg"]
            clear = math.ceil(max(
                [model.timings[i].clearance_s for i in yellow]
                + [model.timings[i].clearance_s - d for i in straight_red]
            ) - 1e-9)  # fmt: skip
            if clear > 0:
                red = "".join("r" if c in "yY" else c for c in state)
                out.append((red, clear, clear))
    return out
