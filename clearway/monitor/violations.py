"""What the safety monitor reports: violations of the safety rules, by rule."""

from __future__ import annotations

from dataclasses import dataclass

#: Rule names, in the order :meth:`SafetyMonitor.counts_by_rule` lists them.
RULES = ("conflict", "min-green", "yellow", "clearance", "malformed")

#: At most this many :class:`Violation` records are kept; the count stays exact beyond it.
MAX_KEPT_VIOLATIONS = 1000


@dataclass(frozen=True, slots=True)
class Violation:
    """One breach of a safety rule seen in the signal states actually shown.

    Attributes
    ----------
    time_s
        Time of the sample in which the breach was seen (s).
    signal_id
        The traffic light; ``""`` for a sample-wide problem (e.g. time running backwards).
    rule
        ``"conflict"``, ``"min-green"``, ``"yellow"``, ``"clearance"`` or ``"malformed"``.
    links
        Signal indices involved: a pair for ``conflict``/``clearance`` (the link turning green
        first), one link for ``min-green``/``yellow``, none for ``malformed``.
    detail
        Human-readable description with the measured and required durations (s).
    """

    time_s: float
    signal_id: str
    rule: str
    links: tuple[int, ...]
    detail: str
