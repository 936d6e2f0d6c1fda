"""Traffic state snapshots: per-lane aggregates only (no individual private vehicles).

A :class:`TrafficState` is what detectors (or the digital twin's lane-area detectors) report at
one instant. Arrays are aligned with ``lane_ids`` so controllers can work on the whole city in
one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from clearway.errors import UnknownLaneError

#: The per-lane aggregates a :class:`TrafficState` holds, in its array order.
TRAFFIC_FIELDS = ("vehicle_count", "halting_count", "queue_m", "occupancy_pct", "mean_speed_mps")
#: The pedestrian aggregate a state may hold beside them: people walking on each watched
#: sidewalk stretch before a signalised crossing (``approach_ids``/``person_count``); a
#: controller asks for it by this name in its ``traffic_fields``.
PERSON_FIELD = "person_count"


@dataclass(frozen=True, slots=True)
class LaneState:
    """Aggregates of one detector-covered lane at one instant.

    Attributes
    ----------
    vehicle_count
        Vehicles on the detector (count; -1 where the detector does not measure it).
    halting_count
        Vehicles on the detector slower than 0.1 m/s (count; -1 where not measured, e.g. a
        field loop detector).
    queue_m
        Length of the standing queue from the stop line (m).
    occupancy_pct
        Share of the detector length covered by vehicles (0-100 %).
    mean_speed_mps
        Mean speed of the vehicles on the detector, -1 when empty (m/s).
    """

    lane_id: str
    vehicle_count: int
    halting_count: int
    queue_m: float
    occupancy_pct: float
    mean_speed_mps: float


@dataclass(frozen=True, eq=False)
class TrafficState:
    """Per-lane aggregates of the whole network at time ``time_s`` (s since start).

    ``approach_ids``/``person_count``: people on each sidewalk stretch leading to a signalised
    crossing (:class:`~clearway.network.walking.SidewalkApproach` ids; count; empty where
    nobody reads them, e.g. field detectors or a network without pedestrian detectors) -- a
    count per stretch, never who.
    """

    time_s: float
    lane_ids: tuple[str, ...]
    vehicle_count: np.ndarray
    halting_count: np.ndarray
    queue_m: np.ndarray
    occupancy_pct: np.ndarray
    mean_speed_mps: np.ndarray
    approach_ids: tuple[str, ...] = ()
    person_count: np.ndarray | None = None
    _lookup: Mapping[str, int] | None = field(repr=False, default=None, compare=False)

    def __post_init__(self) -> None:
        n = len(self.lane_ids)
        for name in ("vehicle_count", "halting_count", "queue_m", "occupancy_pct", "mean_speed_mps"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},) for {n} lanes")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        persons = np.asarray(
            np.zeros(len(self.approach_ids)) if self.person_count is None else self.person_count,
            dtype=float,
        )
        m = len(self.approach_ids)
        if persons.shape != (m,):
            raise ValueError(
                f"person_count has shape {persons.shape}, expected ({m},) for {m} sidewalk "
                "approaches"
            )
        persons.setflags(write=False)
        object.__setattr__(self, "person_count", persons)

    @classmethod
    def empty(cls, time_s: float = 0.0) -> TrafficState:
        """A state with no detector lanes (for controllers that need none)."""
        z = np.zeros(0)
        return cls(time_s, (), z, z, z, z, z)

    def lane(self, lane_id: str) -> LaneState:
        """Aggregates of one lane; :class:`UnknownLaneError` if no detector covers it."""
        try:
            i = self._index[lane_id]
        except KeyError:
            raise UnknownLaneError(lane_id, self.lane_ids, where="the detector state") from None
        return LaneState(
            lane_id,
            _count(self.vehicle_count[i]),
            _count(self.halting_count[i]),
            float(self.queue_m[i]),
            float(self.occupancy_pct[i]),
            float(self.mean_speed_mps[i]),
        )

    def has_lane(self, lane_id: str) -> bool:
        """True if a detector covers this lane."""
        return lane_id in self._index

    @property
    def _index(self) -> Mapping[str, int]:
        # Built on first lookup by lane id: the control loop makes a state every decision and
        # works on the arrays, so most states are never looked up by id.
        if self._lookup is None:
            lookup = MappingProxyType({lane: i for i, lane in enumerate(self.lane_ids)})
            object.__setattr__(self, "_lookup", lookup)
        return self._lookup  # type: ignore[return-value]


def _count(x: float) -> int:
    # A detector that does not measure a count (nan) reports -1, as an empty one does speed.
    return -1 if x != x else int(x)
