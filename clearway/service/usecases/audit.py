"""Use cases of the audit log: query and verify."""

from __future__ import annotations

from typing import Any

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
