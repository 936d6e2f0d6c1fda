"""Bodies of ``/convoys/plans``: a convoy booked for a departure window, its quote (hold window,
expected vehicles held and peak flags per junction, conflicts with other bookings) and the
booking it becomes once confirmed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from clearway.service.schemas import (
    ConvoyTrip,
    Schema,
    UtcTimestamp,
    check_places,
)

PlanState = Literal["quoted", "confirmed", "refused", "lapsed"]


class ConvoyPlanCreate(ConvoyTrip):
    """A convoy to book for a departure window ahead: give ``window_start`` and
    ``window_end`` (UTC, RFC 3339 or unix seconds), or ``window_start_s`` and
    ``window_end_s`` (traffic time: the twin's simulated seconds)."""

    window_start: UtcTimestamp | None = Field(None, description="earliest departure (UTC)")
    window_end: UtcTimestamp | None = Field(None, description="latest departure (UTC)")
    window_start_s: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="earliest departure (traffic time, s)"
    )
    window_end_s: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="latest departure (traffic time, s)"
    )
    importance: int = Field(12, ge=0, le=15, description="J2735 importance, 0 lowest - 15 highest")
    lease_s: float = Field(300.0, ge=1, le=300, allow_inf_nan=False, description="(s)")

    @model_validator(mode="after")
    def _consistent(self) -> ConvoyPlanCreate:
        check_places(self)  # type: ignore[arg-type]  # same place fields as ConvoyCreate
        utc = (self.window_start, self.window_end)
        traffic = (self.window_start_s, self.window_end_s)
        if any(v is not None for v in utc) == any(v is not None for v in traffic):
            raise ValueError(
                "give the window as window_start + window_end (UTC) or as window_start_s + "
                "window_end_s (traffic time), exactly one pair"
            )
        start, end = utc if any(v is not None for v in utc) else traffic
        if start is None or end is None:
            raise ValueError("the window needs both its start and its end")
        if end < start:
            raise ValueError(f"the window ends ({end}) before it starts ({start})")
        return self


class PlanJunctionOut(Schema):
    """One signal on the booked route: when it is held, and what that costs others."""

    signal_id: str
    distance_m: float = Field(description="from the origin to its stop line (m)")
    hold_from_s: float = Field(description="hold start (traffic time, s)")
    hold_to_s: float = Field(description="hold end (traffic time, s)")
    hold_from_utc: datetime | None = None
    hold_to_utc: datetime | None = None
    hold_s: float = Field(description="how long it is held (s)")
    cross_flow_vph: float = Field(description="flow on its other detected approaches (veh/h)")
    flow_source: Literal["history", "recent", "none"] = Field(
        description="cross flow from the detectors' time-of-day profile over the window, the "
        "last 15 minutes (no profile there yet), or none (no detector)"
    )
    detected_lanes: int = Field(description="other approach lanes with a detector (count)")
    expected_vehicles_held: float = Field(description="cross flow x hold time (vehicles)")
    peaks: list[str] = Field(description="why the window is in a demand peak (empty: it is not)")


class PlanConflictOut(Schema):
    """A booking that holds one of the plan's signals at the same time."""

    booking_id: str = Field(description="the other booking's plan id (or its request id)")
    request_id: str | None = Field(description="the other booking's priority request")
    convoy_id: str = Field(description="the other booking's convoy")
    signal_id: str
    ours_from_s: float
    ours_to_s: float
    theirs_from_s: float
    theirs_to_s: float
    theirs_from_utc: datetime | None = None
    theirs_to_utc: datetime | None = None


class ConvoyPlanOut(Schema):
    """A quote (``quoted``), a booking (``confirmed``, with its ``request_id``), or a quote
    whose confirmation was refused (``refused``) or that was never confirmed in time
    (``lapsed``)."""

    plan_id: str
    state: PlanState
    owner: str
    convoy_id: str
    incident_id: str
    vehicle_count: int
    length_m: float
    cruise_speed_mps: float
    window_start_s: float = Field(description="earliest departure (traffic time, s)")
    window_end_s: float = Field(description="latest departure (traffic time, s)")
    window_start_utc: datetime | None = None
    window_end_utc: datetime | None = None
    route: list[str]
    junctions: list[PlanJunctionOut]
    expected_vehicles_held: float = Field(description="over every junction (vehicles)")
    in_peak: bool = Field(description="some junction's window falls in a demand peak")
    conflicts: list[PlanConflictOut]
    confirmable: bool = Field(description="no conflict now: confirming would book it")
    demand_source: str = Field(description="what the cost and the peak flags are taken from")
    quoted_s: float = Field(description="when it was quoted (traffic time, s)")
    expires_s: float = Field(description="confirm it before this (traffic time, s)")
    request_id: str | None = Field(None, description="the booked priority request, once confirmed")
    reason: str | None = Field(None, description="why confirming it was refused")
