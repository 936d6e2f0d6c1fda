"""The guard's short ways give the verdicts of its long ways, on random commands against
random histories of real junctions (the histories and commands of test_guard_equivalence):

* a guard whose tables are warm (strings checked, pairs planned before) answers as a new one;
* R5 with the command's strings checked once per (state, then) (``malformed_memo``) is
  ``malformed``, on malformed commands and corrupted timers too;
* R3's test of the foes shown red, each once (``PairPlan.red_foes``), gives what the test of
  every (link, foe) pair gives -- the same reasons, or the same exception.
"""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from clearway.signals.memo import BoundedMemo
from clearway.signals.safety import SafetyGuard, SignalCommand, rules
from clearway.signals.timers import SignalTimers

from .conftest import NetCase
from .test_guard_equivalence import SETTINGS, corrupted, malformed_command, mutate, near_limit_dt

pytestmark = pytest.mark.sumo


def _outcome(f, *args):
    try:
        return ("ok", f(*args))
    except Exception as exc:  # the long way's exception is part of its answer
        return ("raised", type(exc).__name__, str(exc))


@SETTINGS
@given(data=st.data())
def test_short_ways_answer_as_the_long_ways(net_case: NetCase, data: DataObject) -> None:
    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    sid = rnd.choice(net_case.signal_ids)
    model = net_case.models[sid]
    phases = net_case.phase_states(sid) or ["r" * model.link_count]
    warm = net_case.guard  # keeps its tables across examples
    strings: BoundedMemo = BoundedMemo(max_entries=rnd.choice((1, 3, 4096)))
    pairs: BoundedMemo = BoundedMemo()
    t = rnd.uniform(0.0, 100.0)
    timers = SignalTimers.start(sid, rnd.choice(phases), t)
    for _ in range(40):
        t += near_limit_dt(rnd, model, timers, t)
        timers = timers.observe(timers.state, t)
        roll = rnd.random()
        if roll < 0.08:
            cmd = malformed_command(rnd, sid, timers.state, t)
        else:
            state = mutate(rnd, timers.state, phases)
            then = mutate(rnd, state, phases) if rnd.random() < 0.2 else None
            cmd = SignalCommand(sid, state, t + rnd.choice((0.0, 0.0, 0.5)), then=then)
        seen = corrupted(rnd, timers) if roll > 0.9 else None if roll > 0.89 else timers
        # cached verdict == fresh verdict
        fresh = SafetyGuard(net_case.models).check(cmd, seen)
        cached = warm.check(cmd, seen)
        assert (cached.reasons, cached.ok) == (fresh.reasons, fresh.ok), (cmd, seen)
        age = warm.max_state_age_s
        assert _outcome(rules.malformed_memo, model, seen, cmd, age, strings) == _outcome(
            rules.malformed, model, seen, cmd, age
        )
        if seen is not None and not rules.malformed(model, seen, cmd, age):
            plan = rules.pair_plan(model, seen.state, cmd.state, pairs)
            long_way = plan._replace(red_foes=None)
            assert _outcome(rules.clearance, plan, seen, cmd.time_s) == _outcome(
                rules.clearance, long_way, seen, cmd.time_s
            ), (cmd, seen)
        if fresh.ok:
            timers = timers.observe(cmd.state, t)
        elif rnd.random() < 0.3 and rnd.random() < 0.5:
            # a step toward a phase (often one whose foes are all red: the short way of R3)
            with contextlib.suppress(ValueError):
                timers = timers.observe(rnd.choice(phases), t)


def test_red_foes_lists_each_red_foe_once_and_only_for_all_red_tests() -> None:
    clears = (
        ("red", 3, frozenset(), 2.0, "a"),
        ("red", 1, frozenset("g"), 1.5, "b"),
        ("red", 3, frozenset("gs"), 2.0, "c"),
    )
    assert rules._red_foes(clears) == ((3, 2.0), (1, 1.5))
    assert rules._red_foes((*clears, ("busy", 2, frozenset(), 0.0, "d"))) is None
    assert rules._red_foes(()) == ()
