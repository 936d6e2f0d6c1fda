"""What the corridor did for one request, rebuilt from audit records alone.

The log holds, per request, its lifecycle (``request`` records: ``created`` — with the run's
configuration since replays exist —, ``served``, ``updated``, ``advised``, ``renewed``,
``restored``, a final state) and, per signal, every change the guard approved and every
command it refused (``signal.approved`` / ``signal.rejected``, with the command's
``source``). It does not link a signal command to a request: that would put the vehicle's
route in a record kept for good, and where a vehicle went is personal data (it is redacted
from the request's row after the retention period).

So a *hold* is read as the priority strategy's commands at a signal during the request's
life: it starts with the strategy's first approved change there after the request was created,
runs while the signal's changes come from the strategy (approach, hold, recovery), and ends
with the first approved change from any other source (the normal controller took the signal
back). A run that starts after the request ended is not its. With other requests live at the
same time a hold may be theirs as well: :attr:`LoggedHold.shared_with` names them.

Pure functions over :class:`~clearway.storage.audit.AuditRecord` values; reading them from a
database is :mod:`clearway.replay.source`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from clearway.storage.audit import AuditKind, AuditRecord

#: Lifecycle events that end a request.
FINAL_EVENTS = ("completed", "cancelled", "expired", "rejected")
#: Priority source assumed for records written before the run's configuration was logged.
DEFAULT_PRIORITY_SOURCE = "corridor"


@dataclass(frozen=True, slots=True)
class LoggedCommand:
    """One approved change at a signal: audit ``seq``, traffic time (s), state, source."""

    seq: int
    time_s: float
    state: str
    source: str


@dataclass(frozen=True)
class LoggedHold:
    """The priority strategy's commands at one signal for the request.

    Attributes
    ----------
    signal_id
        The signal.
    start_s
        Traffic time of its first command (s).
    end_s
        When the normal controller took the signal back (s): its first approved change
        after the hold; ``None`` if the log has none (yet).
    commands
        The strategy's approved changes, in order.
    rejected
        Commands of the strategy the guard refused at this signal during the hold (count).
    shared_with
        Other requests live during the hold (the log cannot tell whose it was).
    """

    signal_id: str
    start_s: float
    end_s: float | None
    commands: tuple[LoggedCommand, ...]
    rejected: int = 0
    shared_with: tuple[str, ...] = ()

    @property
    def last_command_s(self) -> float:
        """Traffic time of the strategy's last change here (s)."""
        return self.commands[-1].time_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "signal_id": self.signal_id,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": None if self.end_s is None else round(self.end_s - self.start_s, 3),
            "commands": [asdict(c) for c in self.commands],
            "rejected": self.rejected,
            "shared_with": list(self.shared_with),
        }


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A lifecycle record of the request: ``seq``, traffic time (s), event, state, reason,
    who (``None``: the runtime itself) and the record's other payload fields."""

    seq: int
    time_s: float
    event: str
    state: str
    reason: str
    principal: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IncidentLog:
    """A request as its audit records tell it.

    Attributes
    ----------
    request_id, requester_id, incident_id
        Which request, vehicle and incident.
    events
        Its lifecycle records, in order.
    holds
        Per signal, in order of their start.
    run
        The runtime's configuration from the ``created`` record (``None`` in records
        written before it was logged).
    signals
        The signals read for holds (the request's route, or every signal the strategy
        commanded while it lived).
    """

    request_id: str
    requester_id: str
    incident_id: str
    events: tuple[LoggedEvent, ...]
    holds: tuple[LoggedHold, ...]
    run: dict[str, Any] | None
    signals: tuple[str, ...]

    @property
    def created(self) -> LoggedEvent:
        """The ``created`` record (the first)."""
        return self.events[0]

    @property
    def final(self) -> LoggedEvent | None:
        """The record that ended it; ``None`` if it had not ended when the log was read."""
        return next((e for e in self.events if e.event in FINAL_EVENTS), None)

    @property
    def served(self) -> LoggedEvent | None:
        """Its first control decision, if logged."""
        return next((e for e in self.events if e.event == "served"), None)

    @property
    def advice(self) -> list[dict[str, Any]]:
        """Every arbitration advice it was given (where, behind whom, when, why), with the
        traffic time (s) it was given at; ``advice`` ``None`` when it was withdrawn."""
        return [
            {"time_s": e.time_s, "seq": e.seq, "advice": e.extra.get("advice")}
            for e in self.events
            if e.event == "advised"
        ]

    def holds_at(self, signal_id: str) -> list[LoggedHold]:
        """The holds at one signal, in order."""
        return [h for h in self.holds if h.signal_id == signal_id]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        served = self.served
        final = self.final
        return {
            "request_id": self.request_id,
            "requester_id": self.requester_id,
            "incident_id": self.incident_id,
            "created_s": self.created.time_s,
            "final": None
            if final is None
            else {
                "event": final.event,
                "time_s": final.time_s,
                "reason": final.reason,
            },  # fmt: skip
            "served": None
            if served is None
            else {
                "time_s": served.time_s,
                "latency_ms": served.extra.get("latency_ms"),
                "commanded": served.extra.get("commanded", []),
                "waiting": served.extra.get("waiting", []),
            },  # fmt: skip
            "events": [asdict(e) for e in self.events],
            "advice": self.advice,
            "signals": list(self.signals),
            "holds": [h.to_dict() for h in self.holds],
            "run": self.run,
        }


def lifecycle(records: Iterable[AuditRecord]) -> tuple[LoggedEvent, ...]:
    """The ``request`` records of one request, as events, in ``seq`` order."""
    out = []
    for r in sorted(records, key=lambda r: r.seq):
        if r.kind != AuditKind.REQUEST.value:
            continue
        p = dict(r.payload)
        event, state = str(p.pop("event", "")), str(p.pop("state", ""))
        reason, time_s = str(p.pop("reason", "")), float(p.pop("time_s", 0.0))
        for key in ("requester_id", "incident_id"):
            p.pop(key, None)
        out.append(LoggedEvent(r.seq, time_s, event, state, reason, r.principal, p))
    return tuple(out)


def holds_at(
    signal_id: str,
    records: Iterable[AuditRecord],
    *,
    source: str,
    final_seq: int | None,
) -> list[LoggedHold]:
    """The holds at ``signal_id`` from its signal records after the request's creation.

    Parameters
    ----------
    records
        ``signal.approved`` / ``signal.rejected`` records of this signal with ``seq`` after
        the ``created`` record, in ``seq`` order; read only as far as needed (a generator
        over database pages is fine).
    source
        The priority strategy's command source (``corridor``, ``local``).
    final_seq
        ``seq`` of the record that ended the request; ``None``: it had not ended.
    """
    holds: list[LoggedHold] = []
    cmds: list[LoggedCommand] = []
    rejected = 0
    for r in records:
        if r.junction_id != signal_id:
            continue
        late = final_seq is not None and r.seq > final_seq
        src = str(r.payload.get("source", ""))
        if r.kind == AuditKind.SIGNAL_REJECTED.value:
            rejected += int(bool(cmds) and src == source)
            continue
        if r.kind != AuditKind.SIGNAL_APPROVED.value:
            continue
        cmd = LoggedCommand(r.seq, float(r.payload.get("time_s", 0.0)),
                            str(r.payload.get("state", "")), src)  # fmt: skip
        if src == source:
            if not cmds and late:
                break  # a later run of the strategy: another request's
            cmds.append(cmd)
        elif cmds:
            holds.append(LoggedHold(signal_id, cmds[0].time_s, cmd.time_s, tuple(cmds), rejected))
            cmds, rejected = [], 0
        elif late:
            break
    if cmds:
        holds.append(LoggedHold(signal_id, cmds[0].time_s, None, tuple(cmds), rejected))
    return holds


def rebuild(
    request_id: str,
    request_records: Sequence[AuditRecord],
    signal_records: Mapping[str, Iterable[AuditRecord]],
    *,
    lifetimes: Mapping[str, tuple[int, int | None]] | None = None,
) -> IncidentLog:
    """The :class:`IncidentLog` of ``request_id``.

    Parameters
    ----------
    request_records
        Its ``request`` records (the ``created`` one among them).
    signal_records
        Per signal to read, its signal records after the ``created`` record, in ``seq``
        order (see :func:`holds_at`).
    lifetimes
        Other requests' (created seq, final seq or ``None``), to name those live during a
        hold.
    """
    events = lifecycle(request_records)
    if not events or events[0].event != "created":
        raise ValueError(f"the records of {request_id!r} do not start with its creation")
    first = next(r for r in request_records if r.seq == events[0].seq)
    run = events[0].extra.get("run")
    source = str(run.get("strategy")) if run else DEFAULT_PRIORITY_SOURCE
    final = next((e for e in events if e.event in FINAL_EVENTS), None)
    final_seq = None if final is None else final.seq
    holds = []
    for sid, records in signal_records.items():
        for h in holds_at(sid, records, source=source, final_seq=final_seq):
            last = h.commands[-1].seq
            shared = tuple(sorted(
                rid for rid, (c, f) in (lifetimes or {}).items()
                if rid != request_id and c <= last and (f is None or f >= h.commands[0].seq)
            ))  # fmt: skip
            holds.append(LoggedHold(h.signal_id, h.start_s, h.end_s, h.commands, h.rejected,
                                    shared))  # fmt: skip
    holds.sort(key=lambda h: (h.commands[0].seq, h.signal_id))
    return IncidentLog(
        request_id=request_id,
        requester_id=str(first.payload.get("requester_id", "")),
        incident_id=str(first.payload.get("incident_id", "")),
        events=events,
        holds=tuple(holds),
        run=dict(run) if run else None,
        signals=tuple(signal_records),
    )
