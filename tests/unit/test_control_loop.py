"""The control loop and the fixed-time controller, with fakes (no SUMO)."""

from __future__ import annotations

from clearway.control.fixed_time import FixedTimeController
from clearway.control.runtime import ControlLoop
from clearway.signals.safety import SafetyGuard, SignalCommand
from tests.fakes.junctions import FakeSignals, four_leg, four_leg_program


def changes(history, sid="J"):
    out, prev = [], None
    for t, states in history:
        if states[sid] != prev:
            out.append((t, states[sid]))
            prev = states[sid]
    return out


def run_fixed(duration_s=200.0, **timing):
    model = four_leg(**timing)
    fake = FakeSignals({"J": "GrgG"})
    ctrl = FixedTimeController({"J": model}, {"J": four_leg_program()})
    loop = ControlLoop(fake, fake, fake, SafetyGuard({"J": model}), ctrl)
    loop.run(duration_s)
    return loop, fake


def test_fixed_time_runs_the_program_with_zero_rejections():
    loop, fake = run_fixed()
    assert loop.stats.rejected == 0 and loop.stats.ticks == 200
    shown = {s for _, s in changes(fake.history)}
    assert {"GrgG", "yryG", "rGrG", "ryrG"} <= shown


def test_fixed_time_lengthens_yellow_and_inserts_all_red_but_keeps_the_cycle():
    _, fake = run_fixed(yellow_s=3.5, clearance_s=2.0)
    seq = changes(fake.history)
    # program yellow is 3 s; the junction needs 3.5 s -> 4 ticks; then 2 s all-red.
    starts = {s: t for t, s in reversed(seq)}
    assert starts["rrrG"] - starts["yryG"] == 4.0
    assert starts["rGrG"] - starts["rrrG"] == 2.0
    # The extra 3 s per change are won back from the next green: every phase still *ends* on
    # the program's 46 s cycle, so coordination with neighbours is kept.
    ends_of_a = [t for t, s in seq if s == "yryG"]
    assert len(ends_of_a) >= 4
    assert {b - a for a, b in zip(ends_of_a, ends_of_a[1:], strict=False)} == {46.0}


def test_loop_takes_over_every_signal_through_the_guard():
    loop, fake = run_fixed(duration_s=1.0)
    assert fake.applied[0].source == "takeover"


class _Rogue:
    name = "rogue"
    uses_traffic_state = True

    def propose(self, now_s, timers, traffic):
        return [SignalCommand("J", "GGrG", now_s, source=self.name)]


def test_unsafe_proposals_never_reach_the_signal_and_are_recorded():
    model = four_leg()
    fake = FakeSignals({"J": "GrgG"})
    seen = []
    loop = ControlLoop(fake, fake, fake, SafetyGuard({"J": model}), _Rogue(), on_verdict=seen.append)
    loop.run(10.0)
    assert all(s["J"] == "GrgG" for _, s in fake.history)
    assert loop.stats.rejected == 10 and loop.stats.rejected_by_rule["R1-conflict"] == 10
    assert loop.stats.rejections[0].reasons and len(seen) == 11  # 10 rejections + take-over


def test_loop_ignores_signals_the_guard_does_not_know():
    model = four_leg()
    fake = FakeSignals({"J": "GrgG", "other": "GG"})
    loop = ControlLoop(fake, fake, fake, SafetyGuard({"J": model}), _Rogue())
    loop.tick()
    assert set(loop.timers) == {"J"}


class _CountingSignals(FakeSignals):
    reads = 0

    def read_traffic_state(self, fields=None):
        self.reads += 1
        return super().read_traffic_state(fields)


def test_detector_data_is_read_only_for_controllers_that_use_it():
    model = four_leg()
    for controller, expected in (
        (FixedTimeController({"J": model}, {"J": four_leg_program()}), 0),
        (_Rogue(), 5),
    ):
        fake = _CountingSignals({"J": "GrgG"})
        ControlLoop(fake, fake, fake, SafetyGuard({"J": model}), controller).run(5.0)
        assert fake.reads == expected


class _Scheduled:
    """Proposes ``state`` for J at the listed times only; reads detectors when told to."""

    name = "scheduled"
    uses_traffic_state = True

    def __init__(self, at_s: dict[float, str], due=None) -> None:
        self.at_s = at_s
        self.due = due
        self.seen: list[float] = []

    def traffic_due(self, now_s):
        return self.due(now_s)

    def propose(self, now_s, timers, traffic):
        self.seen.append(len(traffic.lane_ids))
        state = self.at_s.get(now_s)
        return [] if state is None else [SignalCommand("J", state, now_s, source=self.name)]


def test_detectors_are_read_only_on_ticks_the_controller_says_are_due():
    fake = _CountingSignals({"J": "GrgG"})
    ctrl = _Scheduled({}, due=lambda now: now % 3 == 0)
    ControlLoop(fake, fake, fake, SafetyGuard({"J": four_leg()}), ctrl).run(9.0)
    assert fake.reads == 3  # t = 0, 3, 6


def test_a_signal_unchanged_for_long_is_judged_against_this_ticks_observation():
    # The loop refreshes an unchanged signal's observation time only when a command for it
    # is judged; the guard must see it as observed now, not as stale since t = 0.
    model = four_leg(min_green_s=5.0)
    guard = SafetyGuard({"J": model}, max_state_age_s=2.0)
    fake = FakeSignals({"J": "GrgG"})
    ctrl = _Scheduled({30.0: "yryG", 34.0: "rryG"}, due=lambda now: False)
    loop = ControlLoop(fake, fake, fake, guard, ctrl)
    loop.run(36.0)
    assert loop.stats.rejected == 0, [v.reasons for v in loop.stats.rejections]
    assert [(c.time_s, c.state) for c in fake.applied if c.source == "scheduled"] == [
        (30.0, "yryG"),
        (34.0, "rryG"),
    ]
    assert loop.timers["J"].since_s[0] == 34.0


def test_a_stale_observation_is_still_refused():
    # The lazy refresh must not launder staleness: a command stamped long after the tick's
    # observation is judged against that observation and refused.
    guard = SafetyGuard({"J": four_leg()}, max_state_age_s=2.0)
    fake = FakeSignals({"J": "GrgG"})
    loop = ControlLoop(fake, fake, fake, guard, _Scheduled({}, due=lambda now: False))
    loop.run(10.0)
    verdict = guard.check(SignalCommand("J", "GrgG", 20.0), loop._judged_timers("J"))
    assert not verdict.ok and "stale" in verdict.reasons[0]


def test_a_state_the_loop_did_not_command_is_observed_at_the_next_tick():
    # The loop compares one list of what the signals show against what its timers hold;
    # a change nobody commanded (a cabinet's own program, a manual override) must still
    # reach the timers, also right after a command of the loop's own for the same signal.
    two = {"J": "GrgG", "K": "GrgG"}
    models = {sid: four_leg() for sid in two}
    fake = FakeSignals(two)
    ctrl = _Scheduled({3.0: "GrgG"}, due=lambda now: False)  # a hold: J's own command
    loop = ControlLoop(fake, fake, fake, SafetyGuard(models), ctrl)
    loop.run(4.0)
    fake.states["J"] = "yryG"
    fake.states["K"] = "rrrr"
    loop.tick()
    assert loop.timers["J"].state == "yryG" and loop.timers["J"].since_s[0] == 4.0
    assert loop.timers["K"].state == "rrrr" and loop.timers["K"].since_s[3] == 4.0
    fake.advance(1.0)
    loop.tick()  # nothing changed since: the timers keep their start times
    assert loop.timers["J"].since_s[0] == 4.0 and loop.timers["K"].since_s[3] == 4.0


def test_handed_back_inside_a_yellow_of_its_schedule_fixed_time_goes_on_with_the_program():
    """Program: A green 0-20 s, yellow 20-23, B green 23-43, yellow 43-46 (46 s cycle). A hold
    left the signal on B; it is handed back at 67 s, inside A's scheduled yellow (66-69 s).
    That yellow cannot follow B's state (a red link cannot turn yellow): fixed-time goes on
    with the schedule's next phase (B, to 89 s) and cycles, instead of standing on B until it
    gives the unreachable yellow up (120 s)."""
    from clearway.signals.timers import SignalTimers

    model = four_leg()
    ctrl = FixedTimeController({"J": model}, {"J": four_leg_program()})
    t = SignalTimers.start("J", "GrgG", 0.0)
    for now in range(0, 60):
        for c in ctrl.propose(float(now), {"J": t}, None):
            t = t.observe(c.state, float(now))
    t = SignalTimers.start("J", "rGrG", 60.0)  # what the hold showed
    ctrl.resume("J", 67.0, 0)
    shown = []
    for now in range(67, 110):
        for c in ctrl.propose(float(now), {"J": t}, None):
            t = t.observe(c.state, float(now))
        t = t.observe(t.state, float(now))
        shown.append((now, t.state))
    a_again = [now for now, s in shown if s == "GrgG"]
    assert a_again and a_again[0] <= 96, shown[::5]
    assert all(s != "yryG" for _, s in shown if _ < 89)
