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
        since = list(self.since_s)
        last = list(self.last_green)
        unprotected = list(self.unprotected_since_s)
        for i, (old, new) in enumerate(zip(self.state, state, strict=True)):
            if old == new:
                continue
            a_old, a_new = aspect(old), aspect(new)
            if a_new != a_old:
                since[i] = time_s
                unprotected[i] = NEVER_S  # "dropped protection" is about the current green
                if a_new == "green":
                    last[i] = new
            elif a_new == "green":
                if new == "G":
                    last[i] = "G"
                elif old == "G":
                    unprotected[i] = time_s
        return SignalTimers(
            self.signal_id, state, time_s, tuple(since), "".join(last), tuple(unprotected)
        )

    def elapsed_s(self, i: int, now_s: float) -> float:
        """How long link i has shown its current aspect class at ``now_s`` (s)."""
        return now_s - self.since_s[i]
