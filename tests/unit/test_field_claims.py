"""When the corridor claims a signal run by an actuated field controller (no SUMO).

Such a controller says neither when it ends a green nor what it starts next, so the corridor
plans with the worst case (``unknown_next``): a signal is claimed from the latest moment the
vehicle's green can still be (re)gained in time, whether that green shows now or not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearway.control.priority.field_preemption import unknown_next
from clearway.control.priority.policies import CorridorPreemption, regain_s
from clearway.signals.model import ALL_CHARS, GREEN_CHARS, OFF_CHARS
from tests.fakes.junctions import four_leg

states = st.text(alphabet=sorted(ALL_CHARS), min_size=1, max_size=12)


@given(states)
def test_every_green_may_end_every_other_link_may_start_and_off_stays_off(shown):
    nxt = unknown_next(shown)
    assert len(nxt) == len(shown)
    for was, then in zip(shown, nxt, strict=True):
        if was in GREEN_CHARS:
            assert then == "r"
        elif was in OFF_CHARS:
            assert then == was
        else:
            assert then == "G"


def test_a_field_signal_is_claimed_at_the_latest_safe_moment_green_or_red():
    from types import SimpleNamespace

    model = four_leg()
    policy = CorridorPreemption()
    core = frozenset({0})
    regain = regain_s(model, core)
    assert regain > 0
    plan = SimpleNamespace(core=core, lane_bound=frozenset(), green_start_s=100.0, transition_s=5.0,
                           queue_m=0.0)  # fmt: skip
    latest = 100.0 - regain - policy.margin_s
    n = model.link_count
    green = "G" + "r" * (n - 1)
    red = "r" * n
    for shown in (green, red):
        upcoming = unknown_next(shown)
        assert not policy.wants(plan, model, shown, upcoming, latest - 0.5, None)
        assert policy.wants(plan, model, shown, upcoming, latest, None), shown
    # Had the controller said it keeps the green, the corridor would have waited.
    assert not policy.wants(plan, model, green, green, latest, None)
