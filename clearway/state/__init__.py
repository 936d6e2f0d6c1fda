"""Traffic state: aggregate, per-lane detector data."""

from clearway.state.traffic import LaneState, TrafficState

__all__ = ["LaneState", "TrafficState"]
