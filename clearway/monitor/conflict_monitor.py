"""The independent safety monitor: a signal cabinet's conflict monitor, in software.

It watches the states the simulator (or a real cabinet) *actually shows*, after every step, and
counts every breach of the safety rules of DESIGN.md §3. It is the second line of defence behind
the safety guard, so it must not share the guard's logic: a bug in the guard's conflict matrix or
timers would otherwise be invisible to the very check meant to catch it. Hence this module

* re-derives which signal links conflict from the net file's raw right-of-way bits
  (:meth:`~clearway.network.model.Junction.are_foes` / ``must_yield``) and the traffic light's own
  programs, never from :class:`~clearway.signals.model.Intersection`'s relation matrix;
* keeps its own record of what each link showed and since when (no ``SignalTimers``);
* defines its own state-character classes;
* reads from an ``Intersection`` only the timing *values* (``timings[i]``), which are
  configuration, not logic.

Rules checked per traffic light, on the sequence of observed ``(time_s, state)`` samples:

``conflict``
    Two links green together whose connections are foes in the same junction, unless one of them
    shows a permissive green (``g``/``s``), yields to the other on every conflicting connection
    pair, *and* the traffic light's own programs show the pair green together in some phase.
``min-green``
    A green (``G``/``g``/``s``; switching among them does not end it) that ends before
    ``min_green_s``.
``yellow``
    Green straight to red while ``yellow_s > 0``; a yellow shorter than ``yellow_s``;
    yellow back to green; red straight to yellow.
``clearance``
    A link turning green (from a non-green aspect, or ``g``/``s`` -> ``G``) while a foe it is not
    compatible with is yellow, or has been red (or off) for less than that foe's ``clearance_s``.
``malformed``
    A state string of the wrong length or with unknown characters, a signal the monitor has no
    model of, or a time that is not finite or runs backwards.

Durations are measured between observation timestamps: an aspect first seen in the sample at
``t0`` and replaced in the sample at ``t1`` lasted ``t1 - t0`` (s). At a signal's first sample
nothing is known of the past, so every link is taken to have just entered its aspect then.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from itertools import compress
from operator import ne
from typing import TYPE_CHECKING

from clearway.errors import ConfigError
from clearway.monitor.change_plan import ChangePlan, ClearanceCheck, conflict_pairs, plan_change
from clearway.monitor.conflict_table import (
    A_GREEN,
    A_RED,
    A_YELLOW,
    ASPECT_NAME,
    KNOWN,
    PERMISSIVE,
    ConflictTable,
)
from clearway.monitor.violations import MAX_KEPT_VIOLATIONS, RULES, Violation
from clearway.network.model import Network

if TYPE_CHECKING:  # only for annotations: the monitor never runs the guard's model code
    from clearway.signals.model import Intersection

#: Comparisons of durations tolerate this much floating-point noise (s).
TIME_TOLERANCE_S = 1e-6
#: Change plans kept per light (a few hundred bytes each; a light cycles through a few dozen).
MAX_PLANS_PER_SIGNAL = 512


class _SignalWatch:
    """What the monitor knows of one traffic light: its tables, timings and observed history."""

    __slots__ = (
        "active_conflicts",
        "clearance_s",
        "foes",
        "last_green",
        "min_green_s",
        "n",
        "plans",
        "protection_dropped_s",
        "since_s",
        "signal_id",
        "state",
        "yellow_s",
    )

    def __init__(self, signal_id: str, table: ConflictTable, intersection: Intersection) -> None:
        self.signal_id = signal_id
        self.n = len(table.foes)
        self.foes = table.foes
        timings = intersection.timings
        self.min_green_s = tuple(float(t.min_green_s) for t in timings)
        self.yellow_s = tuple(float(t.yellow_s) for t in timings)
        self.clearance_s = tuple(float(t.clearance_s) for t in timings)
        self.state: str | None = None
        self.since_s: list[float] = []
        # Most protected green of each link's current or last green period ("G" beats "g"/"s"):
        # vehicles that entered under a protected green may still be clearing the junction.
        self.last_green: list[str] = []
        # When a link that stayed green last went from G to a permissive green (None: not in
        # its current green): arrow traffic still needs its yellow + clearance from then.
        self.protection_dropped_s: list[float | None] = []
        self.active_conflicts: set[tuple[int, int]] = set()
        # (old state, new state) -> what that change needs checked (see change_plan).
        self.plans: dict[tuple[str, str], ChangePlan] = {}


class SafetyMonitor:
    """Counts safety-rule violations in the signal states actually shown, step by step.

    Parameters
    ----------
    net
        The network; its junctions' raw ``foes``/``response`` bits and its traffic lights'
        programs are where the monitor learns which links conflict.
    intersections
        Intersection models keyed by traffic-light id, one per traffic light to watch. Only their
        ``timings`` (min green, yellow, clearance per link, in s) are read.

    Raises
    ------
    UnknownSignalError
        If an intersection names a traffic light the network does not have.
    ConfigError
        If an intersection's key and ``signal_id`` differ, or its timings do not cover exactly
        the traffic light's links.

    Notes
    -----
    :meth:`observe` has the signature of a simulator step listener, so
    ``twin.add_step_listener(monitor.observe)`` (or equivalent) wires it up. A step costs one
    string comparison per traffic light when nothing changed; only a traffic light whose state
    changed is re-checked, and only around the links that changed.
    """

    def __init__(self, net: Network, intersections: Mapping[str, Intersection]) -> None:
        self._watches: dict[str, _SignalWatch] = {}
        for signal_id, intersection in intersections.items():
            tl = net.traffic_light(signal_id)
            if intersection.signal_id != signal_id:
                raise ConfigError(
                    f"intersection keyed {signal_id!r} is for traffic light "
                    f"{intersection.signal_id!r}; key the mapping by each model's signal_id"
                )
            if len(intersection.timings) != tl.link_count:
                raise ConfigError(
                    f"traffic light {signal_id!r} has {tl.link_count} links but its intersection "
                    f"has timings for {len(intersection.timings)}; rebuild the intersection "
                    "models from this network"
                )
            self._watches[signal_id] = _SignalWatch(signal_id, ConflictTable(net, tl), intersection)
        self._count = 0
        self._counts = dict.fromkeys(RULES, 0)
        self._violations: list[Violation] = []
        self._last_time_s: float | None = None
        # The lights of the last sample, in its order, when all of them are watched, and what
        # the monitor holds for each (``watch.state``): a sample of the same lights is compared
        # as one list, and only the lights that differ are looked at (a city step changes a
        # few percent of its signals).
        self._order: list[str] | None = None
        self._held: list[str | None] = []

    # -- results ---------------------------------------------------------------------------
    @property
    def violation_count(self) -> int:
        """Number of violations seen so far (exact, even beyond the records kept)."""
        return self._count

    @property
    def violations(self) -> list[Violation]:
        """The first :data:`MAX_KEPT_VIOLATIONS` violations, in the order seen (a copy)."""
        return list(self._violations)

    def counts_by_rule(self) -> dict[str, int]:
        """Violations per rule, every rule of :data:`RULES` listed (0 when none)."""
        return dict(self._counts)

    @property
    def signal_ids(self) -> tuple[str, ...]:
        """Ids of the traffic lights watched."""
        return tuple(self._watches)

    # -- observing -------------------------------------------------------------------------
    def observe(self, time_s: float, states: Mapping[str, str]) -> None:
        """Check the signal states shown at ``time_s`` against the history seen so far.

        Parameters
        ----------
        time_s
            Time of the sample (s); must be finite and not before the previous sample.
        states
            State string shown by each traffic light, keyed by traffic-light id. A watched light
            missing from a sample is taken as unobserved (its history simply continues).
        """
        if not isinstance(time_s, numbers.Real) or not math.isfinite(time_s):
            self._flag(
                float("nan"),
                "",
                "malformed",
                (),
                f"sample time {time_s!r} is not a finite number of seconds",
            )
            return
        last = self._last_time_s
        if last is not None and time_s < last - TIME_TOLERANCE_S:
            self._flag(
                time_s,
                "",
                "malformed",
                (),
                f"sample time {time_s} s is before the previous sample ({last} s); ignored",
            )
            return
        self._last_time_s = time_s if last is None else max(last, time_s)
        order = list(states)
        if order == self._order:
            shown = list(states.values())
            held = self._held
            if shown == held:
                return  # nothing changed: every rule is judged only on change
            watches = self._watches
            # The lights whose state differs, found in C (a city step: a few of 196).
            for k in list(compress(range(len(shown)), map(ne, shown, held))):
                watch = watches[order[k]]
                self._sample(watch, time_s, shown[k])
                held[k] = watch.state
            return
        watches = self._watches
        for signal_id, state in states.items():
            watch = watches.get(signal_id)
            if watch is None:
                self._flag(
                    time_s,
                    signal_id,
                    "malformed",
                    (),
                    f"state {state!r} for unknown traffic light {signal_id!r}; "
                    "give the monitor an intersection model for every light it watches",
                )
                continue
            if state != watch.state:
                self._sample(watch, time_s, state)
        if all(sid in watches for sid in order):
            self._order = order
            self._held = [watches[sid].state for sid in order]
        else:
            self._order = None  # an unknown light is flagged in every sample

    def _sample(self, watch: _SignalWatch, time_s: float, state: str) -> None:
        # One light whose sample differs from what the monitor holds for it.
        if not self._well_formed(watch, time_s, state):
            return
        if watch.state is None:
            self._first_sample(watch, time_s, state)
        else:
            self._changed(watch, time_s, state)

    def _well_formed(self, watch: _SignalWatch, time_s: float, state: object) -> bool:
        if not isinstance(state, str) or len(state) != watch.n:
            got = f"{len(state)} characters" if isinstance(state, str) else type(state).__name__
            detail = f"state must have {watch.n} characters, got {got}: {state!r}"
        elif not KNOWN.issuperset(state):
            bad = "".join(sorted(set(state) - KNOWN))
            detail = f"unknown state characters {bad!r} in {state!r} (allowed: GgsyYurOo)"
        else:
            return True
        # The history is kept as it was: the next good sample is judged against the last one.
        self._flag(time_s, watch.signal_id, "malformed", (), detail)
        return False

    def _first_sample(self, watch: _SignalWatch, time_s: float, state: str) -> None:
        # Nothing is known of the past: every link "just" entered its aspect, and a link whose
        # last green is unknown is assumed to have shown a protected one.
        watch.state = state
        watch.since_s = [time_s] * watch.n
        watch.last_green = ["G"] * watch.n
        watch.protection_dropped_s = [time_s if c in PERMISSIVE else None for c in state]
        self._check_conflicts(watch, time_s, state, range(watch.n))

    def _changed(self, watch: _SignalWatch, time_s: float, state: str) -> None:
        old = watch.state
        assert old is not None
        key = (old, state)
        plan = watch.plans.get(key)
        if plan is None:
            if len(watch.plans) >= MAX_PLANS_PER_SIGNAL:
                watch.plans.clear()  # a bound, not a policy: plans are cheap to make again
            plan = watch.plans[key] = plan_change(
                watch.foes, watch.min_green_s, watch.yellow_s, old, state
            )
        since = watch.since_s
        last_green = watch.last_green
        dropped = watch.protection_dropped_s
        for i in plan.gains:
            last_green[i] = "G"
        for i in plan.drops:
            dropped[i] = time_s
        for i, a_old, a_new, c_new, clean_s in plan.moves:
            held_s = time_s - since[i]
            if held_s + TIME_TOLERANCE_S < clean_s:  # else nothing to flag: not asked
                self._check_change(watch, time_s, i, a_old, a_new, held_s)
            since[i] = time_s
            dropped[i] = None
            if a_new == A_GREEN:
                last_green[i] = c_new
        watch.state = state
        self._record_conflicts(watch, time_s, state, plan.conflicts, plan.changed_set)
        if plan.red_foes is not None and self._foes_cleared(watch, time_s, plan):
            return
        for check in plan.clearance:
            self._check_clearance(watch, time_s, check)

    @staticmethod
    def _foes_cleared(watch: _SignalWatch, time_s: float, plan: ChangePlan) -> bool:
        """Whether no clearance check of ``plan`` (no foe yellow) can flag anything: every
        foe red or off stopped for its clearance, whatever it showed last, and every green foe
        past its yellow and clearance since it lost its protection, if it did (the very
        comparisons :meth:`_check_clearance` makes)."""
        since, clearance_s = watch.since_s, watch.clearance_s
        for j in plan.red_foes:
            if time_s - since[j] + TIME_TOLERANCE_S < clearance_s[j]:
                return False
        dropped_s, yellow_s = watch.protection_dropped_s, watch.yellow_s
        for j in plan.green_foes:
            dropped = dropped_s[j]
            if (
                dropped is not None
                and time_s - dropped + TIME_TOLERANCE_S < yellow_s[j] + clearance_s[j]
            ):
                return False
        return True

    def _check_change(
        self, watch: _SignalWatch, time_s: float, i: int, a_old: int, a_new: int, held_s: float
    ) -> None:
        """Rules min-green and yellow for link ``i`` leaving aspect ``a_old`` after ``held_s``."""
        sid = watch.signal_id
        if a_old == A_GREEN:
            need = watch.min_green_s[i]
            if held_s + TIME_TOLERANCE_S < need:
                self._flag(
                    time_s,
                    sid,
                    "min-green",
                    (i,),
                    f"link {i} green for {held_s:.3f} s, minimum {need:.3f} s",
                )
            if a_new == A_RED and watch.yellow_s[i] > 0:
                self._flag(
                    time_s,
                    sid,
                    "yellow",
                    (i,),
                    f"link {i} went from green straight to red, skipping its "
                    f"{watch.yellow_s[i]:.3f} s yellow",
                )
        elif a_old == A_YELLOW:
            if a_new == A_GREEN:
                self._flag(
                    time_s,
                    sid,
                    "yellow",
                    (i,),
                    f"link {i} went from yellow back to green after {held_s:.3f} s",
                )
            else:
                need = watch.yellow_s[i]
                if held_s + TIME_TOLERANCE_S < need:
                    self._flag(
                        time_s,
                        sid,
                        "yellow",
                        (i,),
                        f"link {i} yellow for {held_s:.3f} s, minimum {need:.3f} s",
                    )
        elif a_old == A_RED and a_new == A_YELLOW:
            self._flag(time_s, sid, "yellow", (i,), f"link {i} went from red to yellow")

    def _check_conflicts(
        self, watch: _SignalWatch, time_s: float, state: str, changed: range | list[int]
    ) -> None:
        """Rule conflict, for pairs with at least one link in ``changed``."""
        now = conflict_pairs(watch.foes, state, changed)
        self._record_conflicts(watch, time_s, state, now, frozenset(changed))

    def _record_conflicts(
        self,
        watch: _SignalWatch,
        time_s: float,
        state: str,
        now: frozenset[tuple[int, int]],
        changed: frozenset[int],
    ) -> None:
        """Flag the pairs of ``now`` (in conflict, one end in ``changed``) not already flagged.

        A pair that stays in conflict over many samples is one violation, counted when it starts;
        pairs of unchanged links were judged when they last changed.
        """
        before = watch.active_conflicts
        for pair in sorted(now - before):
            i, j = pair
            self._flag(
                time_s,
                watch.signal_id,
                "conflict",
                pair,
                f"links {i} ({state[i]}) and {j} ({state[j]}) conflict and are green together",
            )
        if before or now:
            kept = {p for p in before if p[0] not in changed and p[1] not in changed}
            watch.active_conflicts = kept | now

    def _check_clearance(self, watch: _SignalWatch, time_s: float, check: ClearanceCheck) -> None:
        """Rule clearance for link ``check.link``, which turned green (or protected) now."""
        i, c_i = check.link, check.char
        for j, a_j, yields_to in check.foes:
            if a_j == A_GREEN:
                dropped = watch.protection_dropped_s[j]
                need = watch.yellow_s[j] + watch.clearance_s[j]
                if dropped is not None and time_s - dropped + TIME_TOLERANCE_S < need:
                    self._flag(
                        time_s,
                        watch.signal_id,
                        "clearance",
                        (i, j),
                        f"link {i} turned green ({c_i}) {time_s - dropped:.3f} s after "
                        f"conflicting link {j} lost its protected green; it needs "
                        f"{need:.3f} s to clear",
                    )
                continue
            if watch.last_green[j] in yields_to:
                continue  # i yields to whatever is still leaving j
            if a_j == A_YELLOW:
                self._flag(
                    time_s,
                    watch.signal_id,
                    "clearance",
                    (i, j),
                    f"link {i} turned green ({c_i}) while conflicting link {j} is yellow",
                )
                continue
            stopped_s = time_s - watch.since_s[j]
            need = watch.clearance_s[j]
            if stopped_s + TIME_TOLERANCE_S < need:
                self._flag(
                    time_s,
                    watch.signal_id,
                    "clearance",
                    (i, j),
                    f"link {i} turned green ({c_i}) when conflicting link {j} had been "
                    f"{ASPECT_NAME[a_j]} for {stopped_s:.3f} s, clearance {need:.3f} s",
                )

    def _flag(
        self, time_s: float, signal_id: str, rule: str, links: tuple[int, ...], detail: str
    ) -> None:
        self._record(Violation(time_s, signal_id, rule, links, detail))

    def _record(self, violation: Violation) -> None:
        self._count += 1
        self._counts[violation.rule] += 1
        if len(self._violations) < MAX_KEPT_VIOLATIONS:
            self._violations.append(violation)
