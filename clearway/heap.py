"""The garbage collector's part in a long run: keep its passes off the heap built at setup.

A run builds its network, intersection models, guard tables and controllers once (most of the
heap: about 160,000 objects on Luxembourg City) and then allocates small, short-lived objects
every tick (commands, verdicts, timers). The collector's default passes keep re-scanning the
long-lived part: on Luxembourg City (196 signals, max-pressure) they cost about 15 % of a
run's whole wall time, SUMO's steps included (its caches are swept as well). Freezing the
setup's heap (``gc.freeze``) and collecting the young generation less often makes that a few
percent. Nothing is collected later than it would be at the end of the run: leaving unfreezes
and restores the thresholds. Pure process policy: nothing here changes what a run computes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two passes over the youngest generation while a run is on (the
#: interpreter's default is 700; a tick of a 196-signal city allocates a few hundred).
RUN_YOUNG_THRESHOLD = 7_000


@contextmanager
def long_lived_heap(young_threshold: int = RUN_YOUNG_THRESHOLD) -> Iterator[None]:
    """While inside: what exists now is frozen out of the collector's passes, and the youngest
    generation is collected every ``young_threshold`` allocations (at least the current
    threshold). A heap frozen already (by a caller with its own policy, e.g. the service)
    is left as its owner set it."""
    if young_threshold < 1:
        raise ValueError(f"young_threshold must be at least 1, got {young_threshold}")
    thresholds = gc.get_threshold()
    owns_freeze = gc.get_freeze_count() == 0
    if owns_freeze:
        gc.freeze()
    gc.set_threshold(max(young_threshold, thresholds[0]), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if owns_freeze:
            gc.unfreeze()
