"""Request and response bodies of the HTTP API (pydantic v2).

Every model refuses unknown fields (``extra="forbid"``): a typo in a request is a 422 naming
the field, not a silently ignored option. Units are in the field names and descriptions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "dispatcher", "operator", "admin"]
USER_NAME_PATTERN = r"^[A-Za-z0-9_.@\-]{1,64}$"


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    """Every 4xx/5xx body."""

    detail: str = Field(description="what is wrong and what to do about it")
    error: str = Field(description="error class, e.g. UnknownJunctionError")
    fields: list[dict[str, Any]] = Field(
        default_factory=list, description="per-field problems of a 422: location and message"
    )


class HealthOut(Schema):
    status: Literal["ok", "degraded"]
    database: bool = Field(description="the database answered")
    network_loaded: bool
    version: str


class TokenOut(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in_s: int = Field(description="lifetime of the token (s)")
    expires_at: datetime = Field(description="expiry (UTC)")


class UserCreate(Schema):
    name: str = Field(pattern=USER_NAME_PATTERN, description="1-64 letters, digits or . _ @ -")
    role: Role


class KeyOut(Schema):
    key_id: str = Field(description="public id of the key (8 hex digits)")
    created_at: datetime
    revoked_at: datetime | None = None
    active: bool


class UserOut(Schema):
    name: str
    role: Role
    created_at: datetime
    keys: list[KeyOut]


class UserCreated(Schema):
    user: UserOut
    key_id: str
    key: str = Field(description="the API key; shown this once, only its hash is stored")


class KeyIssued(Schema):
    user: str
    key_id: str
    key: str = Field(description="the API key; shown this once, only its hash is stored")


class AuditRecordOut(Schema):
    seq: int = Field(description="position in the hash chain, 1, 2, 3 ...")
    time: str = Field(description="UTC, ISO 8601 with microseconds")
    kind: str
    principal: str | None
    junction_id: str | None
    request_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPageOut(Schema):
    records: list[AuditRecordOut]
    next_after_seq: int | None = Field(description="pass as after_seq for the next page")


class AuditVerifyOut(Schema):
    ok: bool
    checked: int = Field(description="records read")
    detail: str


class JunctionSummary(Schema):
    id: str = Field(description="traffic-light (signal) id")
    junction_ids: list[str] = Field(description="network junctions this signal drives")
    link_count: int = Field(description="links, i.e. characters of a state string")
    x_m: float = Field(description="network x of the first junction (m)")
    y_m: float = Field(description="network y of the first junction (m)")


class LinkOut(Schema):
    index: int = Field(description="index in the state string")
    from_lane: str | None
    to_lane: str | None
    direction: str | None = Field(description="s, l, r, t (U-turn) ... as SUMO writes it")
    is_crossing: bool
    min_green_s: float = Field(description="shortest green (s)")
    yellow_s: float = Field(description="shortest yellow (s)")
    clearance_s: float = Field(description="red clearance or pedestrian clearance (s)")
    foes: list[int] = Field(description="indices of links whose paths cross or merge this one")


class PhaseOut(Schema):
    duration_s: float
    state: str
    min_dur_s: float | None = None
    max_dur_s: float | None = None


class ProgramOut(Schema):
    program_id: str
    type: str
    offset_s: float
    cycle_s: float
    phases: list[PhaseOut]


class JunctionModel(JunctionSummary):
    links: list[LinkOut]
    default_program_id: str
    programs: list[ProgramOut]
