"""Signal programs as the guard will let them be shown, and the phases it never will."""

from __future__ import annotations

from clearway.network.model import SignalProgram
from clearway.signals.model import GREEN_CHARS, HARD, OFF_CHARS, YIELDS, Intersection


def safe_phase_states(model: Intersection, program: SignalProgram) -> tuple[str, ...]:
    """The program's phase states with conflicting protected greens made permissive.

    Some programs show ``G`` on two foes where one yields to the other by right of way; the
    yielding one is shown as ``g`` (what SUMO does at run time anyway). Conflicts that cannot be
    resolved that way are left for the guard to refuse.
    """
    out = []
    for phase in program.phases:
        # A link the program switches off only some of the time is shown red instead: the guard
        # allows "off" only on links that are never signalised.
        s = [
            "r" if c in OFF_CHARS and i not in model.fixed_off else c
            for i, c in enumerate(phase.state)
        ]
        for i in range(len(s)):
            for j in range(len(s)):
                if i != j and s[i] == "G" and s[j] in GREEN_CHARS and not model.compatible(i, "G", j, s[j]):
                    rel = model.relation[i][j]
                    if rel & YIELDS and not rel & HARD:
                        s[i] = "g"
        out.append("".join(s))
    return tuple(out)


def unsafe_phases(model: Intersection, program: SignalProgram) -> list[str]:
    """Phases of ``program`` that show greens the junction's right of way forbids, even after
    :func:`safe_phase_states` (one line per phase, naming the conflicting links)."""
    out = []
    for k, state in enumerate(safe_phase_states(model, program)):
        pairs = model.conflicting_greens(state)
        if pairs:
            shown = ", ".join(f"{i}/{j}" for i, j in pairs[:6]) + (" ..." if len(pairs) > 6 else "")
            out.append(
                f"traffic light {model.signal_id!r} program {program.program_id!r} phase {k} "
                f"shows conflicting greens on links {shown}; the guard will not show it"
            )
    return out
