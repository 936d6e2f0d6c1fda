"""The NTCIP view of the virtual dual-ring controller, directly and over SNMP."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.errors import ConfigError
from clearway.field.ntcip import SnmpType, groups_to_phases, obj, octets_to_phases
from clearway.field.snmp_agent import NtcipAgent, SetErrorStatus, StoreRefused
from clearway.field.snmp_client import (
    ControllerRefusedError,
    SnmpRunner,
    SnmpTarget,
    SnmpV3Credentials,
)
from clearway.field.virtual.mib import CONTROL_BACKUP, CONTROL_SYSTEM, ControllerMib
from clearway.field.virtual.nema_controller import DualRingController
from clearway.field.virtual.phase_timings import PhaseTimings
from clearway.signals.nema import NemaPhase, PhaseMap

USER = SnmpV3Credentials("tmc", "auth-key-123", "priv-key-123")
TIMINGS = PhaseTimings(min_green_s=7, passage_s=2.5, max_green_s=30, yellow_s=3.6,
                       red_clear_s=1.5, walk_s=7, ped_clear_s=12)  # fmt: skip


def _phase_map() -> PhaseMap:
    # The textbook eight-phase dual ring: 1-4 | 5-8, barrier between {1,2,5,6} and {3,4,7,8};
    # the through phases 2, 4, 6, 8 have crosswalks.
    phases = tuple(
        NemaPhase(n, 1 if n <= 4 else 2, frozenset({n - 1}),
                  ped_links=frozenset({8 + n // 2 - 1}) if n % 2 == 0 else frozenset())
        for n in range(1, 9)
    )  # fmt: skip
    return PhaseMap("J1", 12, phases, rings=((1, 2, 3, 4), (5, 6, 7, 8)),
                    barriers=(frozenset({1, 2, 5, 6}), frozenset({3, 4, 7, 8})))  # fmt: skip


def _controller(**kw) -> DualRingController:
    return DualRingController(_phase_map(), dict.fromkeys(range(1, 9), TIMINGS),
                              recalls=frozenset({2, 6}), **kw)  # fmt: skip


_CONTROL_NAMES = {
    "phaseControlGroupPhaseOmit": "omit",
    "phaseControlGroupHold": "hold",
    "phaseControlGroupForceOff": "force_off",
    "phaseControlGroupVehCall": "veh_call",
    "phaseControlGroupPedCall": "ped_call",
}


def _value(mib, name, *index):
    kind, v = mib.get(obj(name).instance(*index))
    assert kind is obj(name).snmp_type
    return v


def test_phase_table_reports_timings_in_ntcip_units():
    mib = ControllerMib(_controller())
    assert _value(mib, "maxPhases") == 8 and _value(mib, "maxPhaseGroups") == 1
    assert _value(mib, "phaseMinimumGreen", 2) == 7  # s
    assert _value(mib, "phasePassage", 2) == 25  # 0.1 s
    assert _value(mib, "phaseMaximum1", 2) == 30  # s
    assert _value(mib, "phaseYellowChange", 2) == 36  # 0.1 s
    assert _value(mib, "phaseRedClear", 2) == 15  # 0.1 s
    assert _value(mib, "phaseWalk", 2) == 7 and _value(mib, "phasePedestrianClear", 2) == 12
    assert _value(mib, "phaseRing", 2) == 1 and _value(mib, "phaseRing", 7) == 2
    assert _value(mib, "phaseOptions", 3) & 1  # enabled
    # concurrent: the other ring's phases in the same barrier group
    assert octets_to_phases(_value(mib, "phaseConcurrency", 2)) == (5, 6)
    assert octets_to_phases(_value(mib, "phaseConcurrency", 8)) == (3, 4)
    assert _value(mib, "maxRings") == 2
    assert octets_to_phases(_value(mib, "sequenceData", 1, 2)) == (5, 6, 7, 8)


def test_phase_numbers_beyond_eight_get_a_second_group_and_unused_rows_are_disabled():
    pm = PhaseMap("J2", 2, (NemaPhase(2, 1, frozenset({0})), NemaPhase(10, 2, frozenset({1}))),
                  rings=((2,), (10,)), barriers=(frozenset({2, 10}),))  # fmt: skip
    mib = ControllerMib(DualRingController(pm, {2: TIMINGS, 10: TIMINGS}))
    assert _value(mib, "maxPhaseGroups") == 2 and _value(mib, "maxPhases") == 16
    assert _value(mib, "phaseOptions", 1) == 0 and _value(mib, "phaseYellowChange", 1) == 0
    assert _value(mib, "phaseOptions", 10) == 1


def test_status_groups_follow_the_controller_as_it_runs():
    ctl = _controller()
    mib = ControllerMib(ctl)
    seen_green = set()
    for k in range(0, 120):
        ctl.step(k * 0.5, frozenset({4, 8}) if k % 7 == 0 else frozenset())
        for name, attr in [("phaseStatusGroupGreens", "greens"), ("phaseStatusGroupYellows",
                           "yellows"), ("phaseStatusGroupReds", "reds"),
                           ("phaseStatusGroupWalks", "walks"), ("phaseStatusGroupVehCalls",
                           "veh_calls"), ("phaseStatusGroupPhaseOns", "phase_ons")]:  # fmt: skip
            assert groups_to_phases({1: _value(mib, name, 1)}) == getattr(ctl, attr), (k, name)
        seen_green |= ctl.greens
    assert {2, 6, 4, 8} <= seen_green  # both barrier groups were served


def test_control_groups_write_into_the_controls_and_restart_the_backup_timer():
    ctl = _controller(backup_time_s=5)
    mib = ControllerMib(ctl)
    ctl.step(3.0)
    assert ctl.in_backup
    mib.check_set(obj("phaseControlGroupHold").instance(1), 0b10)
    mib.set(obj("phaseControlGroupHold").instance(1), 0b10)
    mib.set(obj("phaseControlGroupVehCall").instance(1), 0b1000)
    assert ctl.controls.hold == {2} and ctl.controls.veh_call == {4}
    assert not ctl.in_backup and ctl.last_control_s == 3.0
    assert _value(mib, "phaseControlGroupHold", 1) == 0b10
    assert _value(mib, "unitControlStatus") == CONTROL_SYSTEM
    ctl.step(8.5)  # 5.5 s of silence > backup time: the controller drops every control
    assert _value(mib, "phaseControlGroupHold", 1) == 0
    assert _value(mib, "unitControlStatus") == CONTROL_BACKUP


@pytest.mark.parametrize(
    ("name", "index", "value", "status"),
    [
        ("phaseYellowChange", (2,), 20, SetErrorStatus.NOT_WRITABLE),  # no retiming over SNMP
        ("phaseStatusGroupGreens", (1,), 1, SetErrorStatus.NOT_WRITABLE),
        ("phaseControlGroupHold", (1,), 256, SetErrorStatus.WRONG_VALUE),
        ("unitBackupTime", (), 0, SetErrorStatus.WRONG_VALUE),  # "never fall back"
        ("phaseControlGroupHold", (2,), 1, SetErrorStatus.NO_CREATION),  # one group only
    ],
)
def test_refused_sets(name, index, value, status):
    ctl = _controller()
    mib = ControllerMib(ctl)
    with pytest.raises(StoreRefused) as info:
        mib.check_set(obj(name).instance(*index), value)
    assert info.value.status is status


def test_a_mask_naming_a_phase_the_controller_lacks_is_refused():
    pm = PhaseMap("J3", 2, (NemaPhase(2, 1, frozenset({0})), NemaPhase(6, 2, frozenset({1}))),
                  rings=((2,), (6,)), barriers=(frozenset({2, 6}),))  # fmt: skip
    mib = ControllerMib(DualRingController(pm, {2: TIMINGS, 6: TIMINGS}))
    with pytest.raises(StoreRefused, match=r"phases \[1\]") as info:
        mib.check_set(obj("phaseControlGroupHold").instance(1), 0b11)
    assert info.value.status is SetErrorStatus.WRONG_VALUE


def test_detector_reports_encode_volume_and_half_percent_occupancy():
    mib = ControllerMib(_controller(), {1: 2, 2: 6})
    assert _value(mib, "maxVehicleDetectors") == 2 and _value(mib, "vehicleDetectorCallPhase", 2) == 6
    before = _value(mib, "volumeOccupancySequence")
    mib.report_detectors({1: 7, 2: 300}, {1: 12.5, 2: 100.0})
    assert _value(mib, "detectorVolume", 1) == 7 and _value(mib, "detectorVolume", 2) == 255
    assert _value(mib, "detectorOccupancy", 1) == 25 and _value(mib, "detectorOccupancy", 2) == 200
    assert _value(mib, "volumeOccupancySequence") == (before + 1) % 256
    with pytest.raises(ConfigError, match="no vehicle detector 3"):
        mib.report_detectors({3: 1}, {})
    with pytest.raises(ConfigError, match="0..100"):
        mib.report_detectors({}, {1: 101.0})
    counted = ControllerMib(_controller(), detector_count=3)
    counted.set_detectors([1.0, 2.0, 0.0], [5.0, 0.0, 50.0])
    assert [_value(counted, "detectorOccupancy", d) for d in (1, 2, 3)] == [10, 0, 100]
    assert _value(counted, "vehicleDetectorCallPhase", 1) == 0


def test_timings_that_do_not_fit_the_mib_are_a_config_error():
    too_long = PhaseTimings(7, 2.5, 300, 3.6, 1.5)
    with pytest.raises(ConfigError, match="phaseMaximum1"):
        ControllerMib(DualRingController(_phase_map(), dict.fromkeys(range(1, 9), too_long)))


def test_next_oid_walks_every_instance_in_order():
    mib = ControllerMib(_controller(), {1: 2})
    walked, oid = [], ()
    while (oid := mib.next_oid(oid)) is not None:
        walked.append(oid)
    assert walked == sorted(walked) and len(walked) == len(set(walked))
    assert obj("unitBackupTime").instance() in walked
    assert all(mib.get(o) is not None for o in walked)


def test_over_snmp_a_central_system_reads_status_and_holds_a_phase():
    ctl = _controller(backup_time_s=20)
    lock = threading.Lock()
    mib = ControllerMib(ctl, detector_count=1, lock=lock)
    with SnmpRunner() as runner:
        agent = NtcipAgent(mib, port=0, v3_users=[USER])
        runner.run(agent.start())
        try:
            client = runner.client(SnmpTarget("127.0.0.1", agent.port, USER, 0.5, 0))
            with lock:
                ctl.step(1.0)
            greens = obj("phaseStatusGroupGreens").instance(1)
            got = runner.run(client.get([greens, obj("unitBackupTime").instance()]))
            assert groups_to_phases({1: got[greens]}) == ctl.greens
            assert got[obj("unitBackupTime").instance()] == 20
            hold = obj("phaseControlGroupHold").instance(1)
            echoed = runner.run(client.set([(hold, 0b100010), (obj("unitBackupTime").instance(), 9)]))
            assert echoed[hold] == 0b100010
            assert ctl.controls.hold == {2, 6} and ctl.backup_time_s == 9.0
            with pytest.raises(ControllerRefusedError) as info:
                runner.run(client.set([(hold, 0), (obj("phaseMinimumGreen").instance(2), 1)]))
            assert info.value.status == "notWritable"
            assert ctl.controls.hold == {2, 6}  # the refused PDU changed nothing
            assert mib.get(obj("phaseMinimumGreen").instance(2)) == (SnmpType.INTEGER, 7)
        finally:
            runner.run(agent.stop())


_MIB_FOR_WALK = ControllerMib(_controller(), {1: 2, 3: 6})


@given(st.lists(st.integers(0, 30), min_size=0, max_size=18))
def test_next_oid_is_the_least_existing_oid_after_any_oid(parts):
    mib = _MIB_FOR_WALK
    probe = (1, 3, 6, 1, 4, 1, 1206, 4, 2, 1, *parts)
    later = [o for o in mib._read if o > probe]  # oracle: a linear scan of every instance
    assert mib.next_oid(probe) == (min(later) if later else None)


@given(st.lists(st.tuples(st.sampled_from(sorted(_CONTROL_NAMES)), st.integers(0, 255)),
                max_size=12))  # fmt: skip
def test_control_groups_read_back_what_was_set_last(sets):
    ctl = _controller()
    mib = ControllerMib(ctl)
    last = dict.fromkeys(_CONTROL_NAMES, 0)
    for name, mask in sets:
        oid = obj(name).instance(1)
        mib.check_set(oid, mask)
        mib.set(oid, mask)
        last[name] = mask
    for name, mask in last.items():
        assert _value(mib, name, 1) == mask
        assert getattr(ctl.controls, _CONTROL_NAMES[name]) == groups_to_phases({1: mask})
