"""Sanity of the conflict matrix against the networks' own programs, and the fixed-time
controller run through the real control loop and guard on every signal of four networks."""

from __future__ import annotations

import pytest

from clearway.control.fixed_time import FixedTimeController
from clearway.control.runtime import ControlLoop
from clearway.network.model import SignalProgram
from clearway.signals.model import Relation
from clearway.signals.safety import SignalCommand
from clearway.signals.timers import SignalTimers
from tests.fakes.junctions import FakeSignals

from .conftest import NetCase
from .oracle import GREEN, R1, History, codes_of, judge, replay

pytestmark = pytest.mark.sumo

RUN_S = 600.0


# -- the conflict matrix ---------------------------------------------------------------------
def test_every_program_phase_is_free_of_conflicts(net_case: NetCase) -> None:
    case, checked = net_case, 0
    for sid in case.signal_ids:
        model, sig = case.models[sid], case.oracles[sid]
        for prog in case.net.traffic_lights[sid].programs.values():
            for k, ph in enumerate(prog.phases):
                where = f"{case.name} {sid!r} program {prog.program_id!r} phase {k} {ph.state!r}"
                assert model.conflicting_greens(ph.state) == [], where
                assert sig.r1_pairs(ph.state) == [], where
                checked += 1
    assert checked > 0


def test_conflict_matrix_matches_the_oracle(net_case: NetCase) -> None:
    """The guard's relation matrix says what the oracle re-derives from the raw junction data."""
    case = net_case
    for sid in case.signal_ids:
        model, sig = case.models[sid], case.oracles[sid]
        assert model.link_count == sig.n
        assert model.fixed_off == sig.fixed_off
        for i in range(sig.n):
            for j in range(sig.n):
                if i == j:
                    continue
                r = Relation(model.relation[i][j])
                where = f"{case.name} {sid!r} links {i},{j}: {r!r}"
                foe = (i, j) in sig.foe
                assert bool(r & Relation.FOE) == foe, where
                if foe:
                    assert bool(r & Relation.HARD) == sig.hard(i, j), where
                    assert bool(r & Relation.YIELDS) == ((i, j) in sig.yields), where
                else:
                    assert r == Relation.NONE, where


def hard_g_pairs(case: NetCase, sid: str) -> list[tuple[int, int]]:
    """Hard-conflicting foe pairs that each show a protected G in some phase of the programs
    (two movements of crossing approaches)."""
    sig, model = case.oracles[sid], case.models[sid]
    protected = {i for s in case.phase_states(sid) for i, c in enumerate(s) if c == "G"}
    links = case.net.signal_links(sid)
    edges = {i: {lk.from_edge for lk in links if lk.signal_index == i} for i in range(sig.n)}
    return [
        (i, j)
        for i in sorted(protected)
        for j in sorted(protected)
        if i < j
        and sig.hard(i, j)
        and Relation(model.relation[i][j]) & Relation.HARD
        and not edges[i] & edges[j]
    ]


def test_two_hard_conflicting_greens_are_rejected(net_case: NetCase) -> None:
    case, pairs = net_case, 0
    for sid in case.signal_ids:
        sig = case.oracles[sid]
        red = "".join("O" if k in sig.fixed_off else "r" for k in range(sig.n))
        timers = SignalTimers.start(sid, red, 0.0).observe(red, 100.0)
        hist = History.start(red, 0.0).observe(red, 100.0)
        for i, j in hard_g_pairs(case, sid):
            for ci, cj in ("GG", "gg", "Gg", "gG"):
                both = list(red)
                both[i], both[j] = ci, cj
                state = "".join(both)
                for emergency in (False, True):
                    v = case.guard.check(
                        SignalCommand(sid, state, 100.0, emergency=emergency), timers
                    )
                    assert not v.ok and codes_of(v.reasons) == {R1}, (sid, i, j, state, v.reasons)
                assert judge(sig, hist, state, 100.0, max_age_s=2.0) == {R1}
            for k in (i, j):  # either alone is fine
                alone = red[:k] + "G" + red[k + 1 :]
                assert case.guard.check(SignalCommand(sid, alone, 100.0), timers).ok
            pairs += 1
    assert pairs > 0, f"{case.name}: no pair of hard-conflicting protected movements found"


# -- fixed time through the real loop ----------------------------------------------------------
def program_runs(case: NetCase) -> list[dict[str, SignalProgram]]:
    """One run per program index, so every program of every signal runs once."""
    tls = case.net.traffic_lights
    most = max(len(tls[sid].programs) for sid in case.signal_ids)
    runs = []
    for k in range(most):
        run = {}
        for sid in case.signal_ids:
            progs = list(tls[sid].programs.values())
            run[sid] = progs[k] if k < len(progs) else tls[sid].default_program
        runs.append(run)
    return runs


def test_fixed_time_runs_every_signal_without_a_rejection(net_case: NetCase) -> None:
    case = net_case
    for programs in program_runs(case):
        cabinet = FakeSignals({sid: p.phases[0].state for sid, p in programs.items()})
        controller = FixedTimeController(case.models, programs)
        loop = ControlLoop(cabinet, cabinet, cabinet, case.guard, controller, tick_s=1.0)
        stats = loop.run(RUN_S)

        rejections = [
            (v.command.signal_id, v.command.time_s, v.command.state, v.reasons)
            for v in stats.rejections
        ]
        assert stats.rejected == 0, (
            f"{case.name}: {stats.rejected} rejections, first: {rejections[:5]}"
        )
        assert stats.ticks == int(RUN_S)
        for sid, program in programs.items():
            shown = cabinet.shown[sid]
            seen = {s for _t, s in shown}
            missing = [(k, ph.state) for k, ph in enumerate(program.phases) if ph.state not in seen]
            assert not missing, (
                f"{case.name} {sid!r} program {program.program_id!r}: phases never shown in "
                f"{RUN_S:.0f} s: {missing}"
            )
            violations = replay(case.oracles[sid], shown)
            assert violations == [], f"{case.name} {sid!r}: oracle violations {violations[:5]}"
            # and the guard never let anything but green-compatible states through
            assert all(not case.oracles[sid].r1_pairs(s) for _t, s in shown), (
                f"{case.name} {sid!r}: conflicting greens shown"
            )
            assert any(any(c in GREEN for c in s) for _t, s in shown)
