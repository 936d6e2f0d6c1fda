"""Planned convoys with time windows: when a booked route holds each junction, and whether two
bookings clash there or a booking falls in a demand peak.

A convoy is booked to leave its origin somewhere in a departure window ``[start_s, end_s]``
(traffic time, s) at its cruise speed ``v``. At a signal ``d_m`` along the route its head
arrives from ``start_s + t_fast``, where ``t_fast`` drives each edge at the higher of its speed
limit and ``v`` (the corridor plans arrivals so: a convoy may well keep the limit), and its tail
has passed by ``end_s + f (d_m + length_m) / v`` (``f`` = :data:`LATE_FACTOR`: held up on the
way). The junction is held from the earliest arrival less the *lead* — what the guard needs to bring
the convoy's green up from anything it may be showing (longest minimum green, yellow and red
clearance) plus the discharge of the queue in front, the longest of those along the route so
far (the corridor flushes the queue ahead down the corridor) — until the latest tail passage plus the *trail* the cross streets wait for
clearance (yellow and red clearance). Two bookings conflict when they hold one signal in overlapping
windows (open intervals: one ending exactly when the other starts does not clash).

Demand peaks are time-of-day periods (``HH:MM-HH:MM``, optionally for one signal); a window
falls in a peak when it overlaps the period on any day. Traffic time is taken as seconds from
midnight: UTC unix seconds on field equipment (UTC time of day), the simulated clock on the twin
(a SUMO scenario starts at midnight).

Pure functions over the network model; no service, storage or simulator imports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from clearway.errors import ClearwayError, ConfigError, ConflictError
from clearway.network.model import Network
from clearway.signals.model import Intersection

#: Seconds in a day: peaks repeat with this period (s).
DAY_S = 86_400.0
#: A departure window may be at most this long (s): a longer one holds junctions' schedules
#: for hours on a guess; book two convoys instead.
MAX_WINDOW_S = 3_600.0
#: A window may start at most this far ahead of now (s), as a convoy's ``depart_in_s``.
MAX_AHEAD_S = 86_400.0
#: The tail may pass a signal up to this factor later than cruise speed allows (traffic in
#: front, a slower vehicle in the convoy). On the light and moderate 3x3 twin, one convoy each,
#: the corridor's real holds ended up to 12 % of the cruise travel time late.
LATE_FACTOR = 1.25

__all__ = [
    "DAY_S",
    "LATE_FACTOR",
    "MAX_AHEAD_S",
    "MAX_WINDOW_S",
    "BookedPassage",
    "BookingConflictError",
    "BookingWindowError",
    "HoldWindow",
    "PeakPeriod",
    "WindowConflict",
    "check_window",
    "cross_lanes",
    "find_conflicts",
    "held_vehicles",
    "hold_windows",
    "parse_peak_table",
    "peaks_hit",
    "RouteSignal",
    "route_signals",
    "signal_clearance_s",
]


class BookingWindowError(ClearwayError):
    """A booking's departure window cannot be booked: it ends before it starts, starts in the
    past, is too long or too far ahead (answered 422)."""


class BookingConflictError(ConflictError):
    """A booking would hold a junction another booking holds at the same time (409)."""

    def __init__(self, message: str, conflicts: Sequence[WindowConflict]) -> None:
        super().__init__(message)
        self.conflicts = tuple(conflicts)


@dataclass(frozen=True, slots=True)
class HoldWindow:
    """When a booking expects to hold one signal (traffic time, s).

    Attributes
    ----------
    signal_id
        The traffic light.
    distance_m
        How far along the route from the origin its stop line is (m).
    from_s, to_s
        Hold start (earliest head arrival less the lead) and end (latest tail passage plus
        the trail) (s).
    """

    signal_id: str
    distance_m: float
    from_s: float
    to_s: float

    @property
    def hold_s(self) -> float:
        """How long the signal is held (s)."""
        return self.to_s - self.from_s

    def overlaps(self, other: HoldWindow) -> bool:
        """Same signal, and the open intervals share a moment."""
        return (
            self.signal_id == other.signal_id
            and self.from_s < other.to_s
            and other.from_s < self.to_s
        )


@dataclass(frozen=True, slots=True)
class BookedPassage:
    """A confirmed booking (or an unfinished convoy) and the windows it holds."""

    booking_id: str
    windows: tuple[HoldWindow, ...]


@dataclass(frozen=True, slots=True)
class WindowConflict:
    """One clash: at ``ours.signal_id`` the plan's window overlaps booking ``booking_id``'s."""

    booking_id: str
    ours: HoldWindow
    theirs: HoldWindow


@dataclass(frozen=True, slots=True)
class PeakPeriod:
    """A daily demand peak (seconds from midnight; ``to_s < from_s`` wraps past midnight).

    Attributes
    ----------
    from_s, to_s
        Start and end time of day (s, 0-86400).
    signal_id
        The one signal it is known at; ``None``: every signal.
    """

    from_s: float
    to_s: float
    signal_id: str | None = None

    @property
    def label(self) -> str:
        """``07:00-09:00`` (and ``@signal``)."""
        text = f"{_hhmm(self.from_s)}-{_hhmm(self.to_s)}"
        return text if self.signal_id is None else f"{text}@{self.signal_id}"


def _hhmm(day_s: float) -> str:
    minutes = round(day_s / 60.0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_window(
    start_s: float,
    end_s: float,
    now_s: float,
    *,
    max_window_s: float = MAX_WINDOW_S,
    max_ahead_s: float = MAX_AHEAD_S,
    describe: object = None,
) -> None:
    """Refuse a departure window that cannot be booked (:class:`BookingWindowError`).

    Parameters
    ----------
    start_s, end_s, now_s
        The window and now (traffic time, s).
    max_window_s, max_ahead_s
        Longest window, and latest start from now (s).
    describe
        ``describe(t_s) -> str`` to show a time in messages (UTC text); default ``t s``.
    """
    show = describe if callable(describe) else (lambda t: f"{t:.1f} s (traffic time)")
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        raise BookingWindowError("the window's start and end must be finite times")
    if end_s < start_s:
        raise BookingWindowError(
            f"the window ends ({show(end_s)}) before it starts ({show(start_s)}); "
            "give an end after the start"
        )
    if start_s < now_s:
        raise BookingWindowError(
            f"the window starts in the past ({show(start_s)}, now is {show(now_s)}); "
            "book a window that starts now or later"
        )
    if end_s - start_s > max_window_s:
        raise BookingWindowError(
            f"the window is {end_s - start_s:.0f} s long, longer than the {max_window_s:.0f} s "
            "a booking may hold; narrow it, or book two convoys"
        )
    if start_s - now_s > max_ahead_s:
        raise BookingWindowError(
            f"the window starts {start_s - now_s:.0f} s from now, more than the "
            f"{max_ahead_s:.0f} s ahead bookings are taken; book it later"
        )


@dataclass(frozen=True, slots=True)
class RouteSignal:
    """A signal on a booked route.

    Attributes
    ----------
    signal_id
        The traffic light.
    distance_m
        From the origin to its stop line (m).
    approach_edge
        The route's edge into it.
    fast_s
        The soonest the convoy's head can be there after leaving (s): each edge driven at
        the higher of its speed limit and the cruise speed, as the corridor plans arrivals.
    """

    signal_id: str
    distance_m: float
    approach_edge: str
    fast_s: float


def route_signals(
    net: Network,
    route: Sequence[str],
    junction_signal: Mapping[str, str],
    speed_mps: float,
    origin_offset_m: float = 0.0,
) -> list[RouteSignal]:
    """Every signalised junction the route passes, in order, with its distance from the origin
    and the soonest arrival there (:class:`RouteSignal`); ``junction_signal`` maps junction
    ids to signal ids, ``speed_mps`` is the cruise speed (m/s)."""
    out: list[RouteSignal] = []
    along_m, fast_s, skip_m = 0.0, 0.0, origin_offset_m
    for edge_id in route[:-1]:
        edge = net.edge(edge_id)
        driven_m = max(edge.length_m - skip_m, 0.0)
        skip_m = 0.0
        along_m += driven_m
        fast_s += driven_m / max(edge.speed_mps, speed_mps)
        sid = junction_signal.get(edge.to_junction)
        if sid is not None:
            out.append(RouteSignal(sid, along_m, edge_id, fast_s))
    return out


def signal_clearance_s(intersection: Intersection) -> tuple[float, float]:
    """(lead, trail) of one signal (s): the lead brings the convoy's green up from any state
    (longest minimum green + yellow + red clearance), the trail gives the cross streets their
    clearance after the tail (longest yellow + red clearance)."""
    timings = intersection.timings
    yellow_s = max((t.yellow_s for t in timings), default=0.0)
    min_green_s = max((t.min_green_s for t in timings), default=0.0)
    clear_s = intersection.max_clearance_s
    return min_green_s + yellow_s + clear_s, yellow_s + clear_s


def hold_windows(
    signals: Iterable[RouteSignal],
    *,
    start_s: float,
    end_s: float,
    speed_mps: float,
    length_m: float,
    clearance_s: Mapping[str, tuple[float, float]],
    queue_s: Mapping[str, float] | None = None,
    late_factor: float = LATE_FACTOR,
) -> tuple[HoldWindow, ...]:
    """Each signal's hold window for a convoy leaving in ``[start_s, end_s]`` (s): from its
    soonest head arrival (leaving at ``start_s``, at the speed the corridor plans with) less the
    lead, to its latest tail passage (leaving at ``end_s``, ``late_factor`` times the cruise
    travel time) plus the trail.

    Parameters
    ----------
    signals
        The route's signals, from :func:`route_signals`.
    start_s, end_s
        Departure window (traffic time, s).
    speed_mps, length_m
        The convoy's cruise speed (m/s) and length (m).
    clearance_s
        (lead, trail) per signal id (s), from :func:`signal_clearance_s`; a signal missing
        from it gets none.
    queue_s
        Per signal id, the longest the queue on the route's approach may take to discharge
        ahead of the convoy (s): the corridor starts green that much earlier, and so no later
        at every signal after it (it flushes the platoon ahead down the corridor).
    late_factor
        How much longer than at cruise speed the way to a signal may take (>= 1).
    """
    if not late_factor >= 1.0:
        raise ValueError(f"late_factor must be >= 1, got {late_factor}")
    if not speed_mps > 0:
        raise ValueError(f"speed_mps must be > 0, got {speed_mps}")
    pass_s = length_m / speed_mps
    queues = queue_s or {}
    out = []
    ahead_s, platoon = 0.0, False  # from the first queue on, the lead is flushed onwards
    for sig in signals:
        lead_s, trail_s = clearance_s.get(sig.signal_id, (0.0, 0.0))
        queue = queues.get(sig.signal_id, 0.0)
        lead_s = max(lead_s + queue, ahead_s) if platoon else lead_s + queue
        platoon = platoon or queue > 0.0
        ahead_s = lead_s if platoon else 0.0
        cruise_s = sig.distance_m / speed_mps
        out.append(
            HoldWindow(
                sig.signal_id, sig.distance_m, start_s + min(sig.fast_s, cruise_s) - lead_s,
                end_s + late_factor * (cruise_s + pass_s) + trail_s,
            )
        )  # fmt: skip
    return tuple(out)


def find_conflicts(
    windows: Iterable[HoldWindow], bookings: Iterable[BookedPassage]
) -> list[WindowConflict]:
    """Every (booking, signal) where one of ``windows`` overlaps a booking's window there, in
    the order of the bookings, then of the windows."""
    ours = list(windows)
    found: list[WindowConflict] = []
    for booking in bookings:
        for theirs in booking.windows:
            found.extend(
                WindowConflict(booking.booking_id, w, theirs) for w in ours if w.overlaps(theirs)
            )
    return found


_PEAK = re.compile(
    r"^(?:(?P<sid>[^@\s]+)@)?(?P<a>\d{1,2}):(?P<am>\d{2})-(?P<b>\d{1,2}):(?P<bm>\d{2})$"
)


def parse_peak_table(text: str) -> tuple[PeakPeriod, ...]:
    """Peaks from ``"07:00-09:00, 16:30-18:30, B1@12:00-13:00"`` (times of day; ``SIGNAL@``
    for a peak at one signal only); empty text: none.

    Raises
    ------
    ConfigError
        An entry that is not ``[SIGNAL@]HH:MM-HH:MM`` with hours 0-24 and minutes 0-59, or
        a period of no length.
    """
    out = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        m = _PEAK.match(entry)
        if m is None:
            raise ConfigError(
                f"peak {entry!r} is not [SIGNAL@]HH:MM-HH:MM (e.g. 07:00-09:00 or B1@16:30-18:30)"
            )
        a_h, a_m, b_h, b_m = (int(m.group(k)) for k in ("a", "am", "b", "bm"))
        if max(a_h, b_h) > 24 or max(a_m, b_m) > 59:
            raise ConfigError(f"peak {entry!r}: hours are 0-24, minutes 0-59")
        from_s, to_s = a_h * 3600.0 + a_m * 60.0, b_h * 3600.0 + b_m * 60.0
        if from_s % DAY_S == to_s % DAY_S:
            raise ConfigError(f"peak {entry!r} has no length; give its start and end")
        out.append(PeakPeriod(from_s % DAY_S, to_s if to_s == DAY_S else to_s % DAY_S, m["sid"]))
    return tuple(out)


def peaks_hit(window: HoldWindow, peaks: Iterable[PeakPeriod]) -> list[PeakPeriod]:
    """The peaks (at its signal, or at every signal) the window overlaps on any day."""
    hit = []
    for peak in peaks:
        if peak.signal_id is not None and peak.signal_id != window.signal_id:
            continue
        length_s = (peak.to_s - peak.from_s) % DAY_S or DAY_S
        # The peak's occurrences that could touch the window: from the day before its start.
        day = math.floor(window.from_s / DAY_S) - 1
        while day * DAY_S + peak.from_s < window.to_s:
            a = day * DAY_S + peak.from_s
            if a < window.to_s and window.from_s < a + length_s:
                hit.append(peak)
                break
            day += 1
    return hit


def held_vehicles(flow_vph: float, hold_s: float) -> float:
    """Vehicles expected to wait through a hold: cross flow (veh/h) times its length (s)."""
    return max(flow_vph, 0.0) * max(hold_s, 0.0) / 3600.0


def cross_lanes(net: Network, signal_id: str, approach_edge: str) -> tuple[str, ...]:
    """The lanes into ``signal_id`` other than the convoy's own approach (``approach_edge``):
    the traffic a hold there makes wait."""
    return tuple(
        sorted(
            {
                lk.from_lane
                for lk in net.signal_links(signal_id)
                if lk.from_lane.rsplit("_", 1)[0] != approach_edge
            }
        )
    )
