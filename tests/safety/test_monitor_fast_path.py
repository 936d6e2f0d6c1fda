"""The monitor's short way for clearance (``ChangePlan.red_foes``: every foe to check red or
off, each tested once) flags exactly what checking every (link, foe) pair flags, on random
sequences of states -- phases, mutated phases, arbitrary strings -- of the real nets' lights,
sampled near their intervals' ends."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from clearway.monitor import conflict_monitor
from clearway.monitor.conflict_monitor import SafetyMonitor

from .conftest import NetCase
from .test_guard_equivalence import SETTINGS, mutate

pytestmark = pytest.mark.sumo


def _long_way(*args, **kwargs):
    return dataclasses.replace(conflict_monitor_plan_change(*args, **kwargs), red_foes=None)


conflict_monitor_plan_change = conflict_monitor.plan_change


@SETTINGS
@given(data=st.data())
def test_the_short_way_flags_what_the_long_way_flags(net_case: NetCase, data: DataObject) -> None:
    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    sids = rnd.sample(net_case.signal_ids, min(3, len(net_case.signal_ids)))
    models = {sid: net_case.models[sid] for sid in sids}
    short = SafetyMonitor(net_case.net, models)
    long = SafetyMonitor(net_case.net, models)
    phases = {sid: net_case.phase_states(sid) or ["r" * models[sid].link_count] for sid in sids}
    shown = {sid: rnd.choice(phases[sid]) for sid in sids}
    t = 0.0
    for _ in range(60):
        sid = rnd.choice(sids)
        roll = rnd.random()
        if roll < 0.5:
            shown[sid] = rnd.choice(phases[sid])
        elif roll < 0.9:
            shown[sid] = mutate(rnd, shown[sid], phases[sid])
        else:
            shown[sid] = "".join(rnd.choice("GgsyYrruoO") for _ in shown[sid])
        timings = models[sid].timings[rnd.randrange(models[sid].link_count)]
        dt = rnd.choice((0.0, 0.5, 1.0, timings.clearance_s, timings.yellow_s, timings.min_green_s))
        t += max(dt + rnd.choice((0.0, -1e-3, 1e-3)), 0.0)
        short.observe(t, dict(shown))
        with pytest.MonkeyPatch.context() as m:
            m.setattr(conflict_monitor, "plan_change", _long_way)
            long.observe(t, dict(shown))
    assert short.violations == long.violations
    assert short.violation_count == long.violation_count
    assert short.counts_by_rule() == long.counts_by_rule()
