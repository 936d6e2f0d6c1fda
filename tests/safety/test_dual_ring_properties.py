"""The virtual NEMA controller under random central controls and detector calls, against an
independent oracle: what it shows is checked phase by phase and link by link."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clearway.field.controls import PhaseControls
from clearway.field.virtual.nema_controller import DualRingController
from clearway.field.virtual.phase_timings import phase_timings_from_model
from clearway.signals.model import GREEN_CHARS, YELLOW_CHARS
from clearway.signals.nema_derive import derive_phase_map

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

DT_S = 0.5
#: Junctions with two rings, overlaps, walks, pedestrian-only and link-less phases.
SIGNALS = [(0, "A1"), (0, "B1"), (1, "joinedS_0"), (1, "joinedS_2"),
           (1, "cluster_1560224191_1560224195_2697454310_443598395"), (1, "GS_2391105461")]  # fmt: skip


def case(k: int):
    from tests.unit.test_nema import real_nets

    net_i, sid = SIGNALS[k]
    net, models = real_nets()[net_i]
    model = models[sid]
    pm = derive_phase_map(model, net.traffic_lights[sid].default_program, net.signal_links(sid))
    return model, pm, phase_timings_from_model(pm, model, max_green_s=20.0)


@dataclass
class Oracle:
    """Watches phases and links; knows nothing of the controller's rings or timers."""

    model: object
    pm: object
    timings: dict
    green_since: dict = field(default_factory=dict)
    yellow_since: dict = field(default_factory=dict)
    cleared_at: dict = field(default_factory=dict)  # phase -> time its yellow ended
    link_prev: str = ""
    link_active_until: dict = field(default_factory=dict)  # link -> last time green/yellow
    link_green_char: dict = field(default_factory=dict)  # link -> the green it last showed

    def concurrent(self, a: int, b: int) -> bool:
        ring = {p.number: p.ring for p in self.pm.phases}
        return ring[a] != ring[b] and any(a in g and b in g for g in self.pm.barriers)

    def see(self, now: float, greens: frozenset, yellows: frozenset, state: str) -> None:
        for a in greens:
            for b in greens:
                assert a == b or self.concurrent(a, b), f"phases {a} and {b} green together"
        t = self.timings
        for p in list(self.green_since):
            if p not in greens:
                assert now - self.green_since.pop(p) >= t[p].min_green_s - 1e-6, (
                    f"phase {p} min green cut"
                )
        for p in list(self.yellow_since):
            if p not in yellows:
                assert now - self.yellow_since.pop(p) >= t[p].yellow_s - 1e-6, (
                    f"phase {p} yellow cut"
                )
                self.cleared_at[p] = now
        for q in greens - self.green_since.keys():
            for p, end in self.cleared_at.items():
                if p != q and not self.concurrent(p, q) and p not in greens:
                    assert now - end >= t[p].red_clear_s - 1e-6, (
                        f"phase {q} green {now - end:.2f} s after phase {p}'s yellow ended"
                    )
            self.green_since[q] = now
        for p in yellows - self.yellow_since.keys():
            self.yellow_since[p] = now
        self._links(now, state)

    def _links(self, now: float, state: str) -> None:
        m = self.model
        assert m.conflicting_greens(state) == [], state
        prev = self.link_prev or "r" * len(state)
        for i, (a, b) in enumerate(zip(prev, state, strict=True)):
            if a in GREEN_CHARS and b not in GREEN_CHARS and not m.is_crossing[i]:
                assert b in YELLOW_CHARS, f"link {i} went {a}->{b} without yellow"
            if b in GREEN_CHARS and a not in GREEN_CHARS:
                for j in m.foes_of(i):
                    if state[j] in GREEN_CHARS or j not in self.link_active_until:
                        continue
                    if not m.compatible(i, b, j, self.link_green_char.get(j, "G")):
                        gap = now - self.link_active_until[j]
                        assert gap >= m.timings[j].clearance_s - DT_S - 1e-6, (
                            f"link {i} green {gap:.2f} s after foe {j}"
                        )
        for i, c in enumerate(state):
            if c in GREEN_CHARS:
                self.link_green_char[i] = c
            if c in GREEN_CHARS or c in YELLOW_CHARS:
                self.link_active_until[i] = now + DT_S  # active up to the next step
        self.link_prev = state


phase_sets = st.frozensets(st.integers(1, 16), max_size=4)
segment = st.tuples(
    st.integers(1, 40),  # steps
    phase_sets,  # detector calls
    phase_sets,  # ped pushes
    st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {
                "hold": phase_sets,
                "force_off": phase_sets,
                "omit": phase_sets,
                "veh_call": phase_sets,
                "ped_call": phase_sets,
            }
        ),
    ),  # fmt: skip
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(k=st.integers(0, len(SIGNALS) - 1), segments=st.lists(segment, min_size=20, max_size=120))
def test_never_conflicting_and_never_a_cut_interval(k, segments):
    model, pm, timings = case(k)
    ctl = DualRingController(pm, timings, backup_time_s=10.0)
    drive(ctl, Oracle(model, pm, timings), segments)


def drive(ctl: DualRingController, oracle: Oracle, segments, now: float = 0.0) -> float:
    """Run ``segments`` (steps, detector calls, ped pushes, controls) with the oracle
    watching every step; returns the time after the last step (s)."""
    nums = ctl.phase_map.numbers
    for steps, calls, pushes, controls in segments:
        if controls is not None:
            ctl.set_controls(now, **{name: v & nums for name, v in controls.items()})
        for _ in range(steps):
            ctl.step(now, calls & nums, pushes & nums)
            oracle.see(now, ctl.greens, ctl.yellows, ctl.state_string())
            assert ctl.greens | ctl.yellows <= ctl.phase_ons
            assert not (ctl.greens & ctl.reds)
            now += DT_S
    return now


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(k=st.integers(0, len(SIGNALS) - 1), segments=st.lists(segment, min_size=1, max_size=30))
def test_after_silence_controls_clear_and_every_call_is_served_within_a_cycle(k, segments):
    model, pm, timings = case(k)
    ctl = DualRingController(pm, timings, backup_time_s=10.0)
    oracle = Oracle(model, pm, timings)
    nums = pm.numbers
    now = 0.0
    for steps, calls, _pushes, controls in segments:
        if controls is not None:
            ctl.set_controls(now, **{name: v & nums for name, v in controls.items()})
        for _ in range(steps):
            ctl.step(now, calls & nums)
            oracle.see(now, ctl.greens, ctl.yellows, ctl.state_string())
            now += DT_S
    last = ctl.last_control_s
    # silence: every phase now has a waiting vehicle, pressed once
    ctl.step(now, frozenset(nums))
    oracle.see(now, ctl.greens, ctl.yellows, ctl.state_string())
    called = ctl.veh_calls | ctl.greens
    cycle_s = sum(max(t.max_green_s, t.walk_s + t.ped_clear_s) + t.yellow_s + t.red_clear_s
                  for t in timings.values())  # fmt: skip
    start = now
    served = set(ctl.greens)
    while now < start + 10.0 + 2 * cycle_s:
        now += DT_S
        ctl.step(now)
        oracle.see(now, ctl.greens, ctl.yellows, ctl.state_string())
        served |= ctl.greens
        if last is None or now - last >= 10.0:
            assert ctl.in_backup and ctl.controls == PhaseControls()
            assert ctl.backup_since_s is not None and ctl.backup_since_s <= now
    assert called <= served, f"called {sorted(called)} but served only {sorted(served)}"
