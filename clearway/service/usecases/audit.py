"""Use cases of the audit log: query, verify, and what it says was done for one request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clearway.errors import ConflictError, UnknownReplayError
from clearway.service.auth import Principal
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


#: Audit kind of a re-run started from the service (who, which request).
REPLAY_STARTED_KIND = "audit.replay"


def start_replay(
    ctx: ServiceContext, principal: Principal, request_id: str
) -> tuple[dict[str, Any], bool]:
    """Start re-running ``request_id`` against the other strategies (in the background);
    (its job as the API shows it, whether it was started now). The log must know the
    request and verify (404 / 409, as :func:`incident_log`). A re-run started is audited
    (``audit.replay``: who started it, for which request); one already under way is not
    started again."""
    incident_log(ctx, request_id)
    job, started = ctx.replay_jobs().start(request_id)
    if started:
        ctx.audit.append(
            REPLAY_STARTED_KIND, principal=principal.name, request_id=request_id,
            payload={"out_dir": job.out_dir.name},
        )  # fmt: skip
    return job.to_dict(), started


def replay_status(ctx: ServiceContext, request_id: str) -> dict[str, Any]:
    """The latest re-run of ``request_id``: queued, running, done (with the report) or
    failed (with why); 404 if none was started in this service run."""
    job = ctx.replay_jobs().get(request_id)
    if job is None:
        raise UnknownReplayError(request_id, where="this service run")
    return job.to_dict()


def replay_figure(ctx: ServiceContext, request_id: str) -> Path:
    """The time–space diagram of the request's finished re-run (404 until there is one)."""
    job = ctx.replay_jobs().get(request_id)
    if job is None or job.figure is None or not job.figure.is_file():
        raise UnknownReplayError(request_id, where="the finished re-runs with a time-space diagram")
    return job.figure
