"""What a dispatcher or convoy planner asks for, and what the priority vehicle reports.

Shaped after SAE J2735: a :class:`PriorityRequestSpec` carries what a Signal Request Message
(SRM) does — requester, role, importance level 0-15, places or an explicit route, an optional
arrival window, for a convoy its size — and :class:`JunctionStatus` mirrors the Signal Status
Message (SSM) per junction. Input models are pydantic (they arrive over HTTP); everything is
immutable, so a request can be judged and logged without fear of it changing underneath.
Bad input raises :class:`pydantic.ValidationError` naming the field and what is allowed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Longest accepted lease (s): past this a lost vehicle would hold junctions for too long.
MAX_LEASE_S = 300.0
#: A request lives this long without renewal by default, and at most this long (s).
DEFAULT_MAX_DURATION_S = 1800.0
MAX_DURATION_S = 4 * 3600.0
DEFAULT_LEASE_S = 30.0


class Role(StrEnum):
    """Who asks (J2735 BasicVehicleRole, the ones that get priority)."""

    AMBULANCE = "ambulance"
    FIRE = "fire"
    POLICE = "police"
    CONVOY = "convoy"
    TRANSIT = "transit"
    OTHER = "other"


class RequestState(StrEnum):
    """Lifecycle: requested -> planned -> active -> completed | cancelled | expired | rejected."""

    REQUESTED = "requested"
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        """True once nothing more can happen to the request."""
        return self in _FINAL


_FINAL = frozenset(
    {RequestState.COMPLETED, RequestState.CANCELLED, RequestState.EXPIRED, RequestState.REJECTED}
)


class JunctionStatus(StrEnum):
    """Per-junction answer, as in an SSM's PrioritizationResponseStatus."""

    REQUESTED = "requested"
    PROCESSING = "processing"
    GRANTED = "granted"
    REJECTED = "rejected"
    WATCH_OTHER_TRAFFIC = "watchOtherTraffic"


_Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:#\-]+$")]
_Frozen = ConfigDict(frozen=True, extra="forbid")


class EdgePlace(BaseModel):
    """A place on the network: an edge id and the distance along it (m)."""

    model_config = _Frozen
    edge_id: Annotated[str, Field(min_length=1, max_length=256)]
    offset_m: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0


class LonLat(BaseModel):
    """A place given as WGS84 longitude/latitude (degrees); snapped to the nearest usable lane."""

    model_config = _Frozen
    lon: Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False)]
    lat: Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False)]


class XYPlace(BaseModel):
    """A place in the network's own coordinates (m): a GPS fix after projection (lon/lat to
    x/y), or a position an AVL emulator reports for a net without geo-reference. Matched onto
    the network by :mod:`clearway.network.matching`."""

    model_config = _Frozen
    x_m: Annotated[float, Field(allow_inf_nan=False)]
    y_m: Annotated[float, Field(allow_inf_nan=False)]


Place = EdgePlace | LonLat | XYPlace


class Convoy(BaseModel):
    """A platoon that must pass as one: the hold covers its whole length.

    Attributes
    ----------
    vehicle_count
        Vehicles in the convoy (2-200).
    length_m
        Length from the first vehicle's front to the last one's rear (m).
    cruise_speed_mps
        Speed the convoy keeps (m/s).
    """

    model_config = _Frozen
    vehicle_count: Annotated[int, Field(ge=2, le=200)]
    length_m: Annotated[float, Field(gt=0.0, le=5000.0, allow_inf_nan=False)]
    cruise_speed_mps: Annotated[float, Field(gt=0.0, le=40.0, allow_inf_nan=False)]

    @property
    def pass_time_s(self) -> float:
        """Time the convoy takes to pass a point at cruise speed (s)."""
        return self.length_m / self.cruise_speed_mps


class ArrivalWindow(BaseModel):
    """Desired arrival at the destination, as traffic times (s). A convoy booked for a
    departure window (:mod:`~clearway.control.priority.booking_windows`) carries the window's
    arrivals here: its span is the window's, which later bookings are checked against."""

    model_config = _Frozen
    earliest_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    latest_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.latest_s < self.earliest_s:
            raise ValueError(f"latest_s ({self.latest_s}) is before earliest_s ({self.earliest_s})")
        return self


class PriorityRequestSpec(BaseModel):
    """A request for free passage (SRM-shaped). Give ``origin`` and ``destination``, or ``route``.

    Attributes
    ----------
    requester_id
        The vehicle (or convoy) asking; position updates name it.
    role, importance
        Who asks, and the J2735 importance level 0 (lowest) - 15 (highest).
    incident_id
        The dispatch incident this trip serves (for the audit log).
    origin, destination
        Places (edge + offset, or lon/lat).
    route
        Explicit edge ids to follow instead of a planned route.
    arrival_window
        Optional desired arrival window.
    depart_s
        When the vehicle will leave its origin (traffic time, s), if known at dispatch: the
        corridor can then clear the way before the vehicle is first heard of.
    convoy
        Required when ``role`` is ``convoy``, refused otherwise.
    lease_s
        Without a position update for this long the request expires and every junction it
        held returns to normal through proper clearance (s).
    max_duration_s
        The longest a request lives without renewal, position updates or not (s): a corridor
        cannot be held indefinitely by one sender; the owner renews it explicitly.
    """

    model_config = _Frozen
    requester_id: _Id
    role: Role
    importance: Annotated[int, Field(ge=0, le=15)]
    incident_id: _Id
    origin: Place | None = None
    destination: Place | None = None
    route: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] | None = None
    arrival_window: ArrivalWindow | None = None
    depart_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    convoy: Convoy | None = None
    lease_s: Annotated[float, Field(ge=1.0, le=MAX_LEASE_S, allow_inf_nan=False)] = DEFAULT_LEASE_S
    max_duration_s: Annotated[
        float, Field(ge=60.0, le=MAX_DURATION_S, allow_inf_nan=False)
    ] = DEFAULT_MAX_DURATION_S

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.route is not None:
            if not self.route:
                raise ValueError("route must list at least one edge id")
            if self.destination is not None:
                raise ValueError("give either route or origin+destination, not both")
        elif self.destination is None:
            raise ValueError("give a destination (edge or lon/lat) or an explicit route")
        if (self.role is Role.CONVOY) != (self.convoy is not None):
            raise ValueError(
                "a convoy request needs convoy {vehicle_count, length_m, cruise_speed_mps}"
                if self.role is Role.CONVOY
                else f"convoy details given for role {self.role.value!r}; use role 'convoy'"
            )
        return self


class PositionUpdate(BaseModel):
    """Where the priority vehicle (a convoy's lead) is: the only vehicle clearway tracks.

    Attributes
    ----------
    time_s
        When the position was measured (traffic time, s): in the service on field equipment
        traffic time is UTC as unix seconds, in the twin the simulator's clock.
    place
        Edge + offset, lon/lat, or network x/y.
    speed_mps
        Its speed (m/s).
    heading_deg
        Direction of travel, degrees clockwise from north (0-360), if the sender knows it
        (GPS course over ground); helps the map matcher tell opposite carriageways apart.
    accuracy_m
        The sender's 1-sigma horizontal position error (m), if known.
    """

    model_config = _Frozen
    time_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    place: Place
    speed_mps: Annotated[float, Field(ge=0.0, le=70.0, allow_inf_nan=False)]
    heading_deg: Annotated[float, Field(ge=0.0, le=360.0, allow_inf_nan=False)] | None = None
    accuracy_m: Annotated[float, Field(gt=0.0, le=1000.0, allow_inf_nan=False)] | None = None
