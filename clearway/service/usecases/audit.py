"""Use cases of the audit log: query, verify, and what it says was done for one request."""

from __future__ import annotations

from typing import Any

from clearway.errors import ConflictError
from clearway.service.context import ServiceContext
from clearway.service.schemas import (
    AuditPageOut,
    AuditRecordOut,
    AuditVerifyOut,
)


# -- audit --------------------------------------------------------------------------------
def query_audit(ctx: ServiceContext, **filters: Any) -> AuditPageOut:
    """One page of audit records matching every filter given (see ``AuditLog.query``)."""
    page = ctx.audit.query(**{k: v for k, v in filters.items() if v is not None})
    return AuditPageOut(
        records=[AuditRecordOut(**r.to_dict()) for r in page.records],
        next_after_seq=page.next_after_seq,
    )


def verify_audit(ctx: ServiceContext) -> AuditVerifyOut:
    """Walk the whole hash chain."""
    report = ctx.audit.verify()
    detail = "chain intact" if report.ok else report.message
    return AuditVerifyOut(ok=report.ok, checked=report.checked, detail=detail)


def incident_log(ctx: ServiceContext, request_id: str) -> dict[str, Any]:
    """What the log says the corridor did for ``request_id``: its decisions, the holds per
    junction and the advice, rebuilt from the chain after verifying it
    (:func:`~clearway.replay.source.read_incident`; re-running it against the other
    strategies is ``clearway replay``). ``UnknownRequestError`` (404) for a request the log
    does not have; a chain that does not verify is a 409 naming the first bad record."""
    from clearway.replay.source import ReplayError, read_incident

    try:
        incident = read_incident(ctx.sessions, request_id)
    except ReplayError as exc:
        raise ConflictError(str(exc)) from None
    return {**incident.log.to_dict(), "verified_records": incident.verified.checked}
