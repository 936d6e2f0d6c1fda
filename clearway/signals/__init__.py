"""Intersection models (links, conflicts, safety timings) and the safety guard."""

from clearway.signals.model import Intersection, LinkTimings, Relation
from clearway.signals.timers import SignalTimers

__all__ = ["Intersection", "LinkTimings", "Relation", "SignalTimers"]
