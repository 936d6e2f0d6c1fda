"""A NEMA dual-ring actuated controller with its own safety, as a cabinet runs one.

Pure Python: no simulator, no SNMP. :mod:`clearway.field.virtual.mib` serves its status and
takes its controls over NTCIP 1202, so clearway can be tested against something that behaves
like a field controller — including refusing what a field controller refuses.

Ring-barrier logic: each ring times one phase at a time (green: min green, extended by passage
on detector calls up to max green, walk and pedestrian clearance inside it; then yellow and red
clearance); phases with no call are skipped; the rings cross a barrier together, once every ring
is done with the current barrier group; a ring rests in green when nothing else is called.
Central controls (NTCIP phase control groups) hold, force off, omit and call phases; they never
shorten a min green, walk, pedestrian clearance, yellow or red clearance. When no control arrives
for ``backup_time_s`` they all clear and the controller runs its own program again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from clearway.errors import ConfigError
from clearway.field.controls import PhaseControls
from clearway.field.virtual.phase_timings import PhaseTimings
from clearway.signals.model import TIME_EPS_S
from clearway.signals.nema import PhaseMap, state_of

GREEN, YELLOW, RED_CLEAR, DWELL = "green", "yellow", "red_clear", "dwell"


@dataclass
class _Ring:
    phases: tuple[int, ...]
    phase: int | None = None  # the phase on (green .. red clearance, or resting after it)
    interval: str = DWELL
    since_s: float = 0.0
    green_since_s: float = 0.0
    extended_s: float = 0.0  # last detector call on the green phase
    ped_end_s: float = 0.0  # walk + pedestrian clearance end (green may not end before)
    walk_end_s: float = 0.0
    next: int | None = None  # committed at the end of green
    next_across: bool = False  # ... for after the barrier crossing (even into the same group)


@dataclass
class _Calls:
    veh: set[int] = field(default_factory=set)
    ped: set[int] = field(default_factory=set)


class DualRingController:
    """A NEMA dual-ring actuated controller (see the module docstring).

    Parameters
    ----------
    phase_map
        Phases, rings and barrier groups (checked with
        :func:`~clearway.signals.nema_check.check_phase_map` beforehand).
    timings
        :class:`PhaseTimings` of every phase.
    recalls
        Phases with a (minimum) vehicle recall: served every cycle for at least min green.
    backup_time_s
        Silence of the central system after which its controls clear (s).
    start_s
        Time of power-up (s): the rings start the first barrier group from all red.
    """

    def __init__(
        self,
        phase_map: PhaseMap,
        timings: Mapping[int, PhaseTimings],
        *,
        recalls: frozenset[int] = frozenset(),
        backup_time_s: float = 10.0,
        start_s: float = 0.0,
    ) -> None:
        missing = phase_map.numbers - set(timings)
        if missing:
            raise ConfigError(
                f"signal {phase_map.signal_id!r}: no timings for phases {sorted(missing)}"
            )
        if backup_time_s <= 0:
            raise ConfigError(f"signal {phase_map.signal_id!r}: backup_time_s must be positive")
        self.phase_map = phase_map
        self.timings = dict(timings)
        self.recalls = frozenset(recalls) & phase_map.numbers
        self.backup_time_s = backup_time_s
        self._ring_of = {p.number: p.ring for p in phase_map.phases}
        self._rings = [_Ring(tuple(seq)) for seq in phase_map.rings]
        self._group_of = {n: b for b, g in enumerate(phase_map.barriers) for n in g}
        self._parents = frozenset(n for o in phase_map.overlaps for n in o.parents)
        self._group = len(phase_map.barriers) - 1  # so the first crossing starts group 0
        self._next_group: int | None = 0
        self._startup = True
        self._calls = _Calls()
        self.controls = PhaseControls()
        self.in_backup = True  # no central system has spoken yet: its own program runs
        self.backup_since_s: float | None = start_s
        self.last_control_s: float | None = None
        self.now_s = start_s

    # -- central controls ---------------------------------------------------------------------
    def set_controls(
        self,
        now_s: float,
        *,
        hold: Iterable[int] | None = None,
        force_off: Iterable[int] | None = None,
        omit: Iterable[int] | None = None,
        veh_call: Iterable[int] | None = None,
        ped_call: Iterable[int] | None = None,
    ) -> None:
        """Set some phase controls (the others keep their value); resets the backup timer.

        Raises
        ------
        ConfigError
            If a control names a phase the controller does not have (nothing is changed).
        """
        given = {"hold": hold, "force_off": force_off, "omit": omit, "veh_call": veh_call,
                 "ped_call": ped_call}  # fmt: skip
        new = {k: frozenset(v) for k, v in given.items() if v is not None}
        for k, v in new.items():
            unknown = v - self.phase_map.numbers
            if unknown:
                raise ConfigError(f"signal {self.phase_map.signal_id!r}: {k} names unknown "
                                  f"phases {sorted(unknown)}")  # fmt: skip
        c = self.controls
        self.controls = PhaseControls(**{k: new.get(k, getattr(c, k)) for k in given})
        self.last_control_s = now_s
        self.in_backup = False
        self.backup_since_s = None

    # -- timing ---------------------------------------------------------------------------------
    def step(
        self,
        now_s: float,
        detector_calls: frozenset[int] = frozenset(),
        ped_pushes: frozenset[int] = frozenset(),
    ) -> None:
        """Advance to ``now_s``.

        Parameters
        ----------
        now_s
            Time (s); never earlier than the last step.
        detector_calls
            Phases whose vehicle detectors see a vehicle now: a call, or an extension of the
            phase's green by its passage time.
        ped_pushes
            Phases whose pedestrian push buttons were pressed since the last step.
        """
        if now_s < self.now_s - TIME_EPS_S:
            raise ConfigError(f"signal {self.phase_map.signal_id!r}: time went back from "
                              f"{self.now_s} s to {now_s} s")  # fmt: skip
        self._calls.ped |= ped_pushes & {p.number for p in self.phase_map.phases if p.ped_links}
        self.now_s = now_s
        silent_since = self.last_control_s
        if (
            not self.in_backup
            and silent_since is not None
            and now_s - silent_since >= self.backup_time_s - TIME_EPS_S
        ):
            self.controls = PhaseControls()
            self.in_backup = True
            self.backup_since_s = now_s
        for n in detector_calls & self.phase_map.numbers:
            ring = self._rings_by_phase(n)
            if ring is not None and ring.phase == n and ring.interval == GREEN:
                ring.extended_s = now_s
            else:
                self._calls.veh.add(n)
        for _ in range(4):  # zero-length intervals may chain within one step
            changed = any([self._advance(r, now_s) for r in self._rings])
            changed |= self._cross_barrier(now_s)
            if not changed:
                break
        # A vehicle seen as its green ends (forced off, maxed out) in this very step waits
        # for the next one: its presence is a call, as a locking detector would keep it.
        self._calls.veh |= (detector_calls & self.phase_map.numbers) - self.greens

    def _rings_by_phase(self, n: int) -> _Ring | None:
        return next((r for r in self._rings if n in r.phases), None)

    def _called(self) -> set[int]:
        c = self.controls
        return (self._calls.veh | self._calls.ped | c.veh_call | c.ped_call | self.recalls) - c.omit

    def _servable_in_group(self, q: int) -> bool:
        """Whether the ring of phase q can still serve q without crossing a barrier."""
        if self._group_of.get(q) != self._group or self._next_group is not None:
            return False
        ring = self._rings_by_phase(q)
        if ring is None:
            return False
        if ring.phase is None:
            return True  # an idle ring starts a phase called in its group
        if ring.interval == DWELL or ring.phase not in ring.phases:
            return False
        return ring.phases.index(q) > ring.phases.index(ring.phase)

    def _must_move(self, ring: _Ring) -> bool:
        """Whether the green of the ring's phase should end (when its timers allow)."""
        if self._next_group is not None:
            return True  # another ring is already on its way to the barrier
        return any(
            q in ring.phases or not self._servable_in_group(q)
            for q in self._called()
            if q != ring.phase
        )

    def _call_off_needless_crossing(self) -> None:
        """Stay in this group when the crossing under way is needed no more.

        That is: every call that committed it is gone (omitted by the central system, or
        dropped), or it would lead back into this same group while another ring is still
        green in it (NEMA conditional service: a ring at rest serves its called phase again
        beside it). Only once every ring has ended its change interval and none holds an
        overlap green for a parent after the barrier. A ring resting at the barrier would
        otherwise wait for a crossing nobody needs, or for a held green to end.
        """
        g = self._next_group
        if g is None or self._startup:
            return
        if any(
            r.next_across and (r.interval in (YELLOW, RED_CLEAR) or r.next in self._parents)
            for r in self._rings
        ):
            return
        called = self._called()
        still_needed = any(q in called for q in self.phase_map.barriers[g])
        conditional = g == self._group and any(
            r.phase is not None and r.interval == GREEN for r in self._rings
        )
        if still_needed and not conditional:
            return
        self._next_group = None
        for r in self._rings:
            if r.next_across:
                r.next, r.next_across = None, False

    def _advance(self, ring: _Ring, now_s: float) -> bool:
        self._call_off_needless_crossing()
        p = ring.phase
        if p is None or ring.interval == DWELL:
            # At rest in red: serve a call of this group, or head for the barrier of the
            # next group with a call (if no ring is on its way there already).
            if self._next_group is not None:
                return False
            start = self._first_called(ring, self._group)
            if start is not None:
                self._start_green(ring, start, now_s)
                return True
            if self._called():
                self._next_group = self._choose_group()
                return self._next_group is not None
            return False
        t = self.timings[p]
        elapsed = now_s - ring.since_s + TIME_EPS_S
        c = self.controls
        if ring.interval == GREEN:
            if p in c.hold or not self._must_move(ring):
                return False
            if elapsed < t.min_green_s or now_s + TIME_EPS_S < ring.ped_end_s:
                return False
            gapped = now_s - ring.extended_s + TIME_EPS_S >= t.passage_s
            maxed = elapsed >= t.max_green_s
            if not (p in c.force_off or gapped or maxed):
                return False
            ring.next = self._next_in_group(ring)
            ring.next_across = False
            if ring.next is None and self._next_group is None:
                self._next_group = self._choose_group()
            if ring.next is None and self._next_group is not None:
                ring.next = self._first_called(ring, self._next_group)
                ring.next_across = True
            return self._enter(ring, YELLOW, now_s)
        if ring.interval == YELLOW and elapsed >= t.yellow_s:
            return self._enter(ring, RED_CLEAR, now_s)
        if ring.interval == RED_CLEAR and elapsed >= t.red_clear_s:
            # A committed next is served even if another ring has since left for the barrier:
            # an overlap may be staying green for it. One committed for after the crossing
            # waits for it, even when the cycle comes round to this same group again (else
            # the ring would serve it at once, never reach the barrier, and the other ring's
            # waiting calls would never be served).
            if (
                ring.next is not None
                and not ring.next_across
                and self._group_of.get(ring.next) == self._group
            ):
                self._start_green(ring, ring.next, now_s)
                return True
            return self._enter(ring, DWELL, now_s)
        return False

    def _enter(self, ring: _Ring, interval: str, now_s: float) -> bool:
        ring.interval, ring.since_s = interval, now_s
        return True

    def _next_in_group(self, ring: _Ring) -> int | None:
        called = self._called()
        later = (
            ring.phases[ring.phases.index(ring.phase) + 1 :] if ring.phase in ring.phases else ()
        )
        return next(
            (q for q in later if self._group_of.get(q) == self._group and q in called), None
        )

    def _first_called(self, ring: _Ring, group: int) -> int | None:
        called = self._called()
        return next(
            (q for q in ring.phases if self._group_of.get(q) == group and q in called), None
        )

    def _choose_group(self) -> int | None:
        called = self._called()
        count = len(self.phase_map.barriers)
        for step in range(1, count + 1):
            g = (self._group + step) % count
            if any(q in called for q in self.phase_map.barriers[g]):
                return g
        return None

    def _cross_barrier(self, now_s: float) -> bool:
        if self._next_group is None:
            return False
        if any(r.phase is not None and r.interval != DWELL for r in self._rings):
            return False
        self._group, self._next_group = self._next_group, None
        for ring in self._rings:
            start = ring.next if self._group_of.get(ring.next) == self._group else None
            if start is None:
                start = self._first_called(ring, self._group)
            if start is None and self._startup:
                start = next((q for q in ring.phases if self._group_of.get(q) == self._group), None)
            ring.next, ring.next_across = None, False
            if start is None:
                ring.phase, ring.interval = None, DWELL
            else:
                self._start_green(ring, start, now_s)
        self._startup = False
        return True

    def _start_green(self, ring: _Ring, n: int, now_s: float) -> None:
        t = self.timings[n]
        walk = bool(self.phase_map.phase(n).ped_links) and (
            n in self._calls.ped or n in self.controls.ped_call
        )
        ring.phase, ring.interval, ring.since_s, ring.next = n, GREEN, now_s, None
        ring.next_across = False
        ring.green_since_s = ring.extended_s = now_s
        ring.walk_end_s = now_s + t.walk_s if walk else now_s
        ring.ped_end_s = ring.walk_end_s + (t.ped_clear_s if walk else 0.0)
        self._calls.veh.discard(n)
        if walk:
            self._calls.ped.discard(n)

    # -- NTCIP status ---------------------------------------------------------------------------
    def _in(self, interval: str) -> frozenset[int]:
        return frozenset(
            r.phase for r in self._rings if r.phase is not None and r.interval == interval
        )

    @property
    def greens(self) -> frozenset[int]:
        """Phases showing green."""
        return self._in(GREEN)

    @property
    def yellows(self) -> frozenset[int]:
        """Phases showing yellow."""
        return self._in(YELLOW)

    @property
    def reds(self) -> frozenset[int]:
        """Phases showing red (every phase neither green nor yellow)."""
        return self.phase_map.numbers - self.greens - self.yellows

    @property
    def walks(self) -> frozenset[int]:
        """Phases showing walk."""
        return frozenset(r.phase for r in self._rings if r.phase is not None and r.interval == GREEN
                         and self.now_s + TIME_EPS_S < r.walk_end_s)  # fmt: skip

    @property
    def ped_clears(self) -> frozenset[int]:
        """Phases in pedestrian clearance (flashing don't walk)."""
        return frozenset(r.phase for r in self._rings if r.phase is not None and r.interval == GREEN
                         and r.walk_end_s <= self.now_s + TIME_EPS_S < r.ped_end_s)  # fmt: skip

    @property
    def dont_walks(self) -> frozenset[int]:
        """Phases with crossings showing steady don't walk."""
        peds = frozenset(p.number for p in self.phase_map.phases if p.ped_links)
        return peds - self.walks - self.ped_clears

    @property
    def veh_calls(self) -> frozenset[int]:
        """Phases with a vehicle call (detector, central or recall)."""
        return frozenset(self._calls.veh | self.controls.veh_call | self.recalls)

    @property
    def ped_calls(self) -> frozenset[int]:
        """Phases with a pedestrian call."""
        return frozenset(self._calls.ped | self.controls.ped_call)

    @property
    def phase_ons(self) -> frozenset[int]:
        """Phases active in their ring (green, yellow, red clearance, or resting after it)."""
        return frozenset(r.phase for r in self._rings if r.phase is not None)

    @property
    def phase_nexts(self) -> frozenset[int]:
        """Phases committed to come next in their ring."""
        return frozenset(r.next for r in self._rings if r.next is not None)

    def interval_of(self, number: int) -> str:
        """``green``, ``yellow``, ``red_clear``, ``dwell`` (on, resting red) or ``red``."""
        ring = self._rings_by_phase(number)
        return ring.interval if ring is not None and ring.phase == number else "red"

    def state_string(self) -> str:
        """The link state the controller shows (see :func:`~clearway.signals.nema.state_of`)."""
        return state_of(self.phase_map, self.greens, self.yellows, self.walks, self.ped_clears,
                        ons=self.phase_ons, nexts=self.phase_nexts)  # fmt: skip
