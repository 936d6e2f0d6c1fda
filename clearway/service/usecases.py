"""What the routes do, without HTTP: each function takes the context and the principal and
returns schema objects. Routes stay thin; tests and a later CLI can call these directly.

Administrative changes and their ``admin`` audit record are written in one transaction, so
there is never a change without its record, nor a record of a change that did not happen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clearway.errors import ConflictError, UnknownJunctionError, UnknownKeyError, UnknownUserError
from clearway.service.auth import Principal
from clearway.service.context import ServiceContext
from clearway.service.schemas import (
    AuditPageOut,
    AuditRecordOut,
    AuditVerifyOut,
    JunctionModel,
    JunctionSummary,
    KeyIssued,
    KeyOut,
    LinkOut,
    PhaseOut,
    ProgramOut,
    TokenOut,
    UserCreate,
    UserCreated,
    UserOut,
)
from clearway.service.tokens import issue_token
from clearway.signals.model import Intersection
from clearway.storage import users as user_store
from clearway.storage.audit import AuditEntry, AuditKind, append_entries
from clearway.storage.db import write_session
from clearway.storage.models import ApiKeyRow


# -- tokens -------------------------------------------------------------------------------
def exchange_key_for_token(ctx: ServiceContext, principal: Principal) -> TokenOut:
    """A bearer token for a caller who authenticated with an API key (audited)."""
    token, claims = issue_token(
        ctx.settings.secret_bytes(),
        sub=principal.name,
        role=principal.role,
        kid=principal.key_id,
        ttl_s=ctx.settings.token_ttl_s,
    )
    ctx.audit.append(
        "auth.token",
        principal=principal.name,
        payload={"key_id": principal.key_id, "exp": claims.exp_s},
    )
    return TokenOut(
        access_token=token,
        expires_in_s=claims.exp_s - claims.iat_s,
        expires_at=datetime.fromtimestamp(claims.exp_s, UTC),
    )


# -- users and keys (admin) ---------------------------------------------------------------
def _admin(principal: Principal, action: str, **payload: Any) -> AuditEntry:
    return AuditEntry(
        AuditKind.ADMIN,
        principal.name,
        payload={"action": action, "via_key_id": principal.key_id, **payload},
    )


def _user_out(info: user_store.UserInfo) -> UserOut:
    return UserOut(
        name=info.name,
        role=info.role,  # type: ignore[arg-type]
        created_at=info.created_at,
        keys=[
            KeyOut(
                key_id=k.key_id, created_at=k.created_at, revoked_at=k.revoked_at, active=k.active
            )
            for k in info.keys
        ],
    )


def list_users(ctx: ServiceContext) -> list[UserOut]:
    """Every user and their key ids (never keys)."""
    with ctx.sessions() as session:
        return [_user_out(u) for u in user_store.list_users(session)]


def create_user(ctx: ServiceContext, principal: Principal, body: UserCreate) -> UserCreated:
    """Create a user with a first API key (returned once).

    Raises
    ------
    ConflictError
        The name is taken; nothing changed.
    """
    with write_session(ctx.sessions) as session:
        if any(u.name == body.name for u in user_store.list_users(session)):
            raise ConflictError(f"user {body.name!r} exists; issue another key with POST "
                                f"/users/{body.name}/keys, or pick another name")  # fmt: skip
        info, key = user_store.add_user(session, body.name, body.role)
        key_id = info.keys[0].key_id
        append_entries(
            session, [_admin(principal, "user.add", user=body.name, role=body.role, key_id=key_id)]
        )
    return UserCreated(user=_user_out(info), key_id=key_id, key=key)


def issue_key(ctx: ServiceContext, principal: Principal, name: str) -> KeyIssued:
    """Another API key for an existing user (returned once).

    Raises
    ------
    UnknownUserError
        No such user; nothing changed.
    """
    with write_session(ctx.sessions) as session:
        names = [u.name for u in user_store.list_users(session)]
        if name not in names:
            raise UnknownUserError(name, names)
        key_id, key = user_store.issue_key(session, name)
        append_entries(session, [_admin(principal, "key.issue", user=name, key_id=key_id)])
    return KeyIssued(user=name, key_id=key_id, key=key)


def revoke_key(ctx: ServiceContext, principal: Principal, key_id: str) -> KeyOut:
    """Revoke a key; its tokens stop working at once. Revoking twice is not an error, but
    only the first revocation is audited as one.

    Raises
    ------
    UnknownKeyError
        No key has this id (no near matches are offered: key ids are not for guessing).
    """
    with write_session(ctx.sessions) as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            raise UnknownKeyError(key_id, (), where="the database")
        was_active = row.revoked_at is None
        info = user_store.revoke_key(session, key_id)
        if was_active:
            append_entries(session, [_admin(principal, "key.revoke", key_id=key_id)])
    return KeyOut(
        key_id=info.key_id, created_at=info.created_at, revoked_at=info.revoked_at, active=False
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


# -- junctions ----------------------------------------------------------------------------
def _find(ctx: ServiceContext, junction_id: str) -> Intersection:
    """The intersection by signal id, or by the id of a junction it drives."""
    net = ctx.require_network()
    inter = ctx.intersections.get(junction_id)
    if inter is not None:
        return inter
    for candidate in ctx.intersections.values():
        if junction_id in candidate.junction_ids:
            return candidate
    known = set(ctx.intersections) | set(net.signalised_junction_ids)
    raise UnknownJunctionError(junction_id, sorted(known), where=net._where)


def _summary(ctx: ServiceContext, inter: Intersection) -> dict[str, Any]:
    net = ctx.require_network()
    first = net.junctions.get(inter.junction_ids[0]) if inter.junction_ids else None
    return {
        "id": inter.signal_id,
        "junction_ids": list(inter.junction_ids),
        "link_count": inter.link_count,
        "x_m": first.x_m if first else 0.0,
        "y_m": first.y_m if first else 0.0,
    }


def list_junctions(ctx: ServiceContext) -> list[JunctionSummary]:
    """Every signalised junction of the network, by signal id."""
    ctx.require_network()
    return [JunctionSummary(**_summary(ctx, i)) for i in ctx.intersections.values()]


def junction_model(ctx: ServiceContext, junction_id: str) -> JunctionModel:
    """One junction's links, conflicts, safety timings and signal programs.

    Raises
    ------
    UnknownJunctionError
        Neither a signal id nor a signalised junction's id; names near matches.
    """
    inter = _find(ctx, junction_id)
    net = ctx.require_network()
    tl = net.traffic_light(inter.signal_id)
    by_index = {lk.signal_index: lk for lk in net.signal_links(inter.signal_id)}
    links = []
    for i, t in enumerate(inter.timings):
        lk = by_index.get(i)
        links.append(
            LinkOut(
                index=i,
                from_lane=lk.from_lane if lk else None,
                to_lane=lk.to_lane if lk else None,
                direction=lk.direction if lk else None,
                is_crossing=inter.is_crossing[i],
                min_green_s=t.min_green_s,
                yellow_s=t.yellow_s,
                clearance_s=t.clearance_s,
                foes=list(inter.foes_of(i)),
            )
        )
    programs = [
        ProgramOut(
            program_id=p.program_id,
            type=p.type,
            offset_s=p.offset_s,
            cycle_s=p.cycle_s,
            phases=[
                PhaseOut(
                    duration_s=ph.duration_s,
                    state=ph.state,
                    min_dur_s=ph.min_dur_s,
                    max_dur_s=ph.max_dur_s,
                )  # fmt: skip
                for ph in p.phases
            ],
        )
        for p in tl.programs.values()
    ]
    return JunctionModel(
        **_summary(ctx, inter),
        links=links,
        default_program_id=tl.default_program_id,
        programs=programs,
    )
