"""The preemption controller in the control loop, driven by fakes: a priority vehicle driven
along its route against the states fake signals show, a fake feed and clock, the real safety
guard and the intersection models of a generated grid (no SUMO run)."""

from __future__ import annotations

import pytest

from clearway.control.priority.policies import CorridorPreemption, LocalPreemption, NoPriority
from clearway.control.priority.recovery import recovery_durations_s
from clearway.control.priority.request import (
    EdgePlace,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
)
from clearway.network import load_network
from clearway.signals.build import build_intersections
from clearway.signals.programs import safe_phase_states
from tests.fakes.networks import netgenerate_grid
from tests.fakes.priority import GREEN, DrivenVehicle, PriorityRun

#: East along row 1 of a 4 x 4 grid: through B1, C1 and D1, ending north of D1.
ROUTE = ("A1B1", "B1C1", "C1D1", "D1D2")
WARMUP_S = 30.0


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = netgenerate_grid(tmp_path_factory.mktemp("preempt") / "grid.net.xml", 4)
    net = load_network(out)
    return net, build_intersections(net)


def spec(rid="AMB-1", route=ROUTE, **kw) -> PriorityRequestSpec:
    return PriorityRequestSpec(
        requester_id=rid, role="ambulance", importance=12, incident_id="INC-1", route=route, **kw
    )


def start(grid, policy, *, vehicle_kw=None, hold_max_s=120.0, spec_kw=None, normal="fixed-time"):
    """Normal control for WARMUP_S, then a request and its vehicle at the start of ROUTE."""
    net, models = grid
    run = PriorityRun(net, models, policy, hold_max_s=hold_max_s, normal=normal)
    run.run(WARMUP_S)
    req = run.ctrl.submit(spec(**(spec_kw or {})), run.now_s)
    vehicle = DrivenVehicle(net, ROUTE, **(vehicle_kw or {}))
    run.add_vehicle("AMB-1", vehicle)
    return run, vehicle, req.request_id


def sources(run, sid, t0=float("-inf"), t1=float("inf")):
    return {c.source for c in run.fake.applied if c.signal_id == sid and t0 <= c.time_s < t1}


# -- corridor --------------------------------------------------------------------------------
def test_corridor_gives_green_by_the_arrival_at_every_junction_and_ends_the_hold_after(grid):
    run, v, rid = start(grid, CorridorPreemption())
    assert run.run_until(lambda: v.arrived, 200.0)
    run.run(5.0)
    assert v.stops == 0
    assert [a.crossing.junction_id for a in v.arrivals] == ["B1", "C1", "D1"]
    for arr in v.arrivals:
        sid, core = arr.crossing.signal_id, arr.crossing.core
        assert all(arr.shown[i] in GREEN for i in core), (sid, arr.reached_s, arr.shown)
        spans = run.held_spans(sid)
        # A junction whose own program is green for the vehicle when it needs it is left
        # alone; one that is held is held once.
        assert len(spans) <= 1, (sid, spans)
        if not spans:
            continue
        first, last = spans[0]
        # held over the arrival: the green was the hold's doing, and kept until it passed
        assert first < arr.reached_s <= last + 1.0
        # ... and released within a few seconds of the vehicle crossing the stop line
        assert last <= arr.reached_s + 3.0, (sid, arr.reached_s, spans)
        # not held absurdly early either (the corridor starts green just in time)
        assert first >= arr.reached_s - 40.0, (sid, arr.reached_s, spans)
    assert run.held_spans("B1"), "the first junction is red for the vehicle and must be held"
    assert run.ctrl.request(rid).state is RequestState.COMPLETED
    assert run.loop.stats.rejected == 0


@pytest.mark.parametrize("policy", [CorridorPreemption(), LocalPreemption()], ids=lambda p: p.name)
def test_recovery_serves_the_cut_phases_then_fixed_time_takes_the_signal_back(grid, policy):
    net, models = grid
    run, v, rid = start(grid, policy)
    assert run.run_until(lambda: v.arrived, 200.0)
    run.run(300.0)
    records = {r.signal_id: r for r in run.ctrl.recoveries}
    held = {sid for sid in ("B1", "C1", "D1") if run.held_spans(sid)}
    assert "B1" in held and set(records) == held
    assert run.ctrl.held == frozenset()
    for sid, rec in records.items():
        program = net.traffic_lights[sid].default_program
        phases = safe_phase_states(models[sid], program)
        durations = [p.duration_s for p in program.phases]
        assert rec.request_ids == (rid,)
        assert rec.cut_phases, sid
        assert rec.time_to_recover_s is not None and rec.time_to_recover_s > 0
        assert rec.hold_start_s < rec.hold_end_s <= rec.recovered_s
        # Every phase greening a link the held signal showed red at its last held tick is owed;
        # every cut phase greens some link that was red at some time during the hold.
        during = [s for t, s in run.fake.shown[sid] if rec.hold_start_s <= t < rec.hold_end_s]
        during.insert(0, run.shown_at(sid, rec.hold_start_s))
        red_at_end = {i for i, c in enumerate(run.shown_at(sid, rec.hold_end_s - 1.0)) if c in "ru"}
        ever_red = {i for s in during for i, c in enumerate(s) if c in "ru"}
        for k, ph in enumerate(phases):
            greens = {i for i, c in enumerate(ph) if c in GREEN}
            if greens & red_at_end:
                assert k in rec.cut_phases, (sid, k, rec)
            if k in rec.cut_phases:
                assert greens & ever_red, (sid, k, rec)
        # The cut phases were shown, in their order, each at least for the minimum green of its
        # links (at most its programmed duration), between the end of the hold and the hand-back.
        owed = recovery_durations_s(models[sid], phases, program)
        assert all(o <= d for o, d in zip(owed, durations, strict=True))
        changes = [(t, s) for t, s in run.fake.shown[sid] if t <= rec.recovered_s]
        changes.append((rec.recovered_s, None))
        first_shown = []
        for k in rec.cut_phases:
            stints = [
                (a, b)
                for (a, s), (b, _) in zip(changes, changes[1:], strict=False)
                if s == phases[k] and a >= rec.hold_end_s
            ]
            assert stints and max(b - a for a, b in stints) >= owed[k], (sid, k, stints)
            greens = [i for i, c in enumerate(phases[k]) if c in GREEN]
            assert owed[k] >= max(models[sid].timings[i].min_green_s for i in greens)
            first_shown.append(stints[0][0])
        assert first_shown == sorted(first_shown), (sid, rec.cut_phases, first_shown)
        # Who commanded the signal: the priority controller from the hold to the hand-back,
        # fixed-time before and after, running its program again.
        assert sources(run, sid, rec.hold_start_s, rec.recovered_s) == {policy.name}
        assert sources(run, sid, rec.recovered_s + 1.0) == {"fixed-time"}
        after = {s for t, s in run.fake.shown[sid] if t > rec.recovered_s}
        assert set(phases) <= after, (sid, phases, after)
    assert run.loop.stats.rejected == 0


@pytest.mark.parametrize("add_at", [74.0, 80.0, 95.0])
@pytest.mark.parametrize("on_green", [True, False], ids=["on-green", "whenever"])
def test_corridor_hands_back_only_while_the_timetable_shows_a_green_phase(grid, add_at, on_green):
    """Fixed-time resynchronises after a hold (cycle: N-S 0-42 s, yellow, E-W 45-87 s,
    yellow). A vehicle dispatched at ``add_at`` s has one of its junctions' recovery end inside
    a yellow of the timetable (132-133 s); handed back then, fixed-time targets that yellow,
    which the recovered state cannot reach, and the junction shows no green for long. Handed
    back only while the timetable shows a green phase, it goes on at once."""
    net, models = grid
    run = PriorityRun(net, models, CorridorPreemption(hands_back_on_green=on_green))
    run.run(add_at)
    run.ctrl.submit(spec(), run.now_s)
    v = DrivenVehicle(net, ROUTE)
    run.add_vehicle("AMB-1", v)
    assert run.run_until(lambda: v.arrived, 200.0)
    run.run(150.0)
    program = net.traffic_lights["B1"].default_program
    durations = [p.duration_s for p in program.phases]
    starts = [sum(durations[:k]) for k in range(len(durations))]

    def scheduled(t: float) -> int:
        return max(k for k, a in enumerate(starts) if a <= t % sum(durations))

    stuck = []
    for rec in run.ctrl.recoveries:
        own = net.traffic_lights[rec.signal_id].default_program
        assert [p.duration_s for p in own.phases] == durations
        phases = safe_phase_states(models[rec.signal_id], own)
        in_yellow = any(c in "yY" for c in phases[scheduled(rec.recovered_s)])
        # A green shown within 15 s of the hand-back (the state shown then counts).
        shown = [(rec.recovered_s, run.shown_at(rec.signal_id, rec.recovered_s))]
        shown += [(t, s) for t, s in run.fake.shown[rec.signal_id] if t > rec.recovered_s]
        green = [t for t, s in shown if "G" in s and t <= rec.recovered_s + 15.0]
        if in_yellow or not green:
            stuck.append((rec.signal_id, rec.recovered_s, shown[:3]))
    assert (not stuck) == on_green, stuck
    assert run.loop.stats.rejected == 0


@pytest.mark.parametrize("add_at", [87.0, 88.0, 89.0])
def test_recovery_first_serves_the_phase_the_hold_kept_from_starting(grid, add_at):
    """Fixed-time at B1: E-W green 48-87 s, its yellow to 91 s, all red, then N-S (phase 0)
    from 92-93 s. A vehicle heading east triggers B1 at ``add_at + 4`` s: in the yellow, the
    all-red, or as N-S's right turns come on. Either way the hold keeps N-S (phase 0) from
    starting; recovery must give N-S its turn first, not E-W again (which just had 39 s and
    kept green during the hold): else N-S stays red for two E-W greens and a hold."""
    net, models = grid
    run = PriorityRun(net, models, LocalPreemption())
    run.run(add_at)
    run.ctrl.submit(spec(), run.now_s)
    v = DrivenVehicle(net, ROUTE, speed_mps=8.0, start_offset_m=2.0)
    run.add_vehicle("AMB-1", v)
    assert run.run_until(lambda: any(r.signal_id == "B1" for r in run.ctrl.recoveries), 300.0)
    (rec,) = [r for r in run.ctrl.recoveries if r.signal_id == "B1"]
    assert rec.hold_start_s == add_at + 4.0
    shown = [c for c in run.fake.shown["B1"] if 80.0 < c[0] <= 91.0]
    assert shown == [(87.0, "rrrrryyyyyrrrrryyyyy"), (91.0, "r" * 20)]  # as described above
    assert rec.cut_phases == (0, 2), rec
    assert run.loop.stats.rejected == 0


# -- none and local --------------------------------------------------------------------------
def test_none_follows_the_request_but_never_holds(grid):
    run, v, rid = start(grid, NoPriority())
    assert run.run_until(lambda: v.arrived, 300.0)
    run.run(5.0)
    assert all(not held for _, held in run.held)
    assert run.ctrl.recoveries == ()
    assert {c.source for c in run.fake.applied} <= {"takeover", "fixed-time"}
    assert run.ctrl.request(rid).state is RequestState.COMPLETED
    assert run.loop.stats.rejected == 0


@pytest.mark.parametrize("trigger_m", [150.0, 80.0])
def test_local_holds_a_junction_only_once_the_vehicle_is_within_the_trigger_distance(
    grid, trigger_m
):
    run, v, _ = start(grid, LocalPreemption(trigger_m=trigger_m))
    assert run.run_until(lambda: v.arrived, 300.0)
    run.run(5.0)
    pos = dict(run.trace)
    for c in v.crossings:
        held = run.held_times(c.signal_id)
        assert held, c.signal_id
        for t in held:
            # within the trigger distance, or already past the stop line (until released)
            assert c.stop_s - pos[t]["AMB-1"] <= trigger_m + 1e-6, (c.signal_id, t)
        # and it holds as soon as the vehicle is within it
        within = [
            t for t, p in run.trace if "AMB-1" in p and 0 <= c.stop_s - p["AMB-1"] <= trigger_m
        ]
        assert held[0] == within[0], (c.signal_id, held[0], within[0])
    assert run.loop.stats.rejected == 0


def test_corridor_holds_earlier_than_a_short_local_trigger(grid):
    """The corridor plans ahead; a local emitter with a short range is heard too late."""
    corridor, v1, _ = start(grid, CorridorPreemption())
    local, v2, _ = start(grid, LocalPreemption(trigger_m=40.0))
    for run, v in ((corridor, v1), (local, v2)):
        assert run.run_until(lambda v=v: v.arrived, 300.0)
    assert corridor.held_times("B1")[0] < local.held_times("B1")[0]
    assert v1.stops == 0 and v2.stops >= 1


# -- hold limits, cancel, a bad feed ---------------------------------------------------------
def park_before_b1(grid, policy, gap_m=30.0, **kw):
    """The vehicle stops ``gap_m`` before B1's stop line and stays there, reporting."""
    net, _ = grid
    length = net.edges["A1B1"].length_m
    run, v, rid = start(grid, policy, vehicle_kw={"start_offset_m": length - gap_m}, **kw)
    v.cruise_mps = 0.0
    v.speed_mps = 0.0
    return run, v, rid


@pytest.mark.parametrize("policy", [LocalPreemption(), CorridorPreemption()], ids=lambda p: p.name)
def test_a_hold_longer_than_hold_max_s_is_released(grid, policy):
    run, v, rid = park_before_b1(grid, policy, gap_m=10.0, hold_max_s=20.0)
    run.run(200.0)
    assert run.ctrl.request(rid).state is RequestState.ACTIVE  # still reporting
    spans = run.held_spans("B1")
    assert spans, "the vehicle at the stop line was never served"
    for first, last in spans:
        assert last - first <= 20.0 + 2.0, spans
    recs = [r for r in run.ctrl.recoveries if r.signal_id == "B1"]
    assert recs and recs[0].hold_end_s - recs[0].hold_start_s <= 22.0
    # released means served the others: a recovery ran before the next hold
    assert all(r.recovered_s is not None for r in recs)
    assert len(spans) == 1 or spans[1][0] >= recs[0].recovered_s
    assert run.loop.stats.rejected == 0


def test_hold_max_s_counts_for_each_request_not_from_an_earlier_hold(grid):
    """``hold_max_s`` is the longest a signal is held *for one request*. A second vehicle on
    the same route (a second unit sent to the same incident) reaches B1 while B1 still
    recovers from the first one's hold; its own hold must last until it has passed, not be
    cut at once because the first hold began more than ``hold_max_s`` ago."""
    net, _ = grid
    run, v1, _ = start(grid, CorridorPreemption(), hold_max_s=60.0)
    run.run(60.0)
    assert v1.arrival("B1") is not None and v1.stops == 0
    run.ctrl.submit(spec("AMB-2"), run.now_s)
    v2 = DrivenVehicle(net, ROUTE)
    run.add_vehicle("AMB-2", v2)
    assert run.run_until(lambda: v2.arrived, 300.0)
    reached = v2.arrival("B1").reached_s
    spans = [sp for sp in run.held_spans("B1") if sp[0] > v1.arrival("B1").reached_s]
    assert spans, "B1 was never held for the second vehicle"
    first, last = spans[0]
    assert last - first < 60.0  # far shorter than hold_max_s ...
    assert first < reached <= last + 1.0, (  # ... so it lasts until the vehicle has passed
        f"B1 held for the second vehicle over {spans[0]} only; it reached B1 at {reached:.1f}"
    )
    assert run.loop.stats.rejected == 0


@pytest.mark.parametrize("policy", [LocalPreemption(), CorridorPreemption()], ids=lambda p: p.name)
def test_cancel_releases_the_hold(grid, policy):
    run, v, rid = park_before_b1(grid, policy, gap_m=10.0)
    assert run.run_until(lambda: "B1" in run.ctrl.held, 30.0)
    run.run(3.0)
    assert "B1" in run.ctrl.held
    t_cancel = run.now_s
    run.ctrl.cancel(rid, t_cancel)
    run.step()
    assert "B1" not in run.ctrl.held
    assert run.ctrl.request(rid).state is RequestState.CANCELLED
    assert run.run_until(lambda: any(r.signal_id == "B1" for r in run.ctrl.recoveries), 300.0)
    (rec,) = [r for r in run.ctrl.recoveries if r.signal_id == "B1"]
    assert rec.request_ids == (rid,) and rec.hold_end_s == t_cancel
    assert not any(held for t, held in run.held if t > t_cancel)
    assert run.loop.stats.rejected == 0


def test_a_bad_position_feed_does_not_stop_the_control_loop(grid):
    """A position the book cannot place (an edge of another network) must not raise out of
    the tick: every junction of the city would stop being controlled. The request then lapses
    with its lease, and the held junction recovers."""
    run, v, rid = start(grid, LocalPreemption(), spec_kw={"lease_s": 10.0})
    assert run.run_until(lambda: "B1" in run.ctrl.held, 60.0)
    bad = PositionUpdate(time_s=0.0, place=EdgePlace(edge_id="no-such-edge"), speed_mps=10.0)
    v.cruise_mps = 0.0
    for _ in range(60):
        run.feed.extra = {"AMB-1": bad.model_copy(update={"time_s": run.now_s})}
        run.step()  # must not raise
    assert run.ctrl.request(rid).state is RequestState.EXPIRED
    assert "B1" not in run.ctrl.held
    assert run.loop.stats.ticks == len(run.held)
    assert run.loop.stats.rejected == 0


def test_the_guard_never_rejects_a_command_of_a_priority_run(grid):
    """Three vehicles on crossing routes (east through B1, north through B1, south through C1)
    at once, on every policy: every command the controller proposes passes the guard."""
    net, models = grid
    for policy in (NoPriority(), LocalPreemption(), CorridorPreemption()):
        run = PriorityRun(net, models, policy)
        run.run(17.0)
        routes = {
            "AMB-1": ROUTE,
            "FIRE-2": ("B0B1", "B1B2", "B2B3"),
            "POL-3": ("C3C2", "C2C1", "C1B1"),
        }
        for k, (vid, route) in enumerate(routes.items()):
            run.ctrl.submit(spec(vid, route=route), run.now_s)
            run.add_vehicle(vid, DrivenVehicle(net, route, start_offset_m=20.0 * k))
        assert run.run_until(lambda r=run: all(v.arrived for v in r.feed.vehicles.values()), 400.0)
        assert run.loop.stats.rejected == 0, (policy.name, run.loop.stats.rejections[:3])
        assert run.loop.stats.approved > 0


def test_the_corridor_works_on_top_of_max_pressure_and_hands_back_to_it(grid):
    run, v, rid = start(grid, CorridorPreemption(), normal="max-pressure")
    assert run.run_until(lambda: v.arrived, 200.0)
    run.run(120.0)
    assert v.stops == 0
    for arr in v.arrivals:
        assert all(arr.shown[i] in GREEN for i in arr.crossing.core), arr
    records = run.ctrl.recoveries
    assert records and run.ctrl.held == frozenset()
    for rec in records:
        assert sources(run, rec.signal_id, rec.recovered_s + 1.0) <= {"max-pressure"}
    assert run.ctrl.request(rid).state is RequestState.COMPLETED
    assert run.loop.stats.rejected == 0
