"""What each link of a signal has shown, and since when: the history the guard judges against.

Updated only from *observed* states (what the signal actually shows), never from what a
controller intended. Pure: :meth:`SignalTimers.observe` returns a new object.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearway.signals.model import ASPECT_OF, PERMISSIVE_CHARS

#: "Never" as a time (s): long enough ago for every interval.
NEVER_S = float("-inf")


def aspect(c: str) -> str:
    """Aspect class of a state character: ``"green"``, ``"yellow"``, ``"red"``, ``"off"``."""
    try:
        return ASPECT_OF[c]
    except (KeyError, TypeError):
        raise ValueError(f"unknown signal state character {c!r}") from None


@dataclass(frozen=True, slots=True)
class SignalTimers:
    """Observed state of one traffic light and how long each link has shown its aspect.

    Attributes
    ----------
    state
        The state string last observed.
    time_s
        When it was observed (s).
    since_s
        Per link: when it entered its current aspect class (green / yellow / red / off) (s).
    last_green
        Per link: the most protected green shown during its last green (``G`` beats ``g``);
        ``G`` when unknown, which is the conservative assumption.
    unprotected_since_s
        Per link: when it last went from a protected ``G`` to a permissive green without
        ending its green (s); ``-inf`` if it has not in its current green. Vehicles that
        entered under the protected green still need their change and clearance interval
        (the "yellow arrow") before a conflicting movement may start.
    """

    signal_id: str
    state: str
    time_s: float
    since_s: tuple[float, ...]
    last_green: str
    unprotected_since_s: tuple[float, ...]

    @classmethod
    def start(cls, signal_id: str, state: str, time_s: float) -> SignalTimers:
        """Timers for a signal first observed now.

        Nothing is known of the past, so every link is taken to have *just* entered its aspect:
        min green, yellow and clearance all count from now (the conservative choice).
        """
        for c in state:
            aspect(c)
        # A permissive green seen first may have been protected a moment ago.
        unprotected = tuple(time_s if c in PERMISSIVE_CHARS else NEVER_S for c in state)
        return cls(signal_id, state, time_s, (time_s,) * len(state), "G" * len(state), unprotected)

    def observe(self, state: str, time_s: float) -> SignalTimers:
        """Timers after observing ``state`` at ``time_s`` (s)."""
        if state == self.state:
            return SignalTimers(
                self.signal_id, state, time_s, self.since_s, self.last_green, self.unprotected_since_s
            )
        if len(state) != len(self.state):
            raise ValueError(
                f"signal {self.signal_id!r}: observed {len(state)} links, expected {len(self.state)}"
            )
        entered, protected, dropped = _changes(self.state, state)
        since = list(self.since_s)
        unprotected = list(self.unprotected_since_s)
        last = self.last_green
        if entered or protected:
            chars = list(last)
            for i, c in entered:
                since[i] = time_s
                unprotected[i] = NEVER_S  # "dropped protection" is about the current green
                if c is not None:
                    chars[i] = c
            for i in protected:
                chars[i] = "G"
            last = "".join(chars)
        for i in dropped:
            unprotected[i] = time_s
        # Always new tuples: callers take a new ``since_s`` object as "the state changed".
        return SignalTimers(self.signal_id, state, time_s, tuple(since), last, tuple(unprotected))

    def elapsed_s(self, i: int, now_s: float) -> float:
        """How long link i has shown its current aspect class at ``now_s`` (s)."""
        return now_s - self.since_s[i]


#: What a change ``old -> new`` of a state string does to the timers, by (old, new): a signal
#: cycles through a few dozen pairs, so each is worked out once instead of link by link.
_CHANGES: dict[tuple[str, str], tuple[tuple[tuple[int, str | None], ...], tuple[int, ...], tuple[int, ...]]] = {}
#: Pairs kept before the table starts again (a bound, not a policy: entries are cheap to redo).
_MAX_CHANGES = 100_000


def _changes(
    old: str, new: str
) -> tuple[tuple[tuple[int, str | None], ...], tuple[int, ...], tuple[int, ...]]:
    """The links of ``old -> new`` (same length) that enter a new aspect (with the green they
    enter, else None), that gain protection (``g``/``s`` -> ``G``), and that drop it
    (``G`` -> ``g``/``s``)."""
    key = (old, new)
    found = _CHANGES.get(key)
    if found is not None:
        return found
    entered: list[tuple[int, str | None]] = []
    protected: list[int] = []
    dropped: list[int] = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if a == b:
            continue
        a_old, a_new = aspect(a), aspect(b)
        if a_new != a_old:
            entered.append((i, b if a_new == "green" else None))
        elif a_new == "green":
            if b == "G":
                protected.append(i)
            elif a == "G":
                dropped.append(i)
    if len(_CHANGES) >= _MAX_CHANGES:
        _CHANGES.clear()
    found = _CHANGES[key] = (tuple(entered), tuple(protected), tuple(dropped))
    return found
