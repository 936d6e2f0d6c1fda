"""Property tests of priority control, judged by the independent oracle (never by the guard).

(a) Arbitration on real junction models: random claims (random link subsets and real
    movements, importances, ETAs) — granted claims never share a conflicting pair of links,
    a claim is told to wait only when it really clashes with one granted before it, and the
    state serving the granted claims shows no conflicting greens and is reached by oracle-safe
    steps.
(b) Every hold ends: a priority vehicle whose position updates stop at a random moment has its
    request expire after ``lease_s`` (or complete, when it was last seen on its last edge);
    the hold ends at once and the signals are back under the normal controller within the
    recovery bound; every state shown was oracle-safe.
(c) Two vehicles on crossing routes through one junction: the states shown never give both of
    them green on their conflicting movements, the junction is never granted to both while
    both still have it ahead, every state shown is oracle-safe, and both get through.

``PRIO_EXAMPLES=500`` runs every property with that many examples (a deeper search).
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clearway.control.priority.arbitration import Claim, arbitrate, claim_links, priority_state
from clearway.control.priority.policies import CorridorPreemption, LocalPreemption
from clearway.control.priority.request import JunctionStatus, PriorityRequestSpec, RequestState
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import step_toward
from tests.fakes.networks import netgenerate_grid
from tests.fakes.priority import DrivenVehicle, PriorityRun

from .conftest import NetCase, load_case
from .oracle import GREEN, History, judge, replay

pytestmark = pytest.mark.sumo
GRANTED = JunctionStatus.GRANTED

FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(n: int) -> settings:
    return settings(FAST, max_examples=int(os.environ.get("PRIO_EXAMPLES", n)))


class Named:
    """A NetCase that hypothesis reports by its name, not by the whole network."""

    def __init__(self, case: NetCase) -> None:
        self.case = case

    def __repr__(self) -> str:
        return f"<{self.case.name}>"


@pytest.fixture(scope="session")
def named_case(net_case: NetCase) -> Named:
    """``net_case`` (the grid and the real nets of conftest), reported by name."""
    return Named(net_case)


# -- (a) arbitration -------------------------------------------------------------------------
def oracle_clash(sig, a, b) -> bool:
    return any(i != j and (i, j) in sig.foe for i in a for j in b)


@examples(60)
@given(data=st.data())
def test_arbitration_never_grants_conflicting_claims(named_case: Named, data) -> None:
    case = named_case.case
    sid = data.draw(st.sampled_from(case.signal_ids), label="signal")
    sig, model = case.oracles[sid], case.models[sid]
    usable = [i for i in range(sig.n) if i not in sig.fixed_off and sig.driven[i]]
    moves = sorted(
        {(lk.from_edge, lk.to_edge) for lk in case.net.signal_links(sid) if not lk.is_crossing}
    )
    claims: list[Claim] = []
    cores: dict[str, frozenset[int]] = {}
    for k in range(data.draw(st.integers(1, 6), label="claims")):
        rid = f"r{k}"
        if moves and data.draw(st.booleans(), label="a real movement?"):
            a, b = data.draw(st.sampled_from(moves), label="movement")
            core, links = claim_links(case.net, sid, a, b)
        else:
            links = frozenset(
                data.draw(st.lists(st.sampled_from(usable), min_size=1, max_size=5), label="links")
            )
            core = frozenset({data.draw(st.sampled_from(sorted(links)), label="core")})
        if not links:
            continue
        importance = data.draw(st.integers(0, 15), label="importance")
        eta = data.draw(st.floats(0.0, 120.0, allow_nan=False), label="eta")
        claims.append(Claim(rid, sid, links, importance, eta))
        cores[rid] = core
    if not claims:
        return
    verdict = arbitrate(model, claims)
    assert set(verdict) == {c.request_id for c in claims}
    order = sorted(claims, key=lambda c: (-c.importance, c.eta_s, c.request_id))
    granted = [c for c in order if verdict[c.request_id] is JunctionStatus.GRANTED]
    assert granted and granted[0] is order[0], "the first claim in order must be granted"
    for x in granted:
        for y in granted:
            if x is not y:
                assert not oracle_clash(sig, x.links, y.links), (sid, x, y)
    for pos, c in enumerate(order):
        if verdict[c.request_id] is not JunctionStatus.GRANTED:
            assert verdict[c.request_id] is JunctionStatus.WATCH_OTHER_TRAFFIC
            ahead = [g for g in granted if order.index(g) < pos]
            assert any(oracle_clash(sig, c.links, g.links) for g in ahead), (
                f"{c.request_id} told to wait without a clash with any claim granted before it"
            )

    # The state serving the granted claims, from a state the junction may show.
    currents = [s for s in case.phase_states(sid) if not sig.r1_pairs(s)]
    current = data.draw(st.sampled_from(currents), label="current")
    union = frozenset().union(*(c.links for c in granted))
    core = frozenset().union(*(cores[c.request_id] for c in granted))
    target = priority_state(model, union, current, core=core)
    assert len(target) == sig.n
    assert not sig.r1_pairs(target), (sid, current, target, sorted(union), sorted(core))
    assert all(target[i] == "G" for i in core), (sid, target, sorted(core))
    for i, c in enumerate(target):
        if i in sig.fixed_off:
            assert c == current[i]
        elif c in GREEN and i not in union:
            assert current[i] in GREEN, f"link {i} turned green for no claim: {target}"

    # ... and the junction gets there by steps the oracle finds safe.
    t = 100.0
    timers = SignalTimers.start(sid, current, 0.0).observe(current, t)
    hist = History.start(current, 0.0).observe(current, t)
    bound = max(sig.min_green_s) + max(sig.yellow_s) + max(sig.clearance_s) + 3.0
    while timers.state != target:
        t += 1.0
        assert t - 100.0 <= bound, f"{sid}: {target!r} not reached from {current!r}"
        timers, hist = timers.observe(timers.state, t), hist.observe(hist.state, t)
        nxt = step_toward(model, timers, target, t)
        codes = judge(sig, hist, nxt, t, max_age_s=None)
        assert not codes, (sid, hist.state, nxt, codes)
        timers, hist = timers.observe(nxt, t), hist.observe(nxt, t)


# -- a 4 x 4 grid with its oracle, for the runs ----------------------------------------------
@pytest.fixture(scope="module")
def grid4(tmp_path_factory) -> Named:
    path = netgenerate_grid(tmp_path_factory.mktemp("prio_props") / "grid4.net.xml", 4)
    return Named(load_case("grid4", str(path)))


ROUTES = {
    "east": ("A1B1", "B1C1", "C1D1", "D1D2"),
    "north": ("B0B1", "B1B2", "B2B3"),
    "turning": ("A2B2", "B2B1", "B1C1", "C1C0"),
    "west": ("D2C2", "C2B2", "B2A2"),
}


def spec(vid, route, **kw) -> PriorityRequestSpec:
    return PriorityRequestSpec(
        requester_id=vid, role="ambulance", importance=kw.pop("importance", 12),
        incident_id="INC-1", route=route, **kw,
    )  # fmt: skip


def assert_shown_states_safe(case: NetCase, run: PriorityRun) -> None:
    for sid, changes in run.fake.shown.items():
        bad = replay(case.oracles[sid], changes)
        assert not bad, f"{sid}: the oracle finds shown states unsafe: {bad[:3]}"


def recovery_bound_s(case: NetCase, sid: str) -> float:
    """Every phase of the program once, each after a full transition, plus two ticks each."""
    sig = case.oracles[sid]
    program = case.net.traffic_lights[sid].default_program
    change = max(sig.min_green_s) + max(sig.yellow_s) + max(sig.clearance_s) + 2.0
    return sum(p.duration_s + change for p in program.phases)


# -- (b) every hold ends ---------------------------------------------------------------------
@examples(30)
@given(data=st.data())
def test_every_hold_ends_when_the_position_updates_stop(grid4: Named, data) -> None:
    case = grid4.case
    policy = data.draw(st.sampled_from([CorridorPreemption(), LocalPreemption()]), label="policy")
    route = ROUTES[data.draw(st.sampled_from(sorted(ROUTES)), label="route")]
    lease = data.draw(st.sampled_from([3.0, 8.0, 15.0, 30.0]), label="lease_s")
    run = PriorityRun(case.net, case.models, policy, hold_max_s=120.0)
    run.run(data.draw(st.integers(0, 45), label="warm-up"))
    run.ctrl.submit(spec("AMB-1", route, lease_s=lease), run.now_s)
    v = DrivenVehicle(
        case.net, route,
        speed_mps=data.draw(st.floats(6.0, 20.0), label="speed"),
        start_offset_m=data.draw(st.floats(0.0, 150.0), label="start offset"),
    )  # fmt: skip
    run.add_vehicle("AMB-1", v)
    # random speed changes (stops included), then the updates stop
    schedule = data.draw(
        st.lists(
            st.tuples(st.integers(0, 40), st.sampled_from([0.0, 3.0, 10.0, 15.0])), max_size=3
        ),
        label="speed changes",
    )
    # the updates stop somewhere before the last junction of the route, mostly
    to_last_s = (v.crossings[-1].stop_s - v.s) / v.cruise_mps
    share = data.draw(st.floats(0.05, 1.2), label="updates stop after (share of the trip)")
    silent_after = max(1, math.ceil(share * to_last_s))
    t0 = run.now_s
    run.feed.silent_from_s["AMB-1"] = t0 + silent_after
    ever_held: set[str] = set()
    while run.now_s < t0 + silent_after:
        for at, speed in schedule:
            if run.now_s == t0 + at:
                v.cruise_mps = speed
        run.step()
        ever_held |= run.ctrl.held
    req = next(iter(run.ctrl.requests.values()))
    if v.arrived or req.state.is_final:
        event("arrived before the feed stopped")
        return  # it got there before its feed stopped: no lease to test
    expires = req.last_heard_s + lease
    held_before_end = run.ctrl.held
    # Silent from now on: the request ends by its lease — expired, or completed at once when
    # the vehicle was last seen on the last edge of its route (gone from the feed there).
    while run.now_s < expires and not req.state.is_final:
        held_before_end = run.ctrl.held
        run.step()
        ever_held |= run.ctrl.held
        req = run.ctrl.request(req.request_id)
    if not req.state.is_final:
        assert req.state is RequestState.ACTIVE
        held_before_end = run.ctrl.held
        run.step()  # the tick at (or just after) the lease's end
        req = run.ctrl.request(req.request_id)
    assert req.state in (RequestState.EXPIRED, RequestState.COMPLETED), req.history[-1]
    event(f"{req.state.value}; a signal held until then: {bool(held_before_end)}")
    t_expired = req.history[-1][0]
    if req.state is RequestState.EXPIRED:
        assert expires <= t_expired < expires + 1.0 + 1e-9, (expires, req.history[-1])
    else:
        assert req.position is not None and req.history[-1][0] == req.position.time_s + 1.0
    # the hold ends at once: the signals go through yellow and clearance from here
    assert run.ctrl.held == frozenset(), run.ctrl.held
    bound = max((recovery_bound_s(case, sid) for sid in ever_held), default=0.0)
    run.run(math.ceil(bound) + 2.0)
    assert run.ctrl.held == frozenset()
    records = {r.signal_id: r for r in run.ctrl.recoveries}
    assert ever_held <= set(records), (ever_held, set(records))
    for sid in ever_held:
        rec = records[sid]
        assert rec.recovered_s is not None and rec.recovered_s - t_expired <= bound, rec
        # and fixed-time runs it again
        late = {
            c.source for c in run.fake.applied if c.signal_id == sid and c.time_s > rec.recovered_s
        }
        assert late <= {"fixed-time"}, (sid, late)
    assert_shown_states_safe(case, run)
    assert run.loop.stats.rejected == 0


# -- (c) two vehicles, crossing routes -------------------------------------------------------
@examples(25)
@given(data=st.data())
def test_crossing_vehicles_never_both_get_green_on_conflicting_movements(grid4: Named, data):
    case = grid4.case
    policy = data.draw(st.sampled_from([CorridorPreemption(), LocalPreemption()]), label="policy")
    run = PriorityRun(case.net, case.models, policy)
    run.run(data.draw(st.integers(0, 45), label="warm-up"))
    vehicles = {}
    for vid, route in (("EAST", ROUTES["east"]), ("NORTH", ROUTES["north"])):
        importance = data.draw(st.integers(0, 15), label=f"{vid} importance")
        run.ctrl.submit(spec(vid, route, importance=importance), run.now_s)
        v = DrivenVehicle(
            case.net, route,
            speed_mps=data.draw(st.floats(8.0, 16.0), label=f"{vid} speed"),
            start_offset_m=data.draw(st.floats(0.0, 170.0), label=f"{vid} start"),
        )  # fmt: skip
        run.add_vehicle(vid, v)
        vehicles[vid] = v
    (east,) = [c for c in vehicles["EAST"].crossings if c.junction_id == "B1"]
    (north,) = [c for c in vehicles["NORTH"].crossings if c.junction_id == "B1"]
    sig = case.oracles["B1"]
    assert oracle_clash(sig, east.core, north.core), "test bug: the movements do not cross"
    rids = list(run.ctrl.requests)
    end = run.now_s + 400.0
    while run.now_s < end and not all(v.arrived for v in vehicles.values()):
        run.step()
        # while both still have B1 ahead, arbitration never grants it to both
        if all(
            v.arrival("B1") is None or v.arrival("B1").left_s is None for v in vehicles.values()
        ):
            granted = [r for r in rids if run.ctrl.request(r).junctions.get("B1") is GRANTED]
            assert len(granted) <= 1, f"t={run.now_s}: B1 granted to {granted}"
    done = all(v.arrived for v in vehicles.values())
    run.run(5.0)
    for t, states in run.fake.history:
        s = states["B1"]
        both = [(i, j) for i in east.core for j in north.core
                if s[i] in GREEN and s[j] in GREEN and (i, j) in sig.foe]  # fmt: skip
        assert not both, f"t={t}: B1 shows {s!r}: both vehicles green on foes {both}"
    assert_shown_states_safe(case, run)
    assert run.loop.stats.rejected == 0
    assert done, {vid: (v.s, v.length_m, v.stops) for vid, v in vehicles.items()}
    event("a vehicle waited at B1" if any(v.arrival("B1").stopped for v in vehicles.values())
          else "nobody waited at B1")  # fmt: skip
    # both went through B1 (a vehicle only leaves a stop line on a green of its movement)
    for v in vehicles.values():
        arr = v.arrival("B1")
        assert arr is not None and arr.left_s is not None
