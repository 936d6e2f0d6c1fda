"""What the live runtime writes about requests and signals: audit entries and stored detail.

Pure functions from the desk's records and the guard's verdicts to
:class:`~clearway.storage.audit.AuditEntry` values and the ``detail`` JSON stored with a
request; the runtime writes them in one transaction per tick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clearway.control.priority.lifecycle import PriorityRequest
from clearway.signals.safety.guard import Verdict
from clearway.storage.audit import AuditEntry, AuditKind

#: What a request looked like when last written: its state and per-junction statuses.
Signature = tuple[str, dict[str, str]]


def signature(record: PriorityRequest) -> Signature:
    """The parts of a record whose change is written (not ETAs: they move every tick)."""
    return record.state.value, {k: v.value for k, v in record.junctions.items()}


def request_detail(record: PriorityRequest) -> dict[str, Any]:
    """The desk's view of a request as stored in its ``detail`` column."""
    return {
        "desk_id": record.request_id,
        "route": list(record.route),
        "junctions": {k: v.value for k, v in record.junctions.items()},
        "reason": record.history[-1][2] if record.history else "",
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
) -> AuditEntry:
    """``served``: the first control decision that took the request into account.

    ``commanded``: signals of its route that got a priority command in that decision;
    ``waiting``: signals held for it that could not change yet (a minimum green, yellow or
    red clearance still running — the guard's rules, not the service, set that wait).
    """
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
        commanded=commanded, waiting=waiting,
    )  # fmt: skip


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
    """A lifecycle entry for each request whose state changed since ``known``."""
    out = []
    for rid, record in changed.items():
        if record.state.value != known[rid][0]:
            event = record.state.value if record.state.is_final else "updated"
            out.append(lifecycle_entry(rid, principal, event, record, now_s))
    return out
