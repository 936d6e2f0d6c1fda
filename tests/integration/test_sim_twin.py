"""The SUMO twin on a 3x3 grid, with libsumo and with TraCI."""

from __future__ import annotations

import pytest

from clearway.errors import SimulationError, UnknownSignalError
from clearway.evaluation.metrics import read_tripinfo
from clearway.network import load_network
from clearway.ports import Clock, SignalPort, StateSource
from clearway.signals.safety import SafetyGuard, SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.sim.scenario import detector_lanes, grid_scenario
from clearway.sim.twin import SumoTwin

pytestmark = pytest.mark.sumo

BACKENDS = ["libsumo", "traci"]
RUN_S = 120


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("twin-scenarios")


@pytest.fixture(scope="module")
def scenario(cache):
    return grid_scenario(cache, "3x3", seed=1, end_s=600, load="moderate")


@pytest.fixture(scope="module")
def net(scenario):
    return load_network(scenario.net_file)


def _run(scenario, backend, tripinfo, seconds=RUN_S):
    with SumoTwin.start(scenario, backend=backend, tripinfo_path=tripinfo) as twin:
        twin.advance(seconds)
    return read_tripinfo(tripinfo)


@pytest.mark.parametrize("backend", BACKENDS)
def test_implements_the_ports(scenario, backend):
    with SumoTwin.start(scenario, backend=backend) as twin:
        assert isinstance(twin, SignalPort)
        assert isinstance(twin, StateSource)
        assert isinstance(twin, Clock)
        assert twin.backend == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_signal_states_match_the_network(scenario, net, backend):
    with SumoTwin.start(scenario, backend=backend) as twin:
        assert set(twin.signal_ids()) == set(net.traffic_lights)
        seen: dict[str, set[str]] = {tl: set() for tl in net.traffic_lights}
        for _ in range(RUN_S):
            states = twin.read_signal_states()
            assert set(states) == set(net.traffic_lights)
            for tl, state in states.items():
                assert isinstance(state, str)
                assert len(state) == net.traffic_light(tl).link_count
                seen[tl].add(state)
            twin.advance(1)
        # Over 120 s every fixed-time program (90 s cycle) has shown all its phases.
        for tl, states in seen.items():
            program = {p.state for p in net.traffic_light(tl).default_program.phases}
            assert states == program


@pytest.mark.parametrize("backend", BACKENDS)
def test_step_listener_called_once_per_step(scenario, backend):
    calls: list[tuple[float, dict[str, str]]] = []
    with SumoTwin.start(scenario, backend=backend) as twin:
        twin.add_step_listener(lambda t, states: calls.append((t, dict(states))))
        assert twin.now_s() == 0.0
        twin.advance(RUN_S)
        assert twin.now_s() == float(RUN_S)
        assert [t for t, _ in calls] == [float(i) for i in range(1, RUN_S + 1)]
        assert calls[-1][1] == twin.read_signal_states()


def test_half_second_steps(scenario):
    calls: list[float] = []
    with SumoTwin.start(scenario, step_length_s=0.5) as twin:
        twin.add_step_listener(lambda t, _states: calls.append(t))
        twin.advance(10)
        with pytest.raises(ValueError, match="multiple of the step length"):
            twin.advance(0.3)
    assert calls == [0.5 * i for i in range(1, 21)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_traffic_state_from_lane_detectors(scenario, net, backend):
    with SumoTwin.start(scenario, backend=backend) as twin:
        expected = {lane for lane, _ in detector_lanes(net)}
        assert set(twin.detector_lane_ids) == expected
        first = twin.read_traffic_state()
        assert first.vehicle_count.sum() == 0
        twin.advance(RUN_S)
        state = twin.read_traffic_state()
        assert state.time_s == float(RUN_S)
        assert set(state.lane_ids) == expected and len(state.lane_ids) == len(expected)
        assert state.vehicle_count.sum() > 0
        assert state.halting_count.sum() > 0
        assert state.queue_m.max() > 0
        assert state.occupancy_pct.min() >= 0 and state.occupancy_pct.max() <= 100
        empty = state.vehicle_count == 0
        assert (state.mean_speed_mps[empty] == -1).all()  # SUMO's "no vehicle" marker
        busiest = state.lane(state.lane_ids[int(state.queue_m.argmax())])
        assert busiest.halting_count > 0


def test_both_backends_see_the_same_traffic(scenario):
    # libsumo reads detectors on demand, TraCI by subscription: the figures must agree.
    with (
        SumoTwin.start(scenario, backend="libsumo") as lib,
        SumoTwin.start(scenario, backend="traci") as tra,
    ):
        for _ in range(4):
            lib.advance(30)
            tra.advance(30)
            a, b = lib.read_traffic_state(), tra.read_traffic_state()
            assert a.lane_ids == b.lane_ids and a.time_s == b.time_s
            for name in ("vehicle_count", "halting_count", "queue_m", "occupancy_pct"):
                assert (getattr(a, name) == getattr(b, name)).all(), name
            assert a.mean_speed_mps == pytest.approx(b.mean_speed_mps)
            assert lib.read_signal_states() == tra.read_signal_states()


def test_apply_refuses_anything_not_approved(scenario):
    with SumoTwin.start(scenario) as twin:
        tl = twin.signal_ids()[0]
        state = twin.read_signal_states()[tl]
        with pytest.raises(TypeError, match="ApprovedCommand"):
            twin.apply(SignalCommand(tl, state, 0.0))  # type: ignore[arg-type]

        all_red = "r" * len(state)

        class LooksApproved:  # duck typing must not get through either
            signal_id, state, time_s, source = tl, all_red, 0.0, "x"

        with pytest.raises(TypeError):
            twin.apply(LooksApproved())  # type: ignore[arg-type]
        assert twin.read_signal_states()[tl] == state


def _guard(net):
    from clearway.signals.build import build_intersections

    return SafetyGuard(build_intersections(net))


@pytest.mark.parametrize("backend", BACKENDS)
def test_applied_state_is_held_until_changed(scenario, net, backend):
    guard = _guard(net)
    with SumoTwin.start(scenario, backend=backend) as twin:
        twin.advance(10)
        tl = twin.signal_ids()[0]
        now = twin.now_s()
        shown = twin.read_signal_states()[tl]
        timers = SignalTimers.start(tl, shown, now)
        verdict = guard.check(SignalCommand(tl, shown, now, source="test"), timers)
        assert verdict.ok, verdict.reasons
        twin.apply(verdict.approved)
        assert twin.read_signal_states()[tl] == shown
        history: dict[str, set[str]] = {t: set() for t in twin.signal_ids()}
        twin.add_step_listener(lambda _t, s: [history[k].add(v) for k, v in s.items()])
        twin.advance(60)
        # The program of every other signal moved on (42 s greens); the held one did not.
        assert history[tl] == {shown}
        assert all(len(v) > 1 for k, v in history.items() if k != tl)


def test_apply_checks_signal_and_length(scenario, net):
    from clearway.signals.safety.commands import _approve  # test-only back door

    with SumoTwin.start(scenario) as twin:
        tl = twin.signal_ids()[0]
        with pytest.raises(UnknownSignalError):
            twin.apply(_approve(SignalCommand("nope", "r", 0.0)))
        with pytest.raises(SimulationError, match="links"):
            twin.apply(_approve(SignalCommand(tl, "r", 0.0)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_tripinfo_is_written_and_read(scenario, backend, tmp_path):
    stats = _run(scenario, backend, tmp_path / "trips.xml")
    assert stats.vehicles > 0 and stats.departed > 0 and stats.arrived > 0
    assert stats.vehicles == stats.departed + stats.undeparted
    assert stats.mean_time_loss_s > 0
    assert stats.p95_time_loss_s >= stats.mean_time_loss_s


def test_same_seed_same_result_different_seed_differs(scenario, cache, tmp_path):
    a = _run(scenario, "libsumo", tmp_path / "a.xml")
    b = _run(scenario, "libsumo", tmp_path / "b.xml")
    c = _run(scenario, "traci", tmp_path / "c.xml")
    assert a == b == c  # same seed: identical, whichever backend
    other = grid_scenario(cache, "3x3", seed=2, end_s=600, load="moderate")
    d = _run(other, "libsumo", tmp_path / "d.xml")
    assert d != a


def test_one_libsumo_simulation_at_a_time(scenario):
    first = SumoTwin.start(scenario)
    try:
        with pytest.raises(SimulationError, match="already running"):
            SumoTwin.start(scenario)
        # TraCI runs SUMO in its own process, so it may run alongside.
        with SumoTwin.start(scenario, backend="traci") as other:
            other.advance(5)
        first.advance(5)
    finally:
        first.close()
    with SumoTwin.start(scenario) as again:  # free again after close
        again.advance(1)
        assert again.now_s() == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_close_is_idempotent_and_final(scenario, backend):
    twin = SumoTwin.start(scenario, backend=backend)
    twin.close()
    twin.close()
    assert twin.closed and not twin.running
    with pytest.raises(SimulationError, match="closed"):
        twin.advance(1)
    with pytest.raises(SimulationError, match="closed"):
        twin.read_signal_states()


def test_running_ends_at_end_time(cache):
    short = grid_scenario(cache, "2x2", seed=0, end_s=30, load="light")
    with SumoTwin.start(short) as twin:
        assert twin.running
        while twin.running:
            twin.advance(1)
        assert twin.now_s() == 30.0
        assert twin.teleports == 0


def test_start_fails_clearly_on_missing_inputs(scenario, tmp_path):
    from dataclasses import replace

    broken = replace(scenario, route_files=(tmp_path / "gone.rou.xml",))
    for backend in BACKENDS:
        with pytest.raises(SimulationError, match="missing input"):
            SumoTwin.start(broken, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sumo_errors_become_simulation_errors(scenario, backend, tmp_path):
    with pytest.raises(SimulationError, match="could not start") as err:
        SumoTwin.start(
            scenario,
            backend=backend,
            log_path=tmp_path / "sumo.log",
            extra_args=["--no-such-option", "1"],
        )
    # libsumo prints SUMO's own words to this process' stderr; TraCI quotes them.
    assert "command" in str(err.value) or "no-such-option" in str(err.value)
    if backend == "traci":
        assert "no-such-option" in str(err.value)
    with SumoTwin.start(scenario, backend=backend) as twin:  # nothing left half-open
        twin.advance(1)
