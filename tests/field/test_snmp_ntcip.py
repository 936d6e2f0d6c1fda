"""The NTCIP 1202 object table and its bit-mask helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.field import ntcip
from clearway.field.ntcip import (
    ASC,
    NtcipError,
    SnmpType,
    groups_to_phases,
    masks_for_groups,
    obj,
    object_of,
    octets_to_phases,
    phases_to_groups,
    phases_to_octets,
)

phase_sets = st.frozensets(st.integers(1, 64), max_size=40)


@given(phase_sets)
def test_groups_round_trip(phases):
    assert groups_to_phases(phases_to_groups(phases)) == phases


@given(phase_sets)
def test_group_masks_match_an_independent_bit_oracle(phases):
    # Oracle: a 64-bit integer with bit (p-1) per phase, cut into bytes, little end first.
    word = sum(1 << (p - 1) for p in phases)
    expected = {g + 1: (word >> (8 * g)) & 0xFF for g in range(8) if (word >> (8 * g)) & 0xFF}
    assert phases_to_groups(phases) == expected


def test_group_one_is_phases_one_to_eight_bit_zero_first():
    assert phases_to_groups({1}) == {1: 0b1}
    assert phases_to_groups({2, 6}) == {1: 0b100010}
    assert phases_to_groups({8, 9, 16}) == {1: 0x80, 2: 0x81}
    assert groups_to_phases({2: 1}) == {9}


def test_masks_for_groups_lists_empty_groups_and_refuses_phases_beyond():
    assert masks_for_groups({3}, 2) == {1: 0b100, 2: 0}
    with pytest.raises(NtcipError, match="beyond group 1"):
        masks_for_groups({9}, 1)


@pytest.mark.parametrize("bad", [0, -1, 2041, True, 2.0])
def test_bad_phase_numbers_are_refused(bad):
    with pytest.raises(NtcipError):
        phases_to_groups({bad})


@pytest.mark.parametrize("groups", [{0: 1}, {1: 256}, {1: -1}])
def test_bad_groups_or_masks_are_refused(groups):
    with pytest.raises(NtcipError):
        groups_to_phases(groups)


def test_octet_strings_hold_one_phase_each():
    assert phases_to_octets([1, 2, 3, 4]) == b"\x01\x02\x03\x04"
    assert octets_to_phases(b"\x05\x00\x06") == (5, 6)
    with pytest.raises(NtcipError):
        phases_to_octets([0])


def test_every_object_lies_under_asc_with_a_unique_oid_and_two_sources():
    oids = [o.oid for o in ntcip.OBJECTS.values()]
    assert len(set(oids)) == len(oids)
    for o in ntcip.OBJECTS.values():
        assert o.oid[: len(ASC)] == ASC, o.name
        assert len(set(o.sources)) >= 2, o.name
        assert all(s in ntcip.__doc__ for s in o.sources), o.name


def test_required_objects_are_present_with_their_documented_oids():
    # OIDs as read in the sources (see the module docstring); a typo in the table fails here.
    want = {
        "phaseMinimumGreen": "1.3.6.1.4.1.1206.4.2.1.1.2.1.4",
        "phaseYellowChange": "1.3.6.1.4.1.1206.4.2.1.1.2.1.8",
        "phaseStatusGroupGreens": "1.3.6.1.4.1.1206.4.2.1.1.4.1.4",
        "phaseStatusGroupPhaseNexts": "1.3.6.1.4.1.1206.4.2.1.1.4.1.11",
        "phaseControlGroupHold": "1.3.6.1.4.1.1206.4.2.1.1.5.1.4",
        "phaseControlGroupPedCall": "1.3.6.1.4.1.1206.4.2.1.1.5.1.7",
        "detectorOccupancy": "1.3.6.1.4.1.1206.4.2.1.2.5.4.1.2",
        "unitBackupTime": "1.3.6.1.4.1.1206.4.2.1.3.3",
        "maxRings": "1.3.6.1.4.1.1206.4.2.1.7.1",
        "sequenceData": "1.3.6.1.4.1.1206.4.2.1.7.3.1.3",
        "preemptControlState": "1.3.6.1.4.1.1206.4.2.1.6.3.1.2",
    }
    for name, dotted in want.items():
        assert ".".join(map(str, obj(name).oid)) == dotted, name


def test_units_of_the_phase_timings():
    assert obj("phaseYellowChange").units == "0.1 s"
    assert obj("phaseRedClear").units == "0.1 s"
    assert obj("phasePassage").units == "0.1 s"
    assert obj("phaseMinimumGreen").units == "s"
    assert obj("phaseMaximum1").units == "s"
    assert obj("unitBackupTime").units == "s"


def test_instances_and_their_inverse():
    assert obj("maxPhases").instance() == (*ASC, 1, 1, 0)
    assert obj("phaseRing").instance(3) == (*ASC, 1, 2, 1, 22, 3)
    assert obj("sequenceData").instance(1, 2) == (*ASC, 7, 3, 1, 3, 1, 2)
    for o in ntcip.OBJECTS.values():
        index = tuple(range(1, len(o.index) + 1))
        assert object_of(o.instance(*index)) == (o, index)
    assert object_of((*ASC, 1, 1, 1)) is None  # a scalar's instance is .0
    assert object_of((1, 3, 6, 1, 2, 1, 1, 1, 0)) is None
    with pytest.raises(NtcipError, match="takes phase"):
        obj("phaseRing").instance()
    with pytest.raises(NtcipError, match="unknown NTCIP object"):
        obj("phaseYellow")


def test_values_are_checked_against_type_and_range():
    yellow = obj("phaseYellowChange")
    yellow.check_value(40)
    for bad in (256, -1, b"\x28", True):
        with pytest.raises(NtcipError):
            yellow.check_value(bad)
    assert obj("phaseConcurrency").snmp_type is SnmpType.OCTET_STRING
    obj("phaseConcurrency").check_value(b"\x05\x06")
    with pytest.raises(NtcipError, match="OCTET STRING"):
        obj("phaseConcurrency").check_value(5)
