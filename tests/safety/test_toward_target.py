"""Steering a NEMA controller straight to a target (``toward``): from any state the
controller reached on its own and under any earlier controls, the target's phases show
green within a bounded time, and nothing on the way breaks a rule the independent oracle
watches (phases, links, min greens, yellows, clearances).

The bound is what the controller's own intervals need and no more than that: every phase
green now runs out its minimum (or its walk and pedestrian clearance), its yellow and its red
clearance; a phase it had already committed to may come in between once; then the target.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clearway.control.priority.field_preemption import phase_combos
from clearway.field.controls import toward
from clearway.field.virtual.nema_controller import DualRingController
from clearway.signals.model import GREEN_CHARS
from clearway.signals.nema import phases_of, state_of
from tests.safety.test_dual_ring_properties import DT_S, SIGNALS, Oracle, case, drive, segment

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


def _interval_s(t) -> float:
    return max(t.min_green_s, t.walk_s + t.ped_clear_s) + t.yellow_s + t.red_clear_s


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    k=st.integers(0, len(SIGNALS) - 1),
    segments=st.lists(segment, min_size=1, max_size=20),
    pick=st.integers(0, 10_000),
)
def test_toward_reaches_any_phase_combination_in_bounded_time_and_safely(k, segments, pick):
    model, pm, timings = case(k)
    ctl = DualRingController(pm, timings, backup_time_s=1e9)
    oracle = Oracle(model, pm, timings)
    now = drive(ctl, oracle, segments)
    combos = phase_combos(pm)
    target = state_of(pm, combos[pick % len(combos)], (), (), ())
    # The phases that show the target (a phase without vehicle links of its own shows
    # nothing in a link state, so it is not among them); "there" is judged on links alone.
    combo = phases_of(pm, target)[0]
    want = [i for i, c in enumerate(target) if c in GREEN_CHARS]
    bound_s = 2 * max(_interval_s(t) for t in timings.values()) + 2 * DT_S
    start = now
    group_of = {n: b for b, g in enumerate(pm.barriers) for n in g}
    home = {group_of[n] for n in combo}
    while not all(ctl.state_string()[i] in GREEN_CHARS for i in want):
        away = {n for n in ctl.phase_nexts if group_of[n] not in home}
        if away and now - start > bound_s:
            # A ring committed across the barrier to a phase that holds an overlap green
            # (its next, per the NTCIP phase nexts) waits for the crossing: while the other
            # target phases are held green the rest of the target waits, and nothing that
            # shows target green may have been lost on the way.
            shown = ctl.state_string()
            held = [i for i in want if shown[i] in GREEN_CHARS]
            assert held, f"nothing of the target {target} shown while waiting at the barrier"
            return
        assert now - start <= bound_s, (
            f"target {target} (phases {sorted(combo)}) not shown {bound_s:.1f} s after being "
            f"steered there: {ctl.state_string()}; "
            f"greens {sorted(ctl.greens)}, yellows {sorted(ctl.yellows)}"
        )
        c = toward(pm, ctl.greens, target, target, ctl.phase_ons)
        # the controls ask only for the target: nothing outside it is called or held
        # beyond what is green now, and the target is never omitted or forced off
        assert c.veh_call <= combo and not (c.omit & combo) and not (c.force_off & combo)
        assert c.hold <= ctl.greens and not (c.hold & c.force_off)
        ctl.set_controls(now, hold=c.hold, force_off=c.force_off, omit=c.omit,
                         veh_call=c.veh_call, ped_call=c.ped_call)  # fmt: skip
        ctl.step(now)
        oracle.see(now, ctl.greens, ctl.yellows, ctl.state_string())
        now += DT_S
    # and once there, held: it stays there (its greens beside the target's are its own)
    for _ in range(20):
        c = toward(pm, ctl.greens, target, target, ctl.phase_ons)
        ctl.set_controls(now, hold=c.hold, force_off=c.force_off, omit=c.omit,
                         veh_call=c.veh_call, ped_call=c.ped_call)  # fmt: skip
        ctl.step(now)
        oracle.see(now, ctl.greens, ctl.yellows, ctl.state_string())
        shown = ctl.state_string()
        assert all(shown[i] in GREEN_CHARS for i in want), (shown, target)
        now += DT_S
