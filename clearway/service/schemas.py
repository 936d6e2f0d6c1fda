"""Request and response bodies of the HTTP API (pydantic v2).

Every model refuses unknown fields (``extra="forbid"``): a typo in a request is a 422 naming
the field, not a silently ignored option. Units are in the field names and descriptions.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

Role = Literal["viewer", "dispatcher", "operator", "admin", "transit"]
USER_NAME_PATTERN = r"^[A-Za-z0-9_.@\-]{1,64}$"
#: Largest sequence number (a signed 64-bit integer, what SQLite and PostgreSQL store).
MAX_SEQ = 2**63 - 1


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: Latest time stamp accepted: the end of year 9999 (unix seconds).
MAX_UNIX_S = 253_402_300_799.0
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:(?P<sec>\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
_TIMESTAMP_HELP = "RFC 3339 with an offset (2026-12-07T10:00:00.5Z) or unix seconds (a number)"


def unix_seconds(value: object) -> float:
    """A UTC time stamp as unix seconds: an RFC 3339 string (offset required: a time without
    one names no instant) or a number of unix seconds. ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be {_TIMESTAMP_HELP}, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"timestamp must be finite unix seconds, not {value}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be {_TIMESTAMP_HELP}")
    m = _RFC3339.match(value)
    if m is None:
        raise ValueError(f"timestamp {value[:64]!r} is not {_TIMESTAMP_HELP}")
    text, leap = value.upper(), m["sec"] == "60"
    if leap:  # a leap second: the instant one second after :59
        text = f"{text[: m.start('sec')]}59{text[m.end('sec') :]}"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"timestamp {value[:64]!r} is not a valid date and time: {exc}") from None
    return (stamp + timedelta(seconds=leap)).timestamp()


#: A UTC time stamp, held as unix seconds.
UtcTimestamp = Annotated[
    float,
    Field(ge=0, le=MAX_UNIX_S, allow_inf_nan=False),
    BeforeValidator(unix_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": 0, "maximum": MAX_UNIX_S},
            ]
        }
    ),
]


class LatLonIn(Schema):
    """A place as WGS84 coordinates (degrees)."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="latitude (degrees)")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="longitude (degrees)")


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
    runtime: Literal["running", "recovering", "stopped", "failed", "none"] = Field(
        "none", description="the live twin and control loop"
    )
    runtime_error: str | None = Field(None, description="why it last failed, if it did")
    runtime_recoveries: int = Field(0, description="times it was restarted after a failure")
    audit_backlog: int = Field(
        0, description="audit writes waiting for the database to come back (count)"
    )
    degraded: list[str] = Field(
        default_factory=list, description="what does not work now, in words"
    )


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


class SigningOut(Schema):
    key_id: str
    signing_secret: str = Field(description="HMAC key; shown this once, never stored")
    timestamp_header: str
    signature_header: str
    scheme: str = Field(description="what to sign and how")


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


# -- priority requests ------------------------------------------------------------------------
_ID_PATTERN = r"^[A-Za-z0-9_.:#\-]{1,64}$"
PriorityRole = Literal["ambulance", "fire", "police", "convoy"]
RequestStateName = Literal[
    "requested", "planned", "active", "completed", "cancelled", "expired", "rejected"
]


VehicleCount = Annotated[int, Field(ge=2, le=200, description="vehicles in the convoy (count)")]
ConvoyLength = Annotated[
    float,
    Field(
        gt=0, le=5000, allow_inf_nan=False, description="first vehicle's front to last one's rear (m)"
    ),
]
CruiseSpeed = Annotated[
    float, Field(gt=0, le=40, allow_inf_nan=False, description="speed the convoy keeps (m/s)")
]


class ConvoyIn(Schema):
    vehicle_count: VehicleCount
    length_m: ConvoyLength
    cruise_speed_mps: CruiseSpeed


def check_places(body: PriorityRequestCreate | ConvoyCreate) -> None:
    """Exactly one form of origin and of destination: an edge id, or coordinates."""
    for name in ("origin", "destination"):
        by_edge, by_coords = getattr(body, f"{name}_edge"), getattr(body, name)
        if (by_edge is None) == (by_coords is None):
            raise ValueError(
                f"give {name}_edge or {name} {{lat, lon}}, exactly one"
                + (" (both were given)" if by_edge is not None else "")
            )
    if body.origin is not None and body.origin_offset_m is not None:
        raise ValueError("origin_offset_m goes with origin_edge; with origin {lat, lon} leave it out")


class PriorityRequestCreate(Schema):
    """A request for free passage (shaped after a J2735 Signal Request Message)."""

    vehicle_id: str = Field(
        pattern=_ID_PATTERN,
        description="the priority vehicle (a convoy's lead); its id in the feed",
    )
    role: PriorityRole = Field(description="who asks; 'convoy' needs the convoy object")
    incident_id: str = Field(pattern=_ID_PATTERN, description="the dispatch incident served")
    origin_edge: str | None = Field(
        None, min_length=1, max_length=256, description="edge id the trip starts on"
    )
    origin_offset_m: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="distance along origin_edge (m); default 0"
    )
    origin: LatLonIn | None = Field(
        None, description="where the trip starts, as coordinates (instead of origin_edge)"
    )
    destination_edge: str | None = Field(
        None, min_length=1, max_length=256, description="edge id the trip ends on"
    )
    destination: LatLonIn | None = Field(
        None, description="where the trip ends, as coordinates (instead of destination_edge)"
    )
    importance: int = Field(14, ge=0, le=15, description="J2735 importance, 0 lowest - 15 highest")
    lease_s: float = Field(
        120.0,
        ge=1,
        le=300,
        allow_inf_nan=False,
        description="the request expires after this long without hearing of the vehicle (s)",
    )
    convoy: ConvoyIn | None = Field(None, description="required for role 'convoy' only")
    depart_in_s: float = Field(
        0.0,
        ge=0,
        le=86400,
        allow_inf_nan=False,
        description="leaves this long from now (s); the corridor is prepared for then",
    )
    max_duration_s: float = Field(
        1800.0,
        ge=60,
        le=4 * 3600,
        allow_inf_nan=False,
        description="it expires this long after leaving unless its owner renews it "
        "(POST .../renew), position updates or not (s)",
    )
    simulate: bool = Field(
        False,
        description="digital twin only: also drive the vehicle (a convoy's vehicles) in the "
        "simulation along the planned route, leaving now",
    )

    @model_validator(mode="after")
    def _convoy_matches_role(self) -> PriorityRequestCreate:
        check_places(self)
        if (self.role == "convoy") != (self.convoy is not None):
            raise ValueError(
                "role 'convoy' needs convoy {vehicle_count, length_m, cruise_speed_mps}"
                if self.role == "convoy"
                else f"convoy given for role {self.role!r}; use role 'convoy'"
            )
        return self


class JunctionStatusOut(Schema):
    signal_id: str = Field(description="traffic-light id on the route")
    status: str = Field(
        description="requested, processing, granted, rejected, watchOtherTraffic (SSM), or "
        "recovering (hold over, cut phases being served)"
    )
    eta_s: float | None = Field(
        None, description="predicted arrival at the stop line (traffic time, s), where planned"
    )
    eta_utc: datetime | None = Field(None, description="the same arrival in UTC")


class HistoryOut(Schema):
    time_s: float = Field(description="simulation/traffic time (s)")
    state: str
    reason: str


class ArrivalAdviceOut(Schema):
    """For the vehicle's display: another emergency vehicle goes first at a junction ahead;
    arriving no earlier than ``arrive_after_s`` it meets green without stopping."""

    signal_id: str = Field(description="the junction where the other vehicle goes first")
    yields_to: str = Field(description="desk id of the request that goes first there")
    green_from_s: float = Field(description="earliest green for this vehicle there (traffic s)")
    arrive_after_s: float = Field(description="advised arrival at the stop line (traffic s)")
    arrive_after_utc: datetime | None = Field(None, description="the same in UTC")
    speed_mps: float | None = Field(
        description="speed that arrives then (m/s); null when a stop cannot be avoided"
    )
    reason: str = Field(description="the arbitration's choice in words")


class PriorityRequestOut(Schema):
    """A request's status (shaped after a J2735 Signal Status Message)."""

    request_id: str
    vehicle_id: str
    role: str
    incident_id: str
    owner: str = Field(description="the principal who made it")
    state: str = Field(description="planned, active, completed, cancelled, expired or rejected")
    route: list[str] = Field(description="planned edge ids")
    junctions: list[JunctionStatusOut] = Field(description="per signal still ahead or recovering")
    created_s: float = Field(description="simulation time of creation (s)")
    depart_s: float | None = Field(None, description="planned departure (traffic time, s)")
    lease_expires_s: float = Field(description="expires then unless the vehicle is heard of (s)")
    deadline_s: float | None = Field(
        None, description="expires then unless renewed, whatever its positions (traffic s)"
    )
    created_utc: datetime | None = Field(None, description="created_s in UTC")
    lease_expires_utc: datetime | None = Field(None, description="lease_expires_s in UTC")
    deadline_utc: datetime | None = Field(None, description="deadline_s in UTC")
    flag: str | None = Field(
        None, description="why a position of its vehicle was refused (implausible ...), if one was"
    )
    convoy: ConvoyIn | None = None
    simulated: bool = Field(False, description="the twin drives a vehicle for it")
    advice: ArrivalAdviceOut | None = Field(
        None, description="when to arrive where another emergency vehicle goes first, if so"
    )
    history: list[HistoryOut]


class PositionIn(Schema):
    """Where the priority vehicle is: WGS84 ``lat``/``lon`` as an AVL unit sends them, or (the
    twin) an ``edge_id`` with ``offset_m``, exactly one of the two. Give ``seq`` (strictly
    increasing per request) and/or a time — ``timestamp`` (UTC) or ``time_s`` (traffic
    time), strictly increasing too; a stale, replayed, too old or future update is refused
    (409)."""

    seq: int | None = Field(
        None, ge=1, le=MAX_SEQ, description="sender's sequence number, 1, 2, 3 ..."
    )
    timestamp: UtcTimestamp | None = Field(
        None,
        description="when measured, UTC: RFC 3339 with an offset (2026-12-07T10:00:00.5Z) or "
        "unix seconds",
    )
    time_s: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="when measured (traffic time, s): the twin"
    )
    lat: float | None = Field(
        None, ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude (degrees)"
    )
    lon: float | None = Field(
        None, ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude (degrees)"
    )
    heading_deg: float | None = Field(
        None,
        ge=0,
        le=360,
        allow_inf_nan=False,
        description="direction of travel, degrees clockwise from north (GPS course)",
    )
    accuracy_m: float | None = Field(
        None,
        gt=0,
        le=1000,
        allow_inf_nan=False,
        description="1-sigma horizontal error of lat/lon (m), if the unit reports it",
    )
    edge_id: str | None = Field(
        None, min_length=1, max_length=256, description="edge the vehicle is on (the twin)"
    )
    offset_m: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="distance along edge_id (m); default 0"
    )
    speed_mps: float = Field(ge=0, le=70, allow_inf_nan=False, description="its speed (m/s)")

    @model_validator(mode="after")
    def _one_place_one_time(self) -> PositionIn:
        has_geo = self.lat is not None or self.lon is not None
        if has_geo and self.edge_id is not None:
            raise ValueError("give lat and lon, or edge_id (with offset_m), not both")
        if has_geo and (self.lat is None or self.lon is None):
            raise ValueError("give both lat and lon (WGS84 degrees)")
        if not has_geo and self.edge_id is None:
            raise ValueError("give the place: lat and lon (WGS84 degrees), or edge_id")
        if has_geo and self.offset_m is not None:
            raise ValueError("offset_m goes with edge_id; with lat and lon leave it out")
        if self.timestamp is not None and self.time_s is not None:
            raise ValueError("give timestamp (UTC) or time_s (traffic time), not both")
        if self.seq is None and self.time_s is None and self.timestamp is None:
            raise ValueError(
                "give seq, timestamp or time_s (or seq and a time) so stale updates can be "
                "refused"
            )
        return self


#: Most updates in one batch.
MAX_BATCH_UPDATES = 500


class PositionBatchItem(PositionIn):
    request_id: str = Field(pattern=r"^pr-[0-9a-f]{16}$", description="the request it is for")


class PositionBatchIn(Schema):
    """Many position updates in one call (a dispatch system's AVL feed): each is checked,
    stored and audited on its own; updates of one request are taken in the order given."""

    updates: list[PositionBatchItem] = Field(min_length=1, max_length=MAX_BATCH_UPDATES)


class PositionResult(Schema):
    request_id: str
    seq: int | None
    status: int = Field(description="201 accepted, else the status the update alone would get")
    stored_seq: int | None = None
    time_s: float | None = None
    time_utc: datetime | None = None
    error: str | None = None
    detail: str | None = None


class PositionBatchOut(Schema):
    accepted: int = Field(description="updates stored (count)")
    results: list[PositionResult] = Field(description="one per update, in the order sent")


class PositionAccepted(Schema):
    request_id: str
    seq: int | None = Field(description="the sender's seq, as sent")
    stored_seq: int = Field(description="position number in the store, 1, 2, 3 ...")
    time_s: float = Field(
        description="time of the position (traffic time, s); now if none was sent"
    )
    time_utc: datetime | None = Field(
        None, description="the same instant in UTC (none for a twin running at speed 0)"
    )


# -- junctions: live state and strategy -------------------------------------------------------
NormalStrategy = Literal["fixed-time", "max-pressure", "actuated"]


class JunctionRequestOut(Schema):
    request_id: str
    status: str = Field(description="SSM status at this junction, or 'recovering'")
    eta_s: float | None = Field(description="predicted arrival (traffic time, s)")
    eta_utc: datetime | None = Field(None, description="the same arrival in UTC")


class CrossingPedestriansOut(Schema):
    link_index: int = Field(description="the crossing's signal link index")
    waiting: int = Field(description="people calling for its walk (count; a lower bound)")
    walk: bool = Field(description="its walk is shown now")


class JunctionPedestriansOut(Schema):
    """People waiting at a junction's crossings: counts from the pedestrian detectors, kept
    until the walk is shown, as actuated and max-pressure control use them."""

    waiting: int = Field(description="people calling at all its crossings (count)")
    walk: bool = Field(description="a walk is shown at one of its crossings now")
    crossings: list[CrossingPedestriansOut]


class JunctionStateOut(Schema):
    signal_id: str
    time_s: float = Field(description="traffic time of the view (s)")
    state: str | None = Field(description="state string shown, one character per link")
    strategy: str | None = Field(description="normal control running it between holds")
    held: bool = Field(description="held for a priority vehicle now")
    recovering: bool = Field(description="serving the phases a hold cut")
    requests: list[JunctionRequestOut]
    pedestrians: JunctionPedestriansOut | None = Field(
        None, description="people waiting at its crossings; null without pedestrian detectors"
    )


class StrategyIn(Schema):
    strategy: NormalStrategy = Field(description="normal control for this junction from now")


class StrategyOut(Schema):
    signal_id: str
    strategy: NormalStrategy
    changed: bool = Field(description="false if it ran this strategy already")


# -- convoys ------------------------------------------------------------------------------------
class ConvoyTrip(Schema):
    """Who a convoy is, where it goes and its shape: what a convoy request and a booking share."""

    convoy_id: str = Field(pattern=_ID_PATTERN, description="the lead vehicle's id in the feed")
    incident_id: str = Field(pattern=_ID_PATTERN, description="the operation it belongs to")
    origin_edge: str | None = Field(None, min_length=1, max_length=256)
    origin_offset_m: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="along origin_edge (m); default 0"
    )
    origin: LatLonIn | None = Field(None, description="instead of origin_edge")
    destination_edge: str | None = Field(None, min_length=1, max_length=256)
    destination: LatLonIn | None = Field(None, description="instead of destination_edge")
    vehicle_count: VehicleCount
    length_m: ConvoyLength
    cruise_speed_mps: CruiseSpeed


class ConvoyCreate(ConvoyTrip):
    """A planned convoy (police escort): a priority request with role 'convoy'."""

    depart_in_s: float = Field(
        0.0, ge=0, le=86400, allow_inf_nan=False, description="leaves this long from now (s)"
    )
    importance: int = Field(12, ge=0, le=15, description="J2735 importance, 0 lowest - 15 highest")
    lease_s: float = Field(300.0, ge=1, le=300, allow_inf_nan=False, description="(s)")
    simulate: bool = Field(False, description="digital twin only: drive the convoy in it")

    @model_validator(mode="after")
    def _places(self) -> ConvoyCreate:
        check_places(self)
        return self

    def as_request(self) -> PriorityRequestCreate:
        return PriorityRequestCreate(
            vehicle_id=self.convoy_id,
            role="convoy",
            incident_id=self.incident_id,
            origin_edge=self.origin_edge,
            origin_offset_m=self.origin_offset_m,
            origin=self.origin,
            destination_edge=self.destination_edge,
            destination=self.destination,
            importance=self.importance,
            lease_s=self.lease_s,
            convoy=ConvoyIn(
                vehicle_count=self.vehicle_count,
                length_m=self.length_m,
                cruise_speed_mps=self.cruise_speed_mps,
            ),
            depart_in_s=self.depart_in_s,
            simulate=self.simulate,
        )
