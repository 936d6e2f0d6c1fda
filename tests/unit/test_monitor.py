"""The independent safety monitor, on a hand-made junction (no simulator) and a real net file.

The hand-made junction ``C`` has one traffic light ``T`` driving four links:

=====  =====================  ===================================================
index  movement               right of way
=====  =====================  ===================================================
0      north -> south through foe of 1 and 2; yields to nobody
1      east -> west through   foe of 0; yields to nobody
2      south -> west left     foe of 0; yields to 0 (a permissive left turn)
3      west -> south right    no foes
=====  =====================  ===================================================

Timings: min green 5 s, yellow 3 s, clearance 2 s for every link.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from clearway.monitor import MAX_KEPT_VIOLATIONS, RULES, SafetyMonitor, Violation
from clearway.network.model import Junction, Link, Network, Phase, SignalProgram, TrafficLight
from clearway.signals.model import Intersection, LinkTimings, Relation

MONITOR_DIR = Path(__file__).resolve().parents[2] / "clearway" / "monitor"

MIN_GREEN_S, YELLOW_S, CLEARANCE_S = 5.0, 3.0, 2.0

#: The clean cycle of the light's own program: N-S with permissive left, then E-W.
CLEAN_PROGRAM = (
    (30.0, "GrgG"),
    (3.0, "yryG"),
    (2.0, "rrrG"),
    (30.0, "rGrG"),
    (3.0, "ryrG"),
    (2.0, "rrrG"),
)


def _bits(n: int, ones: Iterable[int]) -> str:
    """A SUMO request bit string of ``n`` links: the *last* character is link 0."""
    on = set(ones)
    return "".join("1" if j in on else "0" for j in reversed(range(n)))


def _link(index: int, direction: str) -> Link:
    return Link(
        junction_id="C",
        junction_index=index,
        from_lane=f"in{index}_0",
        to_lane=f"out{index}_0",
        via_lane=None,
        from_edge=f"in{index}",
        to_edge=f"out{index}",
        direction=direction,
        signal_id="T",
        signal_index=index,
        is_crossing=False,
        length_m=20.0,
        approach_speed_mps=13.9,
    )


def make_network(program: Iterable[tuple[float, str]] = CLEAN_PROGRAM) -> Network:
    """The four-link junction described in the module docstring, with ``program`` as its plan."""
    junction = Junction(
        id="C",
        type="traffic_light",
        x_m=0.0,
        y_m=0.0,
        shape=(),
        incoming_lanes=("in0_0", "in1_0", "in2_0", "in3_0"),
        foes=(_bits(4, {1, 2}), _bits(4, {0}), _bits(4, {0}), _bits(4, ())),
        response=(_bits(4, ()), _bits(4, ()), _bits(4, {0}), _bits(4, ())),
    )
    phases = tuple(Phase(duration_s=d, state=s) for d, s in program)
    tl = TrafficLight(
        id="T",
        junction_ids=("C",),
        link_count=4,
        programs={"0": SignalProgram("0", "static", 0.0, phases)},
        default_program_id="0",
    )
    return Network(
        source=None,
        junctions={"C": junction},
        edges={},
        lanes={},
        links=(_link(0, "s"), _link(1, "s"), _link(2, "l"), _link(3, "r")),
        traffic_lights={"T": tl},
        geo=None,
        bounds_m=(0.0, 0.0, 1.0, 1.0),
    )


def make_intersection(left_may_yield: bool = True) -> Intersection:
    """The guard's model of ``T`` (consistent with the net; the monitor only reads timings)."""
    foe, hard, yields = Relation.FOE, Relation.HARD, Relation.YIELDS
    # relation[i][j]: the left (2) may show a permissive green while 0 is green.
    rel_02 = foe if left_may_yield else foe | hard
    rel_20 = foe | yields if left_may_yield else foe | hard
    relation = (
        (0, foe | hard, rel_02, 0),
        (foe | hard, 0, 0, 0),
        (rel_20, 0, 0, 0),
        (0, 0, 0, 0),
    )
    timing = LinkTimings(MIN_GREEN_S, YELLOW_S, CLEARANCE_S)
    return Intersection(
        signal_id="T",
        junction_ids=("C",),
        relation=tuple(tuple(int(r) for r in row) for row in relation),
        timings=(timing,) * 4,
        is_crossing=(False,) * 4,
    )


def make_monitor(program: Iterable[tuple[float, str]] = CLEAN_PROGRAM) -> SafetyMonitor:
    return SafetyMonitor(make_network(program), {"T": make_intersection()})


def feed(monitor: SafetyMonitor, samples: Iterable[tuple[float, str]]) -> SafetyMonitor:
    for t, state in samples:
        monitor.observe(t, {"T": state})
    return monitor


def run_plan(
    plan: Iterable[tuple[float, str]], *, start_s: float = 0.0, step_s: float = 1.0
) -> list[tuple[float, str]]:
    """Samples every ``step_s`` of a sequence of (duration_s, state) phases."""
    samples = []
    t = start_s
    for duration_s, state in plan:
        end = t + duration_s
        while t < end - 1e-9:
            samples.append((t, state))
            t += step_s
    return samples


def rules_of(monitor: SafetyMonitor) -> list[tuple[str, tuple[int, ...]]]:
    return [(v.rule, v.links) for v in monitor.violations]


# -- a clean run ---------------------------------------------------------------------------


def test_clean_cycles_have_no_violations() -> None:
    monitor = feed(make_monitor(), run_plan(CLEAN_PROGRAM * 3))
    assert monitor.violation_count == 0, monitor.violations
    assert monitor.counts_by_rule() == dict.fromkeys(RULES, 0)


def test_clean_cycle_sampled_coarsely_and_repeatedly_still_clean() -> None:
    # Samples only at phase boundaries, each one observed twice (a listener called twice).
    samples = []
    t = 0.0
    for d, s in CLEAN_PROGRAM * 2:
        samples += [(t, s), (t, s)]
        t += d
    assert feed(make_monitor(), samples).violation_count == 0


# -- rule: conflict ------------------------------------------------------------------------


def test_two_protected_foes_green_is_a_conflict_counted_once_while_it_lasts() -> None:
    monitor = feed(make_monitor(), [(0.0, "GrrG"), (10.0, "GGrG"), (11.0, "GGrG"), (12.0, "GGrr")])
    assert rules_of(monitor).count(("conflict", (0, 1))) == 1
    assert monitor.counts_by_rule()["conflict"] == 1
    v = next(v for v in monitor.violations if v.rule == "conflict")
    assert v.time_s == 10.0 and v.signal_id == "T"


def test_conflict_that_ends_and_starts_again_counts_twice() -> None:
    samples = [(0.0, "GGrG"), (10.0, "GrrG"), (20.0, "GGrG")]
    monitor = feed(make_monitor(), samples)
    assert monitor.counts_by_rule()["conflict"] == 2


def test_conflict_in_first_sample_is_flagged() -> None:
    monitor = feed(make_monitor(), [(0.0, "GGrG")])
    assert rules_of(monitor) == [("conflict", (0, 1))]


def test_permissive_left_yielding_to_opposing_through_is_allowed() -> None:
    # 2 (g) yields to 0 and the program shows them green together: fine, also as "s".
    monitor = feed(make_monitor(), [(0.0, "GrgG"), (10.0, "GrsG"), (20.0, "grgG")])
    assert monitor.counts_by_rule()["conflict"] == 0


def test_permissive_green_that_does_not_yield_is_a_conflict() -> None:
    # 0 shows g, but it is 2 that yields to 0, not 0 to 2: both protected in effect.
    monitor = feed(make_monitor(), [(0.0, "gGrG")])
    assert rules_of(monitor) == [("conflict", (0, 1))]
    monitor = feed(make_monitor(), [(0.0, "grGG")])
    assert rules_of(monitor) == [("conflict", (0, 2))]


def test_left_turn_upgraded_to_protected_against_green_through_is_a_conflict() -> None:
    monitor = feed(make_monitor(), [(0.0, "GrgG"), (10.0, "GrGG")])
    assert ("conflict", (0, 2)) in rules_of(monitor)


def test_permissive_pair_never_green_together_in_programs_is_a_hard_conflict() -> None:
    # Same right of way, but the light's own program never lets 0 and 2 be green together.
    program = ((30.0, "GrrG"), (3.0, "yrrG"), (2.0, "rrrG"), (30.0, "rrGG"), (3.0, "rryG"))
    monitor = SafetyMonitor(make_network(program), {"T": make_intersection(left_may_yield=False)})
    feed(monitor, [(0.0, "GrgG")])
    assert rules_of(monitor) == [("conflict", (0, 2))]


def test_unrelated_links_never_conflict() -> None:
    # 1 and 2 and 3 share no conflict area.
    assert feed(make_monitor(), [(0.0, "rGGG")]).counts_by_rule()["conflict"] == 0


# -- rule: min green -----------------------------------------------------------------------


def test_green_cut_before_min_green() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (12.0, "yrrG")]
    monitor = feed(make_monitor(), samples)
    assert rules_of(monitor) == [("min-green", (0,))]
    assert "2.000 s" in monitor.violations[0].detail


def test_green_held_exactly_min_green_is_fine_within_tolerance() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (15.0 - 1e-9, "yrrG"), (18.0, "rrrG")]
    assert feed(make_monitor(), samples).violation_count == 0


def test_switching_between_green_kinds_does_not_restart_min_green() -> None:
    # 2 shows g for 3 s, then G for 3 s (0 is red meanwhile): 6 s of green in all.
    samples = [(0.0, "rrrr"), (10.0, "rrgr"), (13.0, "rrGr"), (16.0, "rryr"), (19.0, "rrrr")]
    assert feed(make_monitor(), samples).violation_count == 0


# -- rule: yellow --------------------------------------------------------------------------


def test_yellow_cut_short() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "yrrG"), (21.5, "rrrG")]
    monitor = feed(make_monitor(), samples)
    assert rules_of(monitor) == [("yellow", (0,))]
    assert "1.500 s" in monitor.violations[0].detail


def test_green_straight_to_red() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "rrrG")]
    assert rules_of(feed(make_monitor(), samples)) == [("yellow", (0,))]


def test_green_to_red_yellow_u_is_still_a_skipped_yellow() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "urrG")]
    assert rules_of(feed(make_monitor(), samples)) == [("yellow", (0,))]


def test_red_to_yellow() -> None:
    samples = [(0.0, "rrrr"), (10.0, "yrrr")]
    assert rules_of(feed(make_monitor(), samples)) == [("yellow", (0,))]


def test_yellow_back_to_green() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "yrrG"), (23.0, "GrrG")]
    monitor = feed(make_monitor(), samples)
    assert rules_of(monitor) == [("yellow", (0,))]
    assert "back to green" in monitor.violations[0].detail


def test_red_to_red_yellow_to_green_is_fine() -> None:
    samples = [(0.0, "rrrr"), (10.0, "urrr"), (11.0, "Grrr"), (20.0, "yrrr"), (23.0, "rrrr")]
    assert feed(make_monitor(), samples).violation_count == 0


# -- rule: clearance -----------------------------------------------------------------------


def test_clearance_cut() -> None:
    # 0 ends its yellow at 23 s; 1 (its foe) turns green 1 s later, clearance is 2 s.
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "yrrG"), (23.0, "rrrG"), (24.0, "rGrG")]
    monitor = feed(make_monitor(), samples)
    assert rules_of(monitor) == [("clearance", (1, 0))]
    assert "1.000 s" in monitor.violations[0].detail


def test_turning_green_while_foe_yellow() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "yrrG"), (21.0, "yGrG")]
    monitor = feed(make_monitor(), samples)
    assert rules_of(monitor) == [("clearance", (1, 0))]
    assert "yellow" in monitor.violations[0].detail


def test_turning_green_as_the_foe_turns_red_in_the_same_sample() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "yrrG"), (23.0, "rGrG")]
    assert rules_of(feed(make_monitor(), samples)) == [("clearance", (1, 0))]


def test_permissive_green_upgraded_to_protected_needs_clearance_of_the_foe() -> None:
    # 0 leaves at 23 s; the left 2 goes g -> G 1 s later: vehicles of 0 may still be inside.
    samples = [
        (0.0, "rrrr"),
        (10.0, "GrgG"),
        (20.0, "yrgG"),
        (23.0, "rrgG"),
        (24.0, "rrGG"),
    ]
    assert rules_of(feed(make_monitor(), samples)) == [("clearance", (2, 0))]


def test_permissive_green_may_start_while_the_foe_it_yields_to_clears() -> None:
    samples = [(0.0, "rrrr"), (10.0, "GrrG"), (20.0, "yrrG"), (23.0, "rrrG"), (23.5, "rrgG")]
    assert feed(make_monitor(), samples).violation_count == 0


def test_green_a_permissive_foe_yields_to_need_not_wait_for_it_to_clear() -> None:
    # 2 (g) ends at 23 s; 0 turns green 1 s later: left-turners still inside yield to 0.
    samples = [(0.0, "rrrr"), (10.0, "rrgr"), (20.0, "rryr"), (23.0, "rrrr"), (24.0, "Grrr")]
    assert feed(make_monitor(), samples).violation_count == 0


@pytest.mark.parametrize("greens", [("G",), ("g", "G"), ("G", "g")])
def test_green_must_wait_for_a_foe_that_was_protected_to_clear(greens: tuple[str, ...]) -> None:
    # Any G during 2's last green makes it protected: its vehicles need their clearance.
    samples = [(0.0, "rrrr")]
    t = 10.0
    for c in greens:
        samples.append((t, f"rr{c}r"))
        t += 5.0
    samples += [(t, "rryr"), (t + 3.0, "rrrr"), (t + 4.0, "Grrr")]
    assert rules_of(feed(make_monitor(), samples)) == [("clearance", (0, 2))]


def test_through_may_not_start_as_the_opposing_protected_left_goes_permissive() -> None:
    samples = [(0.0, "rrrr"), (10.0, "rrGG"), (20.0, "GrgG")]
    assert rules_of(feed(make_monitor(), samples)) == [("clearance", (0, 2))]


@pytest.mark.parametrize("gap_s, flagged", [(4.9, True), (5.0, False)])
def test_through_waits_yellow_plus_clearance_after_the_left_goes_permissive(
    gap_s: float, flagged: bool
) -> None:
    samples = [(0.0, "rrrr"), (10.0, "rrGG"), (20.0, "rrgG"), (20.0 + gap_s, "GrgG")]
    assert bool(feed(make_monitor(), samples).violation_count) is flagged


# -- first sample --------------------------------------------------------------------------


def test_first_sample_green_counts_from_then() -> None:
    monitor = feed(make_monitor(), [(100.0, "GrgG"), (102.0, "yryG")])
    assert sorted(rules_of(monitor)) == [("min-green", (0,)), ("min-green", (2,))]


def test_first_sample_yellow_counts_from_then() -> None:
    monitor = feed(make_monitor(), [(100.0, "yrrG"), (101.0, "rrrG")])
    assert rules_of(monitor) == [("yellow", (0,))]


def test_first_sample_red_counts_from_then() -> None:
    monitor = feed(make_monitor(), [(100.0, "rrrG"), (101.0, "GrrG")])
    # 1 and 2 count as red for 1 s only; 2's last green is unknown, so assumed protected.
    assert sorted(rules_of(monitor)) == [("clearance", (0, 1)), ("clearance", (0, 2))]
    monitor = feed(make_monitor(), [(100.0, "rrrG"), (102.0, "GrrG")])
    assert monitor.violation_count == 0


def test_first_sample_unknown_green_kind_is_assumed_protected() -> None:
    # 2 is red at the first sample, so its last green is unknown: assumed G, and 0 (which does
    # not yield) must wait for its clearance even though 2 is only ever permissive.
    monitor = feed(make_monitor(), [(0.0, "rrrr"), (1.0, "Grrr")])
    assert ("clearance", (0, 2)) in rules_of(monitor)


# -- malformed -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["GrG", "GrgGr", "GrxG", "", "G r "])
def test_malformed_state_is_a_violation_and_history_is_kept(state: str) -> None:
    monitor = feed(make_monitor(), [(0.0, "GrrG"), (10.0, state), (20.0, "yrrG"), (23.0, "rrrG")])
    assert rules_of(monitor) == [("malformed", ())]
    assert monitor.violations[0].time_s == 10.0


def test_malformed_first_sample_then_good_one_starts_history() -> None:
    monitor = feed(make_monitor(), [(0.0, "Gx"), (1.0, "GrrG")])
    assert rules_of(monitor) == [("malformed", ())]


def test_unknown_signal_is_malformed() -> None:
    monitor = make_monitor()
    monitor.observe(0.0, {"T": "GrrG", "nope": "GG"})
    assert rules_of(monitor) == [("malformed", ())]
    assert monitor.violations[0].signal_id == "nope"


def test_time_running_backwards_is_malformed_and_ignored() -> None:
    monitor = feed(make_monitor(), [(10.0, "GrrG"), (5.0, "yrrG"), (16.0, "yrrG"), (19.0, "rrrG")])
    assert rules_of(monitor) == [("malformed", ())]


def test_non_finite_time_is_malformed() -> None:
    monitor = make_monitor()
    monitor.observe(float("nan"), {"T": "GrrG"})
    assert rules_of(monitor) == [("malformed", ())]


def test_signal_missing_from_a_sample_keeps_its_history() -> None:
    monitor = make_monitor()
    monitor.observe(0.0, {"T": "rrrr"})
    monitor.observe(10.0, {"T": "GrrG"})
    monitor.observe(11.0, {})
    monitor.observe(20.0, {"T": "yrrG"})
    monitor.observe(23.0, {"T": "rrrG"})
    assert monitor.violation_count == 0


# -- bookkeeping and construction ----------------------------------------------------------


def test_records_are_capped_but_the_count_is_exact() -> None:
    monitor = make_monitor()
    n = MAX_KEPT_VIOLATIONS + 50
    for k in range(n):
        monitor.observe(float(k), {"T": "??"})
    assert monitor.violation_count == n
    assert len(monitor.violations) == MAX_KEPT_VIOLATIONS
    assert monitor.counts_by_rule()["malformed"] == n
    assert isinstance(monitor.violations[0], Violation)


def test_violation_is_frozen() -> None:
    v = Violation(1.0, "T", "conflict", (0, 1), "x")
    with pytest.raises(AttributeError):
        v.rule = "yellow"  # type: ignore[misc]


def test_timings_of_the_wrong_length_are_refused() -> None:
    from clearway.errors import ConfigError

    good = make_intersection()
    three = tuple(row[:3] for row in good.relation[:3])
    bad = Intersection("T", ("C",), three, good.timings[:3], good.is_crossing[:3])
    with pytest.raises(ConfigError, match="4 links"):
        SafetyMonitor(make_network(), {"T": bad})
    with pytest.raises(ConfigError, match="keyed"):
        SafetyMonitor(
            make_network(),
            {"T": Intersection("X", ("C",), good.relation, good.timings, good.is_crossing)},
        )


def test_unknown_traffic_light_is_refused() -> None:
    from clearway.errors import UnknownSignalError

    good = make_intersection()
    other = Intersection("X", ("C",), good.relation, good.timings, good.is_crossing)
    with pytest.raises(UnknownSignalError):
        SafetyMonitor(make_network(), {"X": other})


def test_monitor_ignores_the_guards_relation_matrix() -> None:
    # A guard model that (wrongly) says nothing conflicts must not blind the monitor.
    good = make_intersection()
    blind = Intersection(
        "T", ("C",), tuple((0,) * 4 for _ in range(4)), good.timings, good.is_crossing
    )
    monitor = SafetyMonitor(make_network(), {"T": blind})
    monitor.observe(0.0, {"T": "GGrG"})
    assert rules_of(monitor) == [("conflict", (0, 1))]


# -- independence from the guard -----------------------------------------------------------

FORBIDDEN = (
    "clearway.signals.safety",
    "clearway.signals.transition",
    "clearway.signals.timers",
    "clearway.signals.build",
    "clearway.control",
)


def test_monitor_source_imports_nothing_of_the_guard() -> None:
    imported: set[str] = set()
    sources = sorted(MONITOR_DIR.glob("*.py"))
    assert sources
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        for node in ast.walk(tree):
            # Not even through the intersection model: the monitor re-derives conflicts.
            if isinstance(node, ast.Attribute):
                assert node.attr not in {
                    "compatible",
                    "conflicting_greens",
                    "foes_of",
                    "relation",
                }, f"{path.name} uses Intersection.{node.attr}"
    bad = sorted(m for m in imported if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert not bad, f"the monitor imports {bad}"


def test_importing_the_monitor_loads_no_guard_module() -> None:
    code = (
        "import sys, clearway.monitor\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('clearway')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "clearway.monitor" in out
    loaded = [m for m in out if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not loaded, f"importing clearway.monitor loads {loaded}"


# -- a real network ------------------------------------------------------------------------


def _real_net_path() -> Path:
    sumo = pytest.importorskip("sumo", reason="the eclipse-sumo wheel (net files) is not installed")
    path = Path(sumo.SUMO_HOME) / "tools" / "game" / "fokr_bs_demo" / "fokr_bs.net.xml.gz"
    if not path.is_file():
        pytest.skip(f"example network not shipped with this SUMO: {path}")
    return path


def test_real_network_programs_never_show_conflicting_greens() -> None:
    try:
        from clearway.network import load_network
    except ImportError as exc:  # another engineer's loader may not exist yet
        pytest.skip(f"clearway.network.load_network is not available yet: {exc}")
    try:
        from clearway.signals.build import build_intersections
    except ImportError as exc:
        pytest.skip(f"clearway.signals.build is not available yet: {exc}")

    net = load_network(_real_net_path())
    intersections = build_intersections(net)
    assert intersections, "the example network should have traffic lights"
    monitor = SafetyMonitor(net, intersections)
    # Play every program of every light for two cycles, sampling each phase at its start
    # and every second through it (the raw programs may lack all-red, so only conflicts count).
    for program_rank in range(max(len(tl.programs) for tl in net.traffic_lights.values())):
        t = 10_000.0 * program_rank
        plans = {}
        for tl_id, tl in net.traffic_lights.items():
            programs = list(tl.programs.values())
            plans[tl_id] = programs[min(program_rank, len(programs) - 1)].phases
        horizon = 2 * max(sum(p.duration_s for p in phases) for phases in plans.values())
        for k in range(int(horizon) + 1):
            states = {}
            for tl_id, phases in plans.items():
                cycle = sum(p.duration_s for p in phases)
                pos = k % cycle if cycle > 0 else 0.0
                for phase in phases:
                    if pos < phase.duration_s:
                        states[tl_id] = phase.state
                        break
                    pos -= phase.duration_s
                else:
                    states[tl_id] = phases[-1].state
            monitor.observe(t + k, states)
    counts = monitor.counts_by_rule()
    assert counts["conflict"] == 0, [v for v in monitor.violations if v.rule == "conflict"][:5]
    assert counts["malformed"] == 0, [v for v in monitor.violations if v.rule == "malformed"][:5]


def test_real_network_conflicts_agree_with_the_guards_model() -> None:
    """Differential check: two independent derivations of the conflict rule must agree.

    Every pair of links is shown green alone (each green kind), separated by all-red samples,
    and the monitor's conflict count must move exactly as the guard's model predicts. Only the
    test touches ``Intersection.conflicting_greens``; the monitor never does.
    """
    try:
        from clearway.network import load_network
        from clearway.signals.build import build_intersections
    except ImportError as exc:
        pytest.skip(f"the network loader or intersection builder is not available yet: {exc}")

    net = load_network(_real_net_path())
    intersections = build_intersections(net)
    monitor = SafetyMonitor(net, intersections)
    t = 0.0
    for tl_id, model in intersections.items():
        n = model.link_count
        red = "".join("o" if i in model.fixed_off else "r" for i in range(n))
        for i in range(n):
            for j in range(i + 1, n):
                if i in model.fixed_off or j in model.fixed_off:
                    continue
                for c_i, c_j in (("G", "G"), ("g", "G"), ("G", "g"), ("g", "g")):
                    state = list(red)
                    state[i], state[j] = c_i, c_j
                    shown = "".join(state)
                    before = monitor.counts_by_rule()["conflict"]
                    monitor.observe(t, {tl_id: shown})
                    monitor.observe(t + 1.0, {tl_id: red})
                    t += 2.0
                    got = monitor.counts_by_rule()["conflict"] - before
                    assert got == len(model.conflicting_greens(shown)), (tl_id, shown)


# -- what the monitor keeps between samples ------------------------------------------------


def test_a_change_seen_again_is_judged_by_its_own_clocks() -> None:
    # The second time "rrrG" -> "GrgG" happens its (cached) plan is reused: only the times
    # differ, and only the second one comes before link 1's clearance.
    first = [(0.0, "rGrG"), (30.0, "ryrG"), (33.0, "rrrG"), (35.0, "GrgG"), (65.0, "yryG")]
    again = [(68.0, "rrrG"), (70.0, "rGrG"), (100.0, "ryrG"), (103.0, "rrrG"), (104.0, "GrgG")]
    monitor = feed(make_monitor(), first + again)
    assert rules_of(monitor) == [("clearance", (0, 1))]
    assert monitor.violations[0].time_s == 104.0


def test_the_same_bad_sample_is_flagged_every_time_it_is_seen() -> None:
    # A malformed state never becomes the light's history, and an unknown light is no light
    # the monitor holds: a sample equal to the last one is still judged.
    monitor = make_monitor()
    for t in (0.0, 1.0, 2.0):
        monitor.observe(t, {"T": "GrgGx"})
    assert monitor.counts_by_rule()["malformed"] == 3
    other = make_monitor()
    for t in (0.0, 1.0, 2.0):
        other.observe(t, {"T": "GrgG", "ghost": "G"})
    assert other.counts_by_rule()["malformed"] == 3 and other.violation_count == 3


@pytest.mark.parametrize("held_s", [0.0, 1.0, 2.999, 3.0, 4.9999995, 5.0, 7.0])
@pytest.mark.parametrize(("old", "new"), [(a, b) for a in "Gyro" for b in "Gyro" if a != b])
def test_a_move_is_asked_about_exactly_when_its_rules_would_flag_it(old, new, held_s) -> None:
    # The monitor skips the min-green/yellow check of an aspect move held at least its
    # clean_hold_s: that must be exactly the moves the full check leaves unflagged.
    from clearway.monitor.change_plan import clean_hold_s
    from clearway.monitor.conflict_monitor import TIME_TOLERANCE_S
    from clearway.monitor.conflict_table import ASPECT

    a_old, a_new = ASPECT[old], ASPECT[new]
    monitor = make_monitor()
    watch = monitor._watches["T"]
    monitor._check_change(watch, 10.0, 0, a_old, a_new, held_s)
    flagged = monitor.violation_count > 0
    asked = held_s + TIME_TOLERANCE_S < clean_hold_s(a_old, a_new, MIN_GREEN_S, YELLOW_S)
    assert flagged == asked
