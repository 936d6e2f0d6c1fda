"""Traffic time and UTC: the one mapping between the controller's clock and the field's.

The controller counts *traffic time* (``*_s``). With the digital twin it is the simulator's
clock, which starts at 0 and runs at ``speed`` times real time; on field equipment it is UTC
as unix seconds. An AVL unit stamps its GPS fixes in UTC. :class:`TrafficClock` converts
between the two — a straight line, ``traffic_s = (utc_s - epoch_utc_s) * speed`` — and
:func:`check_sample_time` judges a sample's time against now: not too old, not from the
future, not before the clock began.

Field mode is :data:`FIELD_CLOCK` (epoch 0, speed 1: the identity on unix seconds). The twin's
clock is re-anchored after every tick (:meth:`TrafficClock.anchored`), because the twin does
not keep perfect pace: a tick woken early by a new request runs ahead, a slow one lags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from clearway.errors import ConfigError, ConflictError

__all__ = [
    "FIELD_CLOCK",
    "SampleTimeError",
    "TrafficClock",
    "check_sample_time",
    "iso_utc",
    "utc_datetime",
]


class SampleTimeError(ConflictError):
    """A position's time does not fit the service's clock: too old, from the future, or before
    the twin's clock began (409, like a stale or replayed update: the body is well formed, but
    it conflicts with the time now)."""


@dataclass(frozen=True, slots=True)
class TrafficClock:
    """Traffic time as a linear function of UTC.

    Attributes
    ----------
    epoch_utc_s
        The UTC instant at which traffic time is 0 (unix seconds).
    speed
        Traffic seconds per real second (> 0).
    """

    epoch_utc_s: float
    speed: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epoch_utc_s) and math.isfinite(self.speed) and self.speed > 0):
            raise ConfigError(
                f"a traffic clock needs a finite epoch and a speed > 0, not epoch "
                f"{self.epoch_utc_s} s, speed {self.speed}; a twin running as fast as it can "
                "(speed 0) has no UTC equivalent"
            )

    @classmethod
    def anchored(cls, traffic_s: float, utc_s: float, speed: float) -> TrafficClock:
        """The clock on which traffic time ``traffic_s`` is the instant ``utc_s`` (unix s)."""
        return cls(epoch_utc_s=utc_s - traffic_s / speed, speed=speed)

    def to_traffic_s(self, utc_s: float) -> float:
        """Traffic time (s) of a UTC instant (unix seconds)."""
        return (utc_s - self.epoch_utc_s) * self.speed

    def to_utc_s(self, traffic_s: float) -> float:
        """UTC instant (unix seconds) of a traffic time (s)."""
        return self.epoch_utc_s + traffic_s / self.speed


#: Field equipment: traffic time is UTC as unix seconds.
FIELD_CLOCK = TrafficClock(epoch_utc_s=0.0, speed=1.0)


def utc_datetime(utc_s: float) -> datetime:
    """A unix time (s) as an aware UTC datetime."""
    return datetime.fromtimestamp(utc_s, UTC)


def iso_utc(utc_s: float) -> str:
    """A unix time (s) as RFC 3339 UTC text with milliseconds (``...T10:00:00.500Z``)."""
    return utc_datetime(utc_s).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_sample_time(
    sample_utc_s: float,
    now_utc_s: float,
    *,
    max_age_s: float,
    tolerance_s: float,
    clock: TrafficClock,
) -> float:
    """The traffic time (s) of a sample taken at ``sample_utc_s``, if the service may use it.

    Parameters
    ----------
    sample_utc_s, now_utc_s
        When the sample was taken, and now (unix seconds).
    max_age_s
        Oldest acceptable sample (real seconds).
    tolerance_s
        How far in the future a sample may be, for the sender's clock error (real seconds).
    clock
        The service's traffic clock.

    Raises
    ------
    SampleTimeError
        Older than ``max_age_s``, more than ``tolerance_s`` ahead of now, or before traffic
        time 0 (taken before the twin started); the message names the sample's time, now and
        the limit.
    """
    age_s = now_utc_s - sample_utc_s
    when = f"sample time {iso_utc(sample_utc_s)} (traffic {clock.to_traffic_s(sample_utc_s):.3f} s)"
    now = f"now {iso_utc(now_utc_s)} (traffic {clock.to_traffic_s(now_utc_s):.3f} s)"
    if age_s > max_age_s:
        raise SampleTimeError(
            f"{when} is {age_s:.3f} s old at {now}, older than the limit of {max_age_s:g} s "
            "(CLEARWAY_MAX_POSITION_AGE_S): too old to steer signals by; send fresh positions"
        )
    if -age_s > tolerance_s:
        raise SampleTimeError(
            f"{when} is {-age_s:.3f} s in the future at {now}, more than the clock tolerance of "
            f"{tolerance_s:g} s (CLEARWAY_CLOCK_TOLERANCE_S); check the sender's clock (GPS/NTP "
            "time, UTC)"
        )
    traffic_s = clock.to_traffic_s(sample_utc_s)
    if traffic_s < 0:
        raise SampleTimeError(
            f"{when} is before traffic time 0 ({iso_utc(clock.to_utc_s(0.0))}, when the twin's "
            f"clock started), at {now}; send positions taken since"
        )
    return traffic_s
