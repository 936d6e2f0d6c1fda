"""What the routes do, without HTTP: each function takes the context and the principal and
returns schema objects. Routes stay thin; tests and a later CLI can call these directly.

Administrative changes and their ``admin`` audit record are written in one transaction, so
there is never a change without its record, nor a record of a change that did not happen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

from clearway.control.priority.request import (
    Convoy,
    EdgePlace,
    PriorityRequestSpec,
    Role,
)
from clearway.errors import (
    ConflictError,
    PermissionDeniedError,
    RouteError,
    UnknownEdgeError,
    UnknownJunctionError,
    UnknownKeyError,
    UnknownUserError,
)
from clearway.service.auth import Permission, Principal, roles_with
from clearway.service.context import ServiceContext
from clearway.service.runtime import LiveRequest
from clearway.service.schemas import (
    AuditPageOut,
    AuditRecordOut,
    AuditVerifyOut,
    HistoryOut,
    JunctionModel,
    JunctionStatusOut,
    JunctionSummary,
    KeyIssued,
    KeyOut,
    LinkOut,
    PhaseOut,
    PositionAccepted,
    PositionIn,
    PriorityRequestCreate,
    PriorityRequestOut,
    ProgramOut,
    TokenOut,
    UserCreate,
    UserCreated,
    UserOut,
)
from clearway.service.tokens import issue_token
from clearway.signals.model import Intersection
from clearway.storage import requests as request_store
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


# -- priority requests --------------------------------------------------------------------
#: Audit kind of an accepted position update (no place in the payload: positions are personal
#: data kept only for the retention period, the audit log is kept for good).
POSITION_KIND = "request.position"


def _road_edge(ctx: ServiceContext, edge_id: str, field_name: str) -> str:
    net = ctx.require_network()
    if edge_id not in net.edges:
        roads = (e for e in net.edges if not e.startswith(":"))
        raise UnknownEdgeError(edge_id, roads, where=f"the network (field {field_name})")
    return edge_id


def _request_out(live: LiveRequest) -> PriorityRequestOut:
    rec = live.record
    junctions = [JunctionStatusOut(signal_id=k, status=v.value) for k, v in rec.junctions.items()]
    junctions += [
        JunctionStatusOut(signal_id=sid, status="recovering")
        for sid in live.recovering
        if sid not in rec.junctions
    ]
    return PriorityRequestOut(
        request_id=live.request_id,
        vehicle_id=rec.spec.requester_id,
        role=rec.spec.role.value,
        incident_id=rec.spec.incident_id,
        owner=live.owner,
        state=rec.state.value,
        route=list(rec.route),
        junctions=junctions,
        created_s=rec.created_s,
        lease_expires_s=rec.lease_expires_s,
        history=[HistoryOut(time_s=t, state=st.value, reason=r) for t, st, r in rec.history],
    )


def create_priority_request(
    ctx: ServiceContext, principal: Principal, body: PriorityRequestCreate
) -> PriorityRequestOut:
    """Hand a request to the live desk, leaving now; stored, audited, owned by ``principal``.

    Raises
    ------
    UnknownEdgeError
        ``origin_edge`` or ``destination_edge`` is not in the network (404); nothing changed.
    RouteError
        No drivable route between them (422); nothing changed.
    """
    runtime = ctx.require_runtime()
    origin = _road_edge(ctx, body.origin_edge, "origin_edge")
    destination = _road_edge(ctx, body.destination_edge, "destination_edge")
    spec = PriorityRequestSpec(
        requester_id=body.vehicle_id,
        role=Role(body.role),
        importance=body.importance,
        incident_id=body.incident_id,
        origin=EdgePlace(edge_id=origin, offset_m=body.origin_offset_m),
        destination=EdgePlace(edge_id=destination),
        convoy=Convoy(**body.convoy.model_dump()) if body.convoy is not None else None,
        lease_s=body.lease_s,
        depart_s=runtime.now_s(),
    )
    try:
        live = runtime.create(spec, principal.name)
    except RouteError as exc:
        raise RouteError(f"origin_edge -> destination_edge: {exc}") from None
    return _request_out(live)


def get_priority_request(ctx: ServiceContext, request_id: str) -> PriorityRequestOut:
    """One request's status per junction; :class:`UnknownRequestError` (404) if none."""
    return _request_out(ctx.require_runtime().get(request_id))


def list_priority_requests(ctx: ServiceContext) -> list[PriorityRequestOut]:
    """Every request of this service run, oldest first."""
    return [_request_out(live) for live in ctx.require_runtime().list()]


def _refuse(ctx: ServiceContext, principal: Principal, route: str, reason: str) -> NoReturn:
    ctx.metrics.auth_failures.labels("403").inc()
    ctx.audit.append(
        AuditKind.AUTH_FAILED,
        principal=principal.name,
        payload={"route": route, "status": 403, "reason": reason, "key_id": principal.key_id},
    )
    raise PermissionDeniedError(reason)


def cancel_priority_request(
    ctx: ServiceContext, principal: Principal, request_id: str
) -> PriorityRequestOut:
    """Cancel a request: its owner, or a role that may cancel any (operator); else 403."""
    runtime = ctx.require_runtime()
    live = runtime.get(request_id)
    if live.owner != principal.name and not principal.may(Permission.CANCEL_ANY_REQUEST):
        _refuse(
            ctx,
            principal,
            "/priority-requests/{request_id}",
            f"only the owner of {request_id!r} or one of the roles "
            f"{', '.join(roles_with(Permission.CANCEL_ANY_REQUEST))} may cancel it",
        )
    return _request_out(runtime.cancel(request_id, principal.name))


def add_position(
    ctx: ServiceContext, principal: Principal, request_id: str, body: PositionIn
) -> PositionAccepted:
    """Record a position update of the request's vehicle (its owner only).

    Raises
    ------
    PermissionDeniedError
        Not the owner (403, audited).
    ConflictError
        ``seq`` or ``time_s`` not after the last update's (stale or replayed), or the request
        is finished (409); nothing stored.
    UnknownEdgeError
        ``edge_id`` is not in the network (404).
    """
    runtime = ctx.require_runtime()
    live = runtime.get(request_id)
    if live.owner != principal.name:
        _refuse(
            ctx,
            principal,
            "/priority-requests/{request_id}/positions",
            f"only the owner of {request_id!r} may send its positions",
        )
    if live.record.state.is_final:
        raise ConflictError(
            f"request {request_id!r} is {live.record.state.value}; position updates are not "
            "accepted (make a new request)"
        )
    edge = _road_edge(ctx, body.edge_id, "edge_id")
    time_s = body.time_s if body.time_s is not None else runtime.now_s()
    with write_session(ctx.sessions) as session:
        # add_position locks the request row first: two updates of one vehicle serialise.
        pos = request_store.add_position(
            session, request_id, time_s=time_s, speed_mps=body.speed_mps, edge_id=edge,
            offset_m=body.offset_m,
        )  # fmt: skip
        detail = request_store.get_request(session, request_id).detail
        last_seq, last_time = detail.get("last_seq"), detail.get("last_time_s")
        if body.seq is not None and last_seq is not None and body.seq <= last_seq:
            raise ConflictError(
                f"seq {body.seq} is not after the last one ({last_seq}): a stale or replayed "
                "update; send a larger seq"
            )
        if body.time_s is not None and last_time is not None and body.time_s <= last_time:
            raise ConflictError(
                f"time_s {body.time_s} is not after the last update's ({last_time} s): a stale "
                "or replayed update"
            )
        changes: dict[str, Any] = {}
        if body.seq is not None:
            changes["last_seq"] = body.seq
        if body.time_s is not None:
            changes["last_time_s"] = body.time_s
        request_store.update_request(session, request_id, detail={**detail, **changes})
        append_entries(
            session,
            [
                AuditEntry(
                    POSITION_KIND,
                    principal.name,
                    request_id=request_id,
                    payload={"seq": body.seq, "stored_seq": pos.seq, "time_s": time_s},
                )
            ],
        )
    return PositionAccepted(request_id=request_id, seq=body.seq, stored_seq=pos.seq, time_s=time_s)
