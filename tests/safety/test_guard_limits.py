"""Dense limit cases of every safety timing of every real link, and fail-closed inputs.

For each link of each traffic light of four networks: a command one tick (0.1 s and 1 s) before
its min green / yellow / the clearance of a foe has run out is rejected with exactly that rule's
code; the same command exactly at the limit is approved (nothing else blocks it by
construction). Every verdict is also checked against the independent oracle and repeated with
``emergency=True`` (R4: nothing changes).
"""

from __future__ import annotations

import math

import pytest

from clearway.signals.safety import ApprovedCommand, SignalCommand
from clearway.signals.timers import SignalTimers

from .conftest import NetCase
from .oracle import R1, R2_MIN, R2_YELLOW, R3, R5, History, codes_of, judge

pytestmark = pytest.mark.sumo

TICKS_S = (1e-3, 0.1, 1.0)
T0 = 0.0
LATER = 100.0  # long after T0: every link that has been red since T0 has cleared


class Signal:
    """The guard's timers and the oracle's history of one signal, advanced together."""

    def __init__(self, case: NetCase, sid: str, state: str, t: float) -> None:
        self.case, self.sid = case, sid
        self.timers = SignalTimers.start(sid, state, t)
        self.hist = History.start(state, t)

    @property
    def state(self) -> str:
        return self.timers.state

    def hold(self, t: float) -> None:
        """The adapter reports the unchanged state at ``t`` (keeps the history fresh)."""
        self.timers = self.timers.observe(self.timers.state, t)
        self.hist = self.hist.observe(self.hist.state, t)

    def judge(self, state: str, t: float) -> set[str]:
        """Rule codes the guard gives ``state`` at ``t`` (after checking oracle and R4 agree)."""
        self.hold(t)
        out = []
        for emergency in (False, True):
            cmd = SignalCommand(self.sid, state, t, source="limits", emergency=emergency)
            v = self.case.guard.check(cmd, self.timers)
            assert v.ok == (not v.reasons)
            out.append((v.ok, v.reasons))
        assert out[0] == out[1], f"emergency flag changed the verdict: {out}"
        codes = codes_of(out[0][1])
        expected = judge(
            self.case.oracles[self.sid],
            self.hist,
            state,
            t,
            max_age_s=self.case.guard.max_state_age_s,
        )
        assert codes == expected, (
            f"{self.case.name} {self.sid!r} at {t}: {self.state!r} -> {state!r}: "
            f"guard {out[0][1]}, oracle {expected}"
        )
        return codes

    def apply(self, state: str, t: float) -> None:
        """Command ``state`` at ``t``; it must be approved; then it is shown."""
        codes = self.judge(state, t)
        assert not codes, (
            f"{self.case.name} {self.sid!r} at {t}: {self.state!r} -> {state!r}: {codes}"
        )
        self.timers = self.timers.observe(state, t)
        self.hist = self.hist.observe(state, t)


def put(state: str, i: int, c: str) -> str:
    return state[:i] + c + state[i + 1 :]


def all_red(case: NetCase, sid: str) -> str:
    sig = case.oracles[sid]
    return "".join("O" if k in sig.fixed_off else "r" for k in range(sig.n))


def real_links(case: NetCase, sid: str) -> list[int]:
    """Links driving at least one connection, not fixed off."""
    sig = case.oracles[sid]
    return [i for i in range(sig.n) if sig.driven[i] and i not in sig.fixed_off]


def alone_green(case: NetCase, sid: str, i: int, c: str = "G") -> Signal:
    """Signal showing only link i green since T0, everything else red since T0."""
    return Signal(case, sid, put(all_red(case, sid), i, c), T0)


def end_char(case: NetCase, sid: str, i: int) -> str:
    return "y" if case.oracles[sid].yellow_s[i] > 0 else "r"


# -- R2: min green ---------------------------------------------------------------------------
def test_min_green_limit_of_every_link(net_case: NetCase) -> None:
    case, checked = net_case, 0
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        for i in real_links(case, sid):
            mg = sig.min_green_s[i]
            for switch_to_g in (False, True):
                s = alone_green(case, sid, i)
                if switch_to_g:  # G -> g does not restart the min green
                    s.apply(put(s.state, i, "g"), T0 + 1.0)
                ended = put(s.state, i, end_char(case, sid, i))
                for tick in TICKS_S:
                    assert s.judge(ended, T0 + mg - tick) == {R2_MIN}
                if sig.yellow_s[i] > 0:
                    assert s.judge(put(s.state, i, "r"), T0 + mg) == {R2_YELLOW}
                    assert s.judge(put(s.state, i, "r"), T0 + mg - 0.1) == {R2_MIN, R2_YELLOW}
                s.apply(ended, T0 + mg)
                checked += 1
    assert checked > 0


# -- R2: yellow ------------------------------------------------------------------------------
def test_yellow_limit_of_every_link(net_case: NetCase) -> None:
    case, checked = net_case, 0
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        for i in real_links(case, sid):
            if sig.yellow_s[i] <= 0:
                # a pedestrian crossing: no yellow, green ends straight to red
                assert case.net.signal_links(sid) and any(
                    lk.is_crossing for lk in case.net.signal_links(sid) if lk.signal_index == i
                )
                continue
            s = alone_green(case, sid, i)
            s.apply(put(s.state, i, "y"), LATER)
            red = put(s.state, i, "r")
            for tick in TICKS_S:
                assert s.judge(red, LATER + sig.yellow_s[i] - tick) == {R2_YELLOW}
            assert s.judge(put(s.state, i, "G"), LATER + sig.yellow_s[i] + 5.0) == {R2_YELLOW}
            s.apply(red, LATER + sig.yellow_s[i])
            # red straight to yellow is never allowed
            assert s.judge(put(s.state, i, "y"), LATER + sig.yellow_s[i] + 30.0) == {R2_YELLOW}
            checked += 1
    assert checked > 0


# -- R3: clearance ---------------------------------------------------------------------------
def test_clearance_limit_of_every_foe_pair(net_case: NetCase) -> None:
    """Link j ends its green; each foe i may turn G only once j has been red for j's clearance."""
    case, checked, yielding = net_case, 0, 0
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        for j in real_links(case, sid):
            s = alone_green(case, sid, j)
            s.hold(LATER)
            if sig.yellow_s[j] > 0:
                s.apply(put(s.state, j, "y"), LATER)
                t_red = LATER + sig.yellow_s[j]
            else:
                t_red = LATER
            s.apply(put(s.state, j, "r"), t_red)
            cleared = t_red + sig.clearance_s[j]
            base = s.timers, s.hist
            for i in sig.foes(j):
                if i in sig.fixed_off:
                    continue
                s.timers, s.hist = base
                on = put(s.state, i, "G")
                for tick in TICKS_S:
                    assert s.judge(on, cleared - tick) == {R3}, (sid, j, i, tick)
                # a yielding green may start at once when the pair may be green together
                if sig.may_be_green_together(i, "g", j, "G"):
                    assert s.judge(put(s.state, i, "g"), t_red) == set()
                    yielding += 1
                else:
                    assert s.judge(put(s.state, i, "g"), cleared - TICKS_S[-1]) == {R3}
                s.apply(on, cleared)
                checked += 1
    assert checked > 0


def test_permissive_to_protected_waits_for_the_clearance(net_case: NetCase) -> None:
    """Link i runs permissive (g) beside a protected foe j; when j ends, i may gain protection
    (g -> G) only once j has been red for j's clearance."""
    case, checked = net_case, 0
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        for j in real_links(case, sid):
            for i in sig.foes(j):
                if i in sig.fixed_off or not sig.may_be_green_together(i, "g", j, "G"):
                    continue
                s = alone_green(case, sid, j)
                s.apply(put(s.state, i, "g"), LATER)
                t_end = LATER + sig.min_green_s[i]
                if sig.yellow_s[j] > 0:
                    s.apply(put(s.state, j, "y"), t_end)
                    assert s.judge(put(s.state, i, "G"), t_end + sig.yellow_s[j] - 0.1) == {R3}
                    t_red = t_end + sig.yellow_s[j]
                else:
                    t_red = t_end
                s.apply(put(s.state, j, "r"), t_red)
                upgraded = put(s.state, i, "G")
                for tick in TICKS_S:
                    assert s.judge(upgraded, t_red + sig.clearance_s[j] - tick) == {R3}, (
                        sid,
                        i,
                        j,
                        tick,
                    )
                s.apply(upgraded, t_red + sig.clearance_s[j])
                checked += 1
    assert checked > 0


def test_green_or_yellow_foe_blocks_a_green_until_red(net_case: NetCase) -> None:
    """A foe still green (ending) or yellow blocks link i from turning G, however long ago."""
    case = net_case
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        for j in real_links(case, sid):
            for i in sig.foes(j):
                if i in sig.fixed_off:
                    continue
                s = alone_green(case, sid, j)
                ended = put(s.state, j, end_char(case, sid, j))
                assert s.judge(put(ended, i, "G"), LATER) == {R3}
                if sig.yellow_s[j] > 0:
                    s.apply(ended, LATER)
                    assert s.judge(put(ended, i, "G"), LATER + sig.yellow_s[j] - 0.1) == {R3}
                    assert s.judge(put(put(ended, j, "r"), i, "G"), LATER + sig.yellow_s[j]) == {R3}


# -- R1 via the limits: turning on next to a green foe ----------------------------------------
def test_turning_on_beside_a_green_foe_is_an_r1_question(net_case: NetCase) -> None:
    case = net_case
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        for j in real_links(case, sid):
            s = alone_green(case, sid, j)
            for i in sig.foes(j):
                if i in sig.fixed_off:
                    continue
                for c in "Gg":
                    want = set() if sig.may_be_green_together(i, c, j, "G") else {R1}
                    assert s.judge(put(s.state, i, c), LATER) == want


# -- R5: fail closed -------------------------------------------------------------------------
def test_fail_closed_inputs(net_case: NetCase) -> None:
    case = net_case
    guard = case.guard
    age = guard.max_state_age_s
    ids = case.signal_ids
    for k, sid in enumerate(ids):
        state = case.phase_states(sid)[0]
        n = len(state)
        timers = SignalTimers.start(sid, state, T0).observe(state, LATER)
        hist = History.start(state, T0).observe(state, LATER)

        def verdict(cmd: SignalCommand, tm: SignalTimers | None = timers) -> tuple[bool, set[str]]:
            v1 = guard.check(cmd, tm)
            v2 = guard.check(
                SignalCommand(cmd.signal_id, cmd.state, cmd.time_s, emergency=not cmd.emergency), tm
            )
            assert (v1.ok, v1.reasons) == (v2.ok, v2.reasons)
            return v1.ok, codes_of(v1.reasons)

        sig = case.oracles[sid]
        # fresh enough: exactly at the age limit; one tick beyond or before the observation: no
        assert verdict(SignalCommand(sid, state, LATER + age)) == (True, set())
        for t in (LATER + age + 0.1, LATER + age + 1.0, LATER - 0.1, LATER - 1.0):
            assert verdict(SignalCommand(sid, state, t)) == (False, {R5}), t
            assert judge(sig, hist, state, t, max_age_s=age) == {R5}
        bad_commands = [
            SignalCommand(sid + "#nope", state, LATER),
            SignalCommand("", state, LATER),
            SignalCommand(sid, state[:-1], LATER),
            SignalCommand(sid, state + "r", LATER),
            SignalCommand(sid, "", LATER),
            SignalCommand(sid, None, LATER),  # type: ignore[arg-type]
            SignalCommand(sid, state, math.nan),
            SignalCommand(sid, state, math.inf),
            SignalCommand(sid, state, -math.inf),
            SignalCommand(sid, state, "100"),  # type: ignore[arg-type]
        ]
        for i in range(n):
            for c in "UxR-O o?":
                bad_commands.append(SignalCommand(sid, put(state, i, c), LATER))
        for cmd in bad_commands:
            ok, codes = verdict(cmd)
            assert (ok, codes) == (False, {R5}), cmd
            assert judge(
                case.oracles.get(cmd.signal_id), hist, cmd.state, cmd.time_s, max_age_s=age
            ) == {R5}
        # no history, or another signal's history
        assert verdict(SignalCommand(sid, state, LATER), None) == (False, {R5})
        if len(ids) > 1:
            other = ids[(k + 1) % len(ids)]
            o_state = case.phase_states(other)[0]
            o_timers = SignalTimers.start(other, o_state, LATER)
            assert verdict(SignalCommand(sid, state, LATER), o_timers) == (False, {R5})
        # not a SignalCommand at all
        v = guard.check(("not", "a", "command"), timers)  # type: ignore[arg-type]
        assert not v.ok and codes_of(v.reasons) == {R5}


def test_only_the_guard_makes_approved_commands() -> None:
    cmd = SignalCommand("J", "r", 0.0)
    with pytest.raises(TypeError):
        ApprovedCommand(cmd)
    with pytest.raises(TypeError):
        ApprovedCommand(cmd, _token=object())
