"""The NTCIP 1202 (Actuated Signal Controller MIB) objects clearway reads and writes.

Every object carries its OID, SNMP type, access, value range, units and the two (or more)
independent public sources its OID was checked against. Short names for the sources:

``ASC_MIB``
    Metrolla-Inc/ntcipy ``py_mibs/ASC_MIB1.py``: a pysmi compile of the NTCIP 1202 ASC MIB
    (``1202ASC.mib``); gives OID, syntax range and MAX-ACCESS of every object.
``MIB_2004``
    An object listing generated from ``1202v0218.mib`` (NTCIP1202-2004) with OID, kind and
    ACCESS per object (public code index document 55760813035; the index names no repository).
``IRIS``
    mnit-rtmc/iris ``src/us/mn/state/dot/tms/server/comm/ntcip/mib1202/MIB1202.java``
    (Minnesota DOT): the phase, detector and volume/occupancy branches, node by node.
``MMITSS``
    mmitss/mmitss-az ``src/mrp/traffic-controller-interface/StandardMib.py`` (Univ. of Arizona).
``CARMA``
    usdot-fhwa-stol/carma-streets ``tsc_client_service/include/ntcip_oids.h`` (FHWA).
``VENTOS``
    ManiAm/VENTOS_Public ``application/global/MIB_OBJ_ASC.h``.
``MIB_V1_TEXT``
    A C++ controller interface quoting NTCIP 1202 v01 OBJECT-TYPE text (code index document
    8295182805): "Phase Yellow Change time in tenth sec", "Phase Red Clearance time in tenth
    sec", "Phase Pedestrian Clear time in seconds", phaseYellowChange SYNTAX (30..255).

Units: times in the phase table are whole seconds except passage, yellow change and red
clearance, which are tenths of a second (MIB_V1_TEXT; CARMA says minimum green is seconds).
Scalars are addressed with instance ``.0``; table columns with their index (phase, group,
detector, preempt, or sequence.ring). MMITSS appends ``.1`` to unitBackupTime; the MIB makes it
a scalar (ASC_MIB, MIB_2004), so clearway uses ``.0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from clearway.errors import ClearwayError

#: The asc node, 1.3.6.1.4.1.1206.4.2.1 (iso.org.dod.internet.private.enterprises.nema.
#: transportation.devices.asc): ASC_MIB, IRIS (``asc (MIB1201.devices, 1)``), VENTOS.
ASC: tuple[int, ...] = (1, 3, 6, 1, 4, 1, 1206, 4, 2, 1)

#: Phases per status/control group: each group object is an 8-bit mask (maxPhaseGroups' text
#: in MIB_V1_TEXT: "8 Phases per group"; CARMA: "8 bit argument, one for each phase").
PHASES_PER_GROUP = 8


class NtcipError(ClearwayError):
    """An NTCIP object, index or bit mask is used outside what the MIB allows."""


class SnmpType(Enum):
    """SNMP syntax of an object, as clearway encodes it on the wire."""

    INTEGER = "INTEGER"
    OCTET_STRING = "OCTET STRING"


class Access(Enum):
    READ_ONLY = "read-only"
    READ_WRITE = "read-write"


@dataclass(frozen=True)
class NtcipObject:
    """One NTCIP 1202 object type (a scalar or a table column).

    Attributes
    ----------
    name : str
        The MIB descriptor, e.g. ``phaseYellowChange``.
    oid : tuple of int
        The object type's OID (without instance).
    snmp_type, access
        Syntax and MAX-ACCESS per the MIB.
    value_range : tuple of int or None
        Inclusive INTEGER range; for OCTET STRING the allowed length range.
    units : str
        What one count means (``"s"``, ``"0.1 s"``, ``"bitmask"``, ``"enum"`` ...).
    index : tuple of str
        Names of the index components; empty for a scalar (instance ``.0``).
    sources : tuple of str
        Short names (module docstring) of the sources that give this OID.
    """

    name: str
    oid: tuple[int, ...]
    snmp_type: SnmpType
    access: Access
    value_range: tuple[int, int] | None
    units: str
    index: tuple[str, ...]
    sources: tuple[str, ...]
    note: str = ""

    @property
    def writable(self) -> bool:
        return self.access is Access.READ_WRITE

    def instance(self, *index: int) -> tuple[int, ...]:
        """The instance OID: ``oid.0`` for a scalar, ``oid.<index...>`` for a column."""
        if len(index) != len(self.index):
            want = ", ".join(self.index) or "no index (scalar, instance .0)"
            raise NtcipError(f"{self.name} takes {want}; got index {index!r}")
        if not self.index:
            return (*self.oid, 0)
        if any(not isinstance(i, int) or i < 0 for i in index):
            raise NtcipError(f"{self.name}: index parts must be integers >= 0, got {index!r}")
        return (*self.oid, *index)

    def check_value(self, value: int | bytes) -> None:
        """Raise :class:`NtcipError` unless ``value`` fits this object's type and range."""
        lo, hi = self.value_range if self.value_range else (None, None)
        if self.snmp_type is SnmpType.INTEGER:
            if not isinstance(value, int) or isinstance(value, bool):
                raise NtcipError(f"{self.name} is an INTEGER; got {type(value).__name__}")
            if lo is not None and not lo <= value <= hi:
                raise NtcipError(f"{self.name} must be in {lo}..{hi} ({self.units}); got {value}")
        else:
            if not isinstance(value, bytes):
                raise NtcipError(f"{self.name} is an OCTET STRING; got {type(value).__name__}")
            if lo is not None and not lo <= len(value) <= hi:
                raise NtcipError(f"{self.name} length must be {lo}..{hi}; got {len(value)}")


_I, _S = SnmpType.INTEGER, SnmpType.OCTET_STRING
_RO, _RW = Access.READ_ONLY, Access.READ_WRITE
_PHASE, _GROUP, _DET = ("phase",), ("phaseGroup",), ("vehicleDetector",)
_BYTE = (0, 255)
_PH = (*ASC, 1, 2, 1)  # phaseEntry
_PSG = (*ASC, 1, 4, 1)  # phaseStatusGroupEntry
_PCG = (*ASC, 1, 5, 1)  # phaseControlGroupEntry
_MAIN = ("ASC_MIB", "IRIS")
_STATUS_SRC = ("ASC_MIB", "IRIS", "MIB_2004")
_CONTROL_SRC = ("ASC_MIB", "IRIS", "MMITSS")


def _o(name, oid, typ, acc, rng, units, index, sources, note=""):
    return NtcipObject(name, tuple(oid), typ, acc, rng, units, index, tuple(sources), note)


# One row per object; the table reads better unwrapped than black-formatted.
# fmt: off
_ALL = (
    # --- phase (asc.1) ---------------------------------------------------------------------
    _o("maxPhases", (*ASC, 1, 1), _I, _RO, _BYTE, "count", (), ("ASC_MIB", "IRIS", "VENTOS")),
    _o("phaseWalk", (*_PH, 2), _I, _RW, _BYTE, "s", _PHASE, ("ASC_MIB", "IRIS", "MMITSS")),
    _o("phasePedestrianClear", (*_PH, 3), _I, _RW, _BYTE, "s", _PHASE,
       ("ASC_MIB", "IRIS", "MMITSS"), "seconds per MIB_V1_TEXT"),
    _o("phaseMinimumGreen", (*_PH, 4), _I, _RW, _BYTE, "s", _PHASE,
       ("ASC_MIB", "IRIS", "MMITSS", "CARMA"), "seconds per CARMA"),
    _o("phasePassage", (*_PH, 5), _I, _RW, _BYTE, "0.1 s", _PHASE, ("ASC_MIB", "IRIS", "MMITSS")),
    _o("phaseMaximum1", (*_PH, 6), _I, _RW, _BYTE, "s", _PHASE,
       ("ASC_MIB", "IRIS", "MMITSS", "CARMA")),
    _o("phaseYellowChange", (*_PH, 8), _I, _RW, _BYTE, "0.1 s", _PHASE,
       ("ASC_MIB", "IRIS", "MMITSS", "CARMA"),
       "tenths per MIB_V1_TEXT, whose SYNTAX is (30..255): 3.0 s minimum in v01"),
    _o("phaseRedClear", (*_PH, 9), _I, _RW, _BYTE, "0.1 s", _PHASE,
       ("ASC_MIB", "IRIS", "MMITSS", "CARMA"), "tenths per MIB_V1_TEXT"),
    _o("phaseOptions", (*_PH, 21), _I, _RW, (0, 65535), "bitmask", _PHASE,
       ("ASC_MIB", "IRIS", "MIB_2004"), "bit 0 = phase enabled (MIB_V1_TEXT)"),
    _o("phaseRing", (*_PH, 22), _I, _RW, _BYTE, "ring number", _PHASE,
       ("ASC_MIB", "IRIS", "MMITSS")),
    _o("phaseConcurrency", (*_PH, 23), _S, _RW, (0, 255), "phase numbers, one per octet",
       _PHASE, ("ASC_MIB", "IRIS", "CARMA")),
    _o("maxPhaseGroups", (*ASC, 1, 3), _I, _RO, (1, 255), "count", (),
       ("ASC_MIB", "IRIS", "VENTOS")),
    # phaseStatusGroup (asc.1.4.1.N.group): 8-bit masks, bit 0 = lowest phase of the group
    _o("phaseStatusGroupReds", (*_PSG, 2), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupYellows", (*_PSG, 3), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupGreens", (*_PSG, 4), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupDontWalks", (*_PSG, 5), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupPedClears", (*_PSG, 6), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupWalks", (*_PSG, 7), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupVehCalls", (*_PSG, 8), _I, _RO, _BYTE, "bitmask", _GROUP,
       ("ASC_MIB", "IRIS", "MMITSS")),
    _o("phaseStatusGroupPedCalls", (*_PSG, 9), _I, _RO, _BYTE, "bitmask", _GROUP,
       ("ASC_MIB", "IRIS", "MMITSS")),
    _o("phaseStatusGroupPhaseOns", (*_PSG, 10), _I, _RO, _BYTE, "bitmask", _GROUP, _STATUS_SRC),
    _o("phaseStatusGroupPhaseNexts", (*_PSG, 11), _I, _RO, _BYTE, "bitmask", _GROUP,
       ("ASC_MIB", "IRIS", "MMITSS", "CARMA")),
    # phaseControlGroup (asc.1.5.1.N.group): read-write 8-bit masks
    _o("phaseControlGroupPhaseOmit", (*_PCG, 2), _I, _RW, _BYTE, "bitmask", _GROUP,
       (*_CONTROL_SRC, "CARMA")),
    _o("phaseControlGroupPedOmit", (*_PCG, 3), _I, _RW, _BYTE, "bitmask", _GROUP, _CONTROL_SRC),
    _o("phaseControlGroupHold", (*_PCG, 4), _I, _RW, _BYTE, "bitmask", _GROUP,
       (*_CONTROL_SRC, "CARMA")),
    _o("phaseControlGroupForceOff", (*_PCG, 5), _I, _RW, _BYTE, "bitmask", _GROUP, _CONTROL_SRC),
    _o("phaseControlGroupVehCall", (*_PCG, 6), _I, _RW, _BYTE, "bitmask", _GROUP, _CONTROL_SRC),
    _o("phaseControlGroupPedCall", (*_PCG, 7), _I, _RW, _BYTE, "bitmask", _GROUP, _CONTROL_SRC),
    # --- detector (asc.2) ------------------------------------------------------------------
    _o("maxVehicleDetectors", (*ASC, 2, 1), _I, _RO, _BYTE, "count", (),
       ("ASC_MIB", "IRIS", "VENTOS")),
    _o("vehicleDetectorCallPhase", (*ASC, 2, 2, 1, 4), _I, _RW, _BYTE, "phase number (0 none)",
       _DET, (*_MAIN, "MIB_2004")),
    _o("volumeOccupancySequence", (*ASC, 2, 5, 1), _I, _RO, _BYTE, "count (wraps 255 -> 0)",
       (), ("ASC_MIB", "IRIS", "VENTOS")),
    _o("volumeOccupancyPeriod", (*ASC, 2, 5, 2), _I, _RW, _BYTE, "s", (),
       ("ASC_MIB", "IRIS", "VENTOS")),
    _o("detectorVolume", (*ASC, 2, 5, 4, 1, 1), _I, _RO, _BYTE, "vehicles per period", _DET,
       (*_MAIN, "MIB_2004")),
    _o("detectorOccupancy", (*ASC, 2, 5, 4, 1, 2), _I, _RO, _BYTE, "0.5 % (0..200)", _DET,
       (*_MAIN, "MIB_2004"),
       "0..200 = 0..100 % in 0.5 % steps, 210..255 detector faults (NTCIP 1202 text as "
       "recalled; the sources only give the 0..255 range)"),
    # --- unit (asc.3) ----------------------------------------------------------------------
    _o("unitBackupTime", (*ASC, 3, 3), _I, _RW, (0, 65535), "s", (),
       ("ASC_MIB", "MIB_2004", "MMITSS"),
       "0 disables; without a SET for this long the controller drops external control"),
    _o("unitControlStatus", (*ASC, 3, 5), _I, _RO, (1, 8), "enum", (), ("ASC_MIB", "MIB_2004"),
       "1 other, 2 systemControl, 3 systemStandby, 4 backupMode, 5 manual, 6 timebase, "
       "7 interconnect, 8 interconnectBackup"),
    _o("unitFlashStatus", (*ASC, 3, 6), _I, _RO, (1, 8), "enum", (), ("ASC_MIB", "MIB_2004"),
       "1 other, 2 notFlash, 3 automatic, 4 localManual, 5 faultMonitor, 6 mmu, 7 startup, "
       "8 preempt (same numbering in Econolite's ODE UnitFlashStatus enum)"),
    # --- preempt (asc.6) -------------------------------------------------------------------
    _o("maxPreempts", (*ASC, 6, 1), _I, _RO, _BYTE, "count", (), ("ASC_MIB", "MIB_2004")),
    _o("preemptState", (*ASC, 6, 2, 1, 16), _I, _RO, (1, 9), "enum", ("preempt",),
       ("ASC_MIB", "MIB_2004"),
       "1 other, 2 notActive, 3 notActiveWithCall, 4 entryStarted, 5 trackService, 6 dwell, "
       "7 linkActive, 8 exitStarted, 9 maxPresence"),
    _o("preemptControlState", (*ASC, 6, 3, 1, 2), _I, _RW, (0, 1), "0 off, 1 on", ("preempt",),
       ("ASC_MIB", "MIB_2004"), "the preempt input as set by SNMP (preemptControlTable)"),
    # --- ring (asc.7) ----------------------------------------------------------------------
    _o("maxRings", (*ASC, 7, 1), _I, _RO, _BYTE, "count", (), ("ASC_MIB", "CARMA", "MIB_2004")),
    _o("sequenceData", (*ASC, 7, 3, 1, 3), _S, _RW, (0, 255), "phase numbers in ring order",
       ("sequence", "ring"), ("ASC_MIB", "CARMA", "MIB_2004")),
)
# fmt: on

#: Every object clearway uses, by MIB descriptor.
OBJECTS: dict[str, NtcipObject] = {o.name: o for o in _ALL}
_BY_OID: dict[tuple[int, ...], NtcipObject] = {o.oid: o for o in _ALL}


def obj(name: str) -> NtcipObject:
    """The object named ``name``; :class:`NtcipError` listing the known names otherwise."""
    try:
        return OBJECTS[name]
    except KeyError:
        raise NtcipError(f"unknown NTCIP object {name!r}; known: {', '.join(OBJECTS)}") from None


def object_of(instance_oid: tuple[int, ...]) -> tuple[NtcipObject, tuple[int, ...]] | None:
    """Split an instance OID into its object and index; ``None`` if it is not one of ours."""
    for n in range(len(instance_oid) - 1, len(ASC), -1):
        found = _BY_OID.get(tuple(instance_oid[:n]))
        if found is not None:
            index = tuple(instance_oid[n:])
            if found.index:
                return (found, index) if len(index) == len(found.index) else None
            return (found, ()) if index == (0,) else None
    return None


def phases_to_groups(phases: set[int] | frozenset[int]) -> dict[int, int]:
    """Phase numbers → ``{group: 8-bit mask}``; group 1 = phases 1-8 (bit 0 = phase 1).

    Only groups holding at least one phase appear; use :func:`masks_for_groups` to get every
    group up to a count (a SET must clear the groups with no phase too).
    """
    groups: dict[int, int] = {}
    for p in phases:
        if not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 255 * PHASES_PER_GROUP:
            raise NtcipError(f"phase numbers are integers 1..{255 * PHASES_PER_GROUP}; got {p!r}")
        g, bit = divmod(p - 1, PHASES_PER_GROUP)
        groups[g + 1] = groups.get(g + 1, 0) | (1 << bit)
    return groups


def masks_for_groups(phases: set[int] | frozenset[int], n_groups: int) -> dict[int, int]:
    """Like :func:`phases_to_groups` but with every group 1..n_groups present (0 if empty)."""
    groups = phases_to_groups(phases)
    if groups and max(groups) > n_groups:
        raise NtcipError(f"phase {max(phases)} lies beyond group {n_groups} (maxPhaseGroups)")
    return {g: groups.get(g, 0) for g in range(1, n_groups + 1)}


def groups_to_phases(groups: dict[int, int]) -> frozenset[int]:
    """``{group: 8-bit mask}`` → the set of phase numbers whose bit is set."""
    phases: set[int] = set()
    for g, mask in groups.items():
        if not isinstance(g, int) or not 1 <= g <= 255:
            raise NtcipError(f"phase group numbers are 1..255; got {g!r}")
        if not isinstance(mask, int) or not 0 <= mask <= 255:
            raise NtcipError(f"group {g} mask must be an 8-bit integer 0..255; got {mask!r}")
        base = (g - 1) * PHASES_PER_GROUP
        phases.update(base + bit + 1 for bit in range(PHASES_PER_GROUP) if mask >> bit & 1)
    return frozenset(phases)


def phases_to_octets(phases: tuple[int, ...] | list[int]) -> bytes:
    """Phase numbers → OCTET STRING, one phase per octet (phaseConcurrency, sequenceData)."""
    if any(not 1 <= p <= 255 for p in phases):
        raise NtcipError(f"phase numbers in an octet string are 1..255; got {list(phases)}")
    return bytes(phases)


def octets_to_phases(data: bytes) -> tuple[int, ...]:
    """OCTET STRING of phase numbers → tuple, dropping 0 octets (unused slots)."""
    return tuple(b for b in data if b)
