"""What the live runtime writes about requests and signals: audit entries, stored detail,
and the database writes that carry them.

Pure functions from the desk's records, the guard's verdicts and the field junctions'
status changes to
:class:`~clearway.storage.audit.AuditEntry` values and the ``detail`` JSON stored with a
request, and the write jobs (``Session -> None``) the runtime queues on its database writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from clearway.control.priority.desk import RecoveryRecord
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.service.sites import FIELD_FAULT_KIND, FIELD_RECOVERED_KIND, FieldEvent
from clearway.signals.safety.guard import Verdict
from clearway.storage import requests as request_store
from clearway.storage.audit import AuditEntry, AuditKind, append_entries

#: What a request looked like when last written: its state, per-junction statuses, where
#: and behind whom it was advised to arrive later (whether a stop is avoidable), its route.
Signature = tuple[str, dict[str, str], tuple[str, str, bool] | None, tuple[str, ...]]


def signature(record: PriorityRequest) -> Signature:
    """The parts of a record whose change is written (not ETAs, nor the advised speed: they
    move every tick)."""
    a = record.advice
    gist = None if a is None else (a.signal_id, a.yields_to, a.speed_mps is not None)
    return (
        record.state.value, {k: v.value for k, v in record.junctions.items()}, gist, record.route
    )


def _without_streets(reason: str) -> str:
    """A re-route's reason for the audit log: the gain, not the streets (``via …``): the
    log is kept for good, a vehicle's route only for the retention period (PRIVACY.md)."""
    return reason.split(" via ", 1)[0]


def advice_detail(record: PriorityRequest) -> dict[str, Any] | None:
    """The arrival advice as stored and audited: where, behind whom, when and why (times in
    the runtime's clock, s; speed m/s, ``None`` when a stop cannot be avoided)."""
    a = record.advice
    if a is None:
        return None
    return {
        "signal_id": a.signal_id,
        "yields_to": a.yields_to,
        "green_from_s": round(a.green_from_s, 1),
        "arrive_after_s": round(a.arrive_after_s, 1),
        "speed_mps": None if a.speed_mps is None else round(a.speed_mps, 1),
        "reason": a.reason,
    }


def request_detail(record: PriorityRequest) -> dict[str, Any]:
    """The desk's view of a request as stored in its ``detail`` column."""
    return {
        "desk_id": record.request_id,
        "route": list(record.route),
        "junctions": {k: v.value for k, v in record.junctions.items()},
        "reason": record.history[-1][2] if record.history else "",
        "advice": advice_detail(record),
    }


def lifecycle_entry(
    rid: str,
    principal: str | None,
    event: str,
    record: PriorityRequest,
    now_s: float,
    **extra: Any,
) -> AuditEntry:
    """A ``request`` audit record: ``event`` (created, served, updated, restored, a final
    state), with ``extra`` payload fields."""
    reason = record.history[-1][2] if record.history else ""
    return AuditEntry(
        AuditKind.REQUEST,
        principal=principal,
        request_id=rid,
        payload={
            "event": event,
            "state": record.state.value,
            "reason": reason,
            "time_s": now_s,
            "requester_id": record.spec.requester_id,
            "incident_id": record.spec.incident_id,
            **extra,
        },
    )


def served_entry(
    rid: str,
    record: PriorityRequest,
    now_s: float,
    verdicts: Sequence[Verdict],
    held: frozenset[str],
    source: str,
    latency_ms: float,
    *,
    decided_at_s: float | None = None,
) -> AuditEntry:
    """``served``: the first control decision that took the request into account.

    ``commanded``: signals of its route that got a priority command in that decision;
    ``waiting``: signals held for it that could not change yet (a minimum green, yellow or
    red clearance still running — the guard's rules, not the service, set that wait);
    ``decided_at_s``: when that decision was made (unix s) — the record's own ``time`` is
    when it was written, a few milliseconds later behind the writer's queue; ``latency_ms``:
    from the request's creation to the decision.
    """
    extra = {} if decided_at_s is None else {"decided_at_s": round(decided_at_s, 6)}
    route = set(record.junctions)
    commanded = sorted(
        {
            v.command.signal_id
            for v in verdicts
            if v.ok and v.command.source == source and v.command.signal_id in route
        }
    )
    waiting = sorted((held & route) - set(commanded))
    return lifecycle_entry(
        rid, None, "served", record, now_s, latency_ms=round(latency_ms, 3),
        commanded=commanded, waiting=waiting, **extra,
    )  # fmt: skip


#: Audit kind of a junction's finished priority hold (and recovery) with its estimated cost.
HOLD_ENDED_KIND = "hold.ended"


def hold_entry(record: RecoveryRecord, request_ids: Sequence[str]) -> AuditEntry:
    """``hold.ended``: a junction's priority hold and its recovery are over.

    Payload: the requests held for (service ids), how long the hold and the recovery lasted
    (s), the program phases it cut, and the hold's estimated extra delay to everyone else at
    that junction (``others_delay_veh_h``, from detector queues: :mod:`~clearway.control.
    priority.hold_cost`; ``None`` when no detector state was read). No place, no vehicle.
    """
    recovery = record.time_to_recover_s
    cost = record.others_delay_veh_h
    return AuditEntry(
        HOLD_ENDED_KIND,
        junction_id=record.signal_id,
        request_id=request_ids[0] if len(request_ids) == 1 else None,
        payload={
            "request_ids": list(request_ids),
            "hold_s": round(record.hold_end_s - record.hold_start_s, 1),
            "recovery_s": None if recovery is None else round(recovery, 1),
            "cut_phases": list(record.cut_phases),
            "others_delay_veh_h": None if cost is None else round(cost, 5),
        },
    )


def signal_entries(verdicts: Sequence[Verdict], shown: dict[str, str]) -> list[AuditEntry]:
    """``signal.approved`` per junction per change, ``signal.rejected`` per refused command.

    ``shown`` (signal id -> state last approved) is updated: an approved command that
    repeats what the signal shows is not a change and is not written.
    """
    entries = []
    for v in verdicts:
        cmd = v.command
        if v.ok:
            if shown.get(cmd.signal_id) == cmd.state:
                continue
            shown[cmd.signal_id] = cmd.state
            kind, extra = AuditKind.SIGNAL_APPROVED, {}
        else:
            kind, extra = AuditKind.SIGNAL_REJECTED, {"reasons": list(v.reasons)}
        entries.append(
            AuditEntry(
                kind,
                junction_id=cmd.signal_id,
                payload={"state": cmd.state, "time_s": cmd.time_s, "source": cmd.source, **extra},
            )
        )
    return entries


def changed_events(
    changed: Mapping[str, PriorityRequest],
    known: Mapping[str, Signature],
    principal: str | None,
    now_s: float,
) -> list[AuditEntry]:
    """A lifecycle entry for each request whose state changed since ``known``, an
    ``advised`` one where the arbitration's advice to it changed (who goes first where, and
    why: the choice explained), and a ``rerouted`` one where it was given a new route on its
    way (why, without the streets)."""
    out = []
    for rid, record in changed.items():
        if record.state.value != known[rid][0]:
            event = record.state.value if record.state.is_final else "updated"
            out.append(lifecycle_entry(rid, principal, event, record, now_s))
        if not record.state.is_final and signature(record)[2] != known[rid][2]:
            out.append(
                lifecycle_entry(rid, None, "advised", record, now_s, advice=advice_detail(record))
            )
        if not record.state.is_final and known[rid][3] and record.route != known[rid][3]:
            # A new route on the way: faster one opened, or the vehicle left its route.
            reason = _without_streets(record.history[-1][2] if record.history else "")
            out.append(lifecycle_entry(
                rid, None, "rerouted", record, now_s, reason=reason,
                signals_ahead=len(record.junctions),
            ))  # fmt: skip
    return out


def field_entry(event: FieldEvent) -> AuditEntry:
    """``field.fault``: a junction turned degraded (its controller unreachable, refusing the
    credentials, refusing a SET or answering what was not asked), with the reason;
    ``field.recovered``: it answers again (``reason``: what it had been). The controller is
    named by ``host:port``; no credential is ever written."""
    kind = FIELD_FAULT_KIND if event.kind == "fault" else FIELD_RECOVERED_KIND
    return AuditEntry(
        kind,
        junction_id=event.signal_id,
        payload={"controller": event.address, "reason": event.reason, "time_s": event.time_s},
    )


def strategy_entry(by: str, signal_id: str, old: str, new: str, now_s: float) -> AuditEntry:
    """An operator switched a junction's normal strategy."""
    return AuditEntry(
        AuditKind.ADMIN,
        by,
        junction_id=signal_id,
        payload={"action": "junction.strategy", "from": old, "to": new, "time_s": now_s},
    )


def save_created(
    rid: str,
    owner: str,
    record: PriorityRequest,
    now_s: float,
    detail: Mapping[str, Any],
    run: Mapping[str, Any] | None = None,
) -> Callable[[Session], None]:
    """The write of a new request: its row and its ``created`` audit record (``run``: what
    the runtime runs on, :func:`~clearway.service.run_config.run_config`, for a replay)."""
    spec = record.spec.model_dump(mode="json")
    extra = {} if run is None else {"run": dict(run)}

    def write(s: Session) -> None:
        request_store.save_request(
            s, rid, spec=spec, status=record.state.value, principal=owner,
            detail={**detail, **request_detail(record)}, created_s=now_s,
        )  # fmt: skip
        append_entries(s, [lifecycle_entry(rid, owner, "created", record, now_s, **extra)])

    return write


def save_changes(
    changed: Mapping[str, PriorityRequest], entries: Sequence[AuditEntry]
) -> Callable[[Session], None]:
    """The write of requests' new status and detail, and audit entries, in that order."""
    statuses = {rid: (r.state.value, request_detail(r)) for rid, r in changed.items()}
    entries = list(entries)

    def write(s: Session) -> None:
        # One read and one update for all: a request whose creation was not stored is
        # skipped; the detail is merged with the stored one, so the keys position updates
        # keep there (last_seq ...) stay.
        request_store.update_statuses(s, statuses)
        append_entries(s, entries)

    return write
