"""Priority for emergency vehicles and convoys: requests and their lifecycle (SAE J2735
SRM/SSM-shaped). The corridor planner, arbitration and recovery build on these."""

from clearway.control.priority.lifecycle import PriorityRequest, RequestStateError
from clearway.control.priority.request import (
    ArrivalWindow,
    Convoy,
    EdgePlace,
    JunctionStatus,
    LonLat,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
    Role,
    XYPlace,
)

__all__ = [
    "ArrivalWindow",
    "Convoy",
    "EdgePlace",
    "JunctionStatus",
    "LonLat",
    "PositionUpdate",
    "PriorityRequest",
    "PriorityRequestSpec",
    "RequestState",
    "RequestStateError",
    "Role",
    "XYPlace",
]
