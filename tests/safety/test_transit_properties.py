"""Conditional transit priority never preempts (hypothesis, against an oracle written apart).

For any phase window, bus calls, settings and time, the end :func:`decide` gives the shown
green phase is one the oracle allows: the normal end; or later, by at most
``max_extension_s``, exactly when a late bus served now gets through then; or earlier, by at
most ``max_early_s``, never before its minimum green nor before now, only for a late bus whose
movement the next green phase serves, arriving before that green would start, and while no
late bus served now still needs the green.
A bus that is not late changes nothing.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearway.control.priority.transit import (
    BusCall,
    PhaseWindow,
    Served,
    TransitSettings,
    decide,
)

TOL = 1e-9
times = st.floats(0.0, 300.0, allow_nan=False)
limits = st.floats(0.0, 30.0, allow_nan=False)


@st.composite
def cases(draw):
    normal = draw(times)
    floor = draw(st.floats(normal - 40.0, normal + 5.0, allow_nan=False))
    window = PhaseWindow(normal, floor, draw(st.floats(0.0, 8.0)))
    settings = TransitSettings(
        draw(st.floats(0.0, 120.0)), draw(limits), draw(limits), draw(st.floats(0.0, 5.0))
    )
    calls = draw(
        st.lists(
            st.builds(BusCall, times, st.floats(-200.0, 400.0), st.sampled_from(list(Served))),
            max_size=4,
        )
    )
    now = draw(st.floats(max(floor - 50.0, 0.0), normal + 1.0, allow_nan=False))
    return window, calls, settings, now


def allowed(
    window: PhaseWindow, calls: list[BusCall], s: TransitSettings, now: float, end: float
) -> bool:
    """The oracle: whether ``end`` is an end transit priority may give the phase."""
    n = window.normal_end_s
    if abs(end - n) <= TOL:
        return True
    late = [c for c in calls if c.lateness_s > s.late_threshold_s]
    if end > n:
        if end > n + s.max_extension_s + TOL:
            return False
        return any(c.served is Served.NOW and abs(c.eta_s + s.pass_s - end) <= TOL for c in late)
    # Ending earlier than the program: an early green, within every limit.
    still_needed = any(
        c.served is Served.NOW and c.eta_s + s.pass_s <= n + s.max_extension_s for c in late
    )
    return (
        not still_needed
        and any(c.served is Served.NEXT and c.eta_s < n + window.gap_s for c in late)
        and end >= n - s.max_early_s - TOL
        and end >= window.floor_end_s - TOL
        and end >= now - TOL
    )


@given(cases())
def test_the_end_is_one_the_oracle_allows(case) -> None:
    window, calls, settings, now = case
    end = decide(window, calls, settings, now).end_s
    assert allowed(window, calls, settings, now, end), (window, calls, settings, now, end)


@given(cases())
def test_buses_on_time_change_nothing(case) -> None:
    window, calls, settings, now = case
    on_time = [
        BusCall(c.eta_s, min(c.lateness_s, settings.late_threshold_s), c.served) for c in calls
    ]
    assert decide(window, on_time, settings, now).end_s == window.normal_end_s


@given(cases())
def test_never_below_min_green_unless_the_program_itself_is(case) -> None:
    window, calls, settings, now = case
    end = decide(window, calls, settings, now).end_s
    assert end >= min(window.normal_end_s, window.floor_end_s) - TOL
