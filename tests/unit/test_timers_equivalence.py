"""Equivalence: ``SignalTimers.observe`` working from a table per (old, new) state pair gives
exactly the timers of the link-by-link version it replaced, on random sequences of states
(and raises the same errors on bad ones)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.signals.timers import NEVER_S, SignalTimers, aspect


def reference_observe(self: SignalTimers, state: str, time_s: float) -> SignalTimers:
    """``SignalTimers.observe`` before the per-pair table (verbatim, commit 4b9dbb5)."""
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


CHARS = "GgsyYurOo"
N_LINKS = 5


def near(state: str, picks: list[tuple[int, str]]) -> str:
    chars = list(state)
    for i, c in picks:
        chars[i % len(chars)] = c
    return "".join(chars)


steps = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(0, N_LINKS - 1), st.sampled_from(CHARS)), max_size=3),
        st.sampled_from((0.0, 0.5, 1.0, 3.0)),
    ),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(first=st.text(CHARS, min_size=N_LINKS, max_size=N_LINKS), seq=steps)
def test_observe_matches_the_link_by_link_version(first: str, seq: list) -> None:
    new = old = SignalTimers.start("X", first, 0.0)
    t = 0.0
    for picks, dt in seq:
        t += dt
        state = near(old.state, picks)
        before = new
        new, old = new.observe(state, t), reference_observe(old, state, t)
        assert new == old
        # a changed state always comes with a new since_s object (controllers rely on it)
        assert (new.since_s is before.since_s) == (state == before.state)


@pytest.mark.parametrize("state", ["GgZyr", "Ggyr", "GgyrOO"])
def test_observe_raises_as_the_link_by_link_version(state: str) -> None:
    t = SignalTimers.start("X", "Ggyrr", 0.0)
    with pytest.raises(ValueError) as new:
        t.observe(state, 1.0)
    with pytest.raises(ValueError) as old:
        reference_observe(t, state, 1.0)
    assert str(new.value) == str(old.value)


def test_a_changed_state_gets_a_new_since_tuple_even_without_an_aspect_change() -> None:
    t = SignalTimers.start("X", "Grr", 0.0)
    u = t.observe("grr", 1.0)  # G -> g: same aspect, the state still changed
    assert u.since_s == t.since_s and u.since_s is not t.since_s
    assert u.unprotected_since_s[0] == 1.0
