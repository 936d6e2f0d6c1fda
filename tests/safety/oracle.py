"""An independent oracle of the safety rules (DESIGN.md §3), written for the property tests.

It must not share logic with the code it judges. It therefore

* re-derives which signal links conflict from the raw right-of-way data of each junction
  (``Junction.are_foes`` / ``Junction.must_yield``) over the links ``Network.signal_links``
  returns, plus the traffic light's own programs — never from ``Intersection.relation``,
  ``Intersection.compatible``/``conflicting_greens``/``foes_of``, ``clearway.signals.safety``
  or ``clearway.signals.transition``;
* keeps its own history of what each link showed and since when (no ``SignalTimers``);
* defines its own state-character classes;
* reads from an ``Intersection`` only the timing numbers ``timings[i]`` (configuration).

Rules (codes as the guard reports them):

R1-conflict    two foe links green together, unless one shows a permissive green (g/s), yields to
               the other on every conflicting connection pair, and the programs of the traffic
               light show the pair green together in some phase.
R2-min-green   a green ends (to yellow, or to red where yellow_s == 0) before min_green_s since
               it became green (G <-> g does not restart it).
R2-yellow      green -> red while yellow_s > 0; a yellow ending before yellow_s; yellow -> green;
               red -> yellow.
R3-clearance   a link turning green (from non-green, or g/s -> G) while a foe it is not
               compatible with (R1, judged with the foe's most protected char of its last green,
               'G' when none was seen) is green or yellow and not green in the new state, or has
               been red for less than the foe's clearance_s; or while a foe green in the new
               state, which would conflict with it as 'G', dropped from 'G' to a permissive
               green less than its yellow_s + clearance_s ago (or drops now).
R5-malformed   unknown signal, wrong length, unknown characters, off on a driven link (or
               driven on a link every program shows off), non-finite time, no history, a
               command older than the history or more than max_age_s newer.
R4             the emergency flag changes nothing: the oracle never looks at it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clearway.network.model import Network

# Own character classes (independence from clearway.signals.model).
GREEN = frozenset("Ggs")
PERMISSIVE = frozenset("gs")
YELLOW = frozenset("yY")
RED = frozenset("ru")
OFF = frozenset("oO")
KNOWN = GREEN | YELLOW | RED | OFF

#: Tolerance of duration comparisons (s).
EPS_S = 1e-6

R1 = "R1-conflict"
R2_MIN = "R2-min-green"
R2_YELLOW = "R2-yellow"
R3 = "R3-clearance"
R5 = "R5-malformed"


def aspect_of(c: str) -> str:
    if c in GREEN:
        return "green"
    if c in YELLOW:
        return "yellow"
    if c in RED:
        return "red"
    if c in OFF:
        return "off"
    raise ValueError(c)


@dataclass(frozen=True)
class OracleSignal:
    """Conflicts of one traffic light, re-derived from raw junction data."""

    signal_id: str
    n: int
    foe: frozenset[tuple[int, int]]  # both orders
    yields: frozenset[tuple[int, int]]  # (i, j): i yields to j on every conflicting pair
    together: frozenset[tuple[int, int]]  # both orders: some program phase greens both
    fixed_off: frozenset[int]
    min_green_s: tuple[float, ...]
    yellow_s: tuple[float, ...]
    clearance_s: tuple[float, ...]
    driven: tuple[bool, ...]  # the index drives at least one connection

    def may_be_green_together(self, i: int, ci: str, j: int, cj: str) -> bool:
        if (i, j) not in self.foe:
            return True
        if (i, j) not in self.together:
            return False
        return ((i, j) in self.yields and ci in PERMISSIVE) or (
            (j, i) in self.yields and cj in PERMISSIVE
        )

    def r1_pairs(self, state: str) -> list[tuple[int, int]]:
        greens = [i for i, c in enumerate(state) if c in GREEN]
        return [
            (i, j)
            for a, i in enumerate(greens)
            for j in greens[a + 1 :]
            if not self.may_be_green_together(i, state[i], j, state[j])
        ]

    def foes(self, i: int) -> list[int]:
        return [j for j in range(self.n) if (i, j) in self.foe]

    def hard(self, i: int, j: int) -> bool:
        """Foes that may never be green together, whatever greens they show."""
        return (i, j) in self.foe and not (
            self.may_be_green_together(i, "g", j, "G") or self.may_be_green_together(i, "G", j, "g")
        )


def build_oracle(net: Network, tl_id: str, timings: Sequence[object]) -> OracleSignal:
    """The oracle's model of traffic light ``tl_id``; ``timings`` = ``Intersection.timings``."""
    tl = net.traffic_lights[tl_id]
    n = tl.link_count
    by_index: list[list[tuple[str, int]]] = [[] for _ in range(n)]
    for link in net.signal_links(tl_id):
        if 0 <= link.signal_index < n:
            by_index[link.signal_index].append((link.junction_id, link.junction_index))
    foe: set[tuple[int, int]] = set()
    yields: set[tuple[int, int]] = set()
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            conflicting = []
            for ja, a in by_index[i]:
                for jb, b in by_index[j]:
                    if ja != jb or a < 0 or b < 0:
                        continue
                    junction = net.junctions[ja]
                    if junction.are_foes(a, b) or junction.are_foes(b, a):
                        conflicting.append((junction, a, b))
            if conflicting:
                foe.add((i, j))
                if all(junction.must_yield(a, b) for junction, a, b in conflicting):
                    yields.add((i, j))
    states = [ph.state for prog in tl.programs.values() for ph in prog.phases if len(ph.state) == n]
    together: set[tuple[int, int]] = set()
    for s in states:
        greens = [k for k, c in enumerate(s) if c in GREEN]
        together.update((a, b) for a in greens for b in greens if a != b)
    fixed_off = frozenset(k for k in range(n) if states and all(s[k] in OFF for s in states))
    return OracleSignal(
        signal_id=tl_id,
        n=n,
        foe=frozenset(foe),
        yields=frozenset(yields),
        together=frozenset(together),
        fixed_off=fixed_off,
        min_green_s=tuple(float(t.min_green_s) for t in timings),  # type: ignore[attr-defined]
        yellow_s=tuple(float(t.yellow_s) for t in timings),  # type: ignore[attr-defined]
        clearance_s=tuple(float(t.clearance_s) for t in timings),  # type: ignore[attr-defined]
        driven=tuple(bool(x) for x in by_index),
    )


@dataclass(frozen=True)
class History:
    """What one signal showed: last state, when, since when each link is in its aspect, the
    most protected green of each link's last green ('G' when unknown), and when a link that
    stayed green last stopped being protected (G -> g/s; None if not in its current green)."""

    state: str
    time_s: float
    since_s: tuple[float, ...]
    last_green: str
    protection_ended_s: tuple[float | None, ...]

    @classmethod
    def start(cls, state: str, time_s: float) -> History:
        # Unknown past: every link may have shown G, and a permissive green may just have
        # stopped being protected.
        return cls(
            state,
            time_s,
            (time_s,) * len(state),
            "G" * len(state),
            tuple(time_s if c in PERMISSIVE else None for c in state),
        )

    def observe(self, state: str, time_s: float) -> History:
        assert len(state) == len(self.state)
        since = list(self.since_s)
        last = list(self.last_green)
        ended = list(self.protection_ended_s)
        for i, (old, new) in enumerate(zip(self.state, state, strict=True)):
            if aspect_of(old) != aspect_of(new):
                since[i] = time_s
                ended[i] = None
                if new in GREEN:
                    last[i] = new
            elif new == "G":
                last[i] = "G"
            elif old == "G" and new in PERMISSIVE:
                ended[i] = time_s
        return History(state, time_s, tuple(since), "".join(last), tuple(ended))


def judge(
    sig: OracleSignal | None,
    hist: History | None,
    state: object,
    time_s: object,
    *,
    max_age_s: float | None,
    then: object = None,
) -> set[str]:
    """Rule codes the command breaks (empty: safe). ``max_age_s=None`` skips the age check
    (monitor mode, replaying what a signal showed). ``then``: the target the command leads
    to, if any: well formed, and no two foes green in it."""
    if sig is None:
        return {R5}
    for s in (state, *(() if then is None else (then,))):
        if not isinstance(s, str) or len(s) != sig.n or any(c not in KNOWN for c in s):
            return {R5}
    if not isinstance(time_s, int | float) or not math.isfinite(time_s):
        return {R5}
    if hist is None or len(hist.state) != sig.n:
        return {R5}
    t = float(time_s)
    if max_age_s is not None:
        age = t - hist.time_s
        if age < -EPS_S or age > max_age_s + EPS_S:
            return {R5}
    for s in (state, then):
        if s is not None and any((c in OFF) != (i in sig.fixed_off) for i, c in enumerate(s)):
            return {R5}

    codes: set[str] = set()
    # R1
    if sig.r1_pairs(state) or (then is not None and sig.r1_pairs(then)):
        codes.add(R1)
    # R2
    for i, (old, new) in enumerate(zip(hist.state, state, strict=True)):
        a_old, a_new = aspect_of(old), aspect_of(new)
        if a_old == a_new:
            continue
        held = t - hist.since_s[i]
        if a_old == "off" or a_new == "off":
            codes.add(R5)
        elif a_old == "green":
            if held < sig.min_green_s[i] - EPS_S:
                codes.add(R2_MIN)
            if a_new == "red" and sig.yellow_s[i] > 0:
                codes.add(R2_YELLOW)
        elif a_old == "yellow":
            if a_new == "green" or held < sig.yellow_s[i] - EPS_S:
                codes.add(R2_YELLOW)
        elif a_old == "red" and a_new == "yellow":
            codes.add(R2_YELLOW)
    # R3
    for i, (old, new) in enumerate(zip(hist.state, state, strict=True)):
        gains = new in GREEN and (old not in GREEN or (new == "G" and old in PERMISSIVE))
        if not gains:
            continue
        for j in sig.foes(i):
            if state[j] in GREEN:
                # Green together in the new state is R1's business, except a foe that was
                # protected: it keeps R3 until its yellow + clearance would have passed.
                if state[j] == "G" or sig.may_be_green_together(i, new, j, "G"):
                    continue
                ended = t if hist.state[j] == "G" else hist.protection_ended_s[j]
                if ended is not None and t - ended < sig.yellow_s[j] + sig.clearance_s[j] - EPS_S:
                    codes.add(R3)
                continue
            if sig.may_be_green_together(i, new, j, hist.last_green[j]):
                continue
            a_j = aspect_of(hist.state[j])
            still_leaving = a_j in ("green", "yellow")
            not_cleared = a_j == "red" and t - hist.since_s[j] < sig.clearance_s[j] - EPS_S
            if still_leaving or not_cleared:
                codes.add(R3)
    return codes


def replay(
    sig: OracleSignal, samples: Iterable[tuple[float, str]]
) -> list[tuple[float, str, set[str]]]:
    """Monitor mode: every violation in a sequence of shown ``(time_s, state)`` samples."""
    out: list[tuple[float, str, set[str]]] = []
    hist: History | None = None
    for t, state in samples:
        if hist is None:
            bad = {R5} if len(state) != sig.n or any(c not in KNOWN for c in state) else set()
            if not bad and sig.r1_pairs(state):
                bad.add(R1)
            if bad:
                out.append((t, state, bad))
            hist = History.start(state, t)
            continue
        if t < hist.time_s - EPS_S:
            out.append((t, state, {R5}))
            continue
        if state == hist.state:
            continue
        codes = judge(sig, hist, state, t, max_age_s=None)
        if codes:
            out.append((t, state, codes))
        if R5 not in codes:
            hist = hist.observe(state, t)
    return out


def codes_of(reasons: Iterable[str]) -> set[str]:
    """Rule codes of a guard verdict's reasons ("R2-yellow: ..." -> "R2-yellow")."""
    return {r.split(":", 1)[0] for r in reasons}
