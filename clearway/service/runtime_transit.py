"""Transit priority in the live runtime: the buses a transit operator feeds steer the
fixed-time signals of the twin, and every green moved for a bus is audited.

:class:`~clearway.service.transit_feed.TransitDesk` is the bus source of the twin's fixed-time
normal control (:class:`~clearway.control.transit_control.TransitFixedTimeController`) when
the runtime has a GTFS schedule (``CLEARWAY_GTFS_DIR``). After each tick,
:func:`transit_entries` turns the controller's decisions into ``transit.priority`` audit
records, one per green extended or brought forward: junction, action, seconds moved, traffic
time, and per bus its fleet number, trip and line ids and lateness — a bus is a public
vehicle in public service; no position is stored. A decision at a signal held or recovering
for a priority request never reached the signal (the hold's commands win) and is dropped.

Field controllers run their own programs: clearway has no fixed-time program there to stretch,
so a field runtime refuses a GTFS schedule (:func:`refuse_on_field`).
"""

from __future__ import annotations

from collections.abc import Iterable

from clearway.control.switchable import SwitchableControl
from clearway.control.transit_control import TransitAction, TransitFixedTimeController
from clearway.errors import ConfigError
from clearway.service.clock import TrafficClock
from clearway.service.transit_feed import TransitDesk
from clearway.storage.audit import AuditEntry

#: Audit kind of one green moved for late buses.
TRANSIT_PRIORITY_KIND = "transit.priority"


def refuse_on_field(gtfs_dir: str | None) -> None:
    """A field runtime takes no GTFS schedule.

    Raises
    ------
    ConfigError
        If ``gtfs_dir`` is set.
    """
    if gtfs_dir:
        raise ConfigError(
            "transit priority stretches or brings forward the greens of clearway's own "
            "fixed-time programs; field controllers run their own programs (clearway holds "
            "and releases their phases, it has no program there to stretch, and NTCIP 1211 "
            "transit signal priority is not implemented): unset CLEARWAY_GTFS_DIR for --field"
        )


def transit_controllers(control: SwitchableControl | None) -> list[TransitFixedTimeController]:
    """The transit-aware controllers among the normal strategies built so far."""
    if control is None:
        return []
    return [c for c in control.controllers().values() if isinstance(c, TransitFixedTimeController)]


def transit_entries(
    decisions: Iterable[TransitAction],
    desk: TransitDesk,
    skipped: frozenset[str],
    clock: TrafficClock | None,
) -> list[AuditEntry]:
    """One ``transit.priority`` record per decision, those at ``skipped`` signals (held or
    recovering for a priority request) left out; ``clock`` gives the UTC time the desk notes
    as each bus's last priority (traffic time when there is none)."""
    out = []
    for d in decisions:
        if d.signal_id in skipped or not d.vehicle_ids:
            continue
        utc_s = clock.to_utc_s(d.time_s) if clock is not None else d.time_s
        buses = desk.given(d, utc_s)
        out.append(AuditEntry(
            TRANSIT_PRIORITY_KIND, junction_id=d.signal_id,
            payload={"action": d.action, "moved_s": round(d.moved_s, 2),
                     "time_s": round(d.time_s, 3), "buses": buses},
        ))  # fmt: skip
    return out
