"""Conditional transit priority in the twin: two bus lines on a 3x3 grid, 15 minutes, same seed
with and without it. Late buses get green extensions and early greens within their limits,
arrive less late at their last stop, no signal link waits much longer for its green than
under the plain program, the monitor sees nothing, and buses on time change nothing."""

from __future__ import annotations

import pytest

from clearway.control.priority.transit import TransitSettings
from clearway.evaluation.transit_run import run_buses, spread

pytestmark = pytest.mark.sumo

SETTINGS = TransitSettings(late_threshold_s=60.0, max_extension_s=10.0, max_early_s=10.0)


def test_late_buses_gain_within_limits_and_every_movement_is_still_served(tmp_path):
    kw = {"seed": 1, "size": "3x3", "end_s": 900.0}
    none = run_buses(tmp_path, transit=False, **kw)
    with_tp = run_buses(tmp_path, transit=True, settings=SETTINGS, **kw)
    for m in (none, with_tp):
        assert m.safety_violations == 0 and m.guard_rejections == 0
        assert m.buses == 4 and m.unfinished_buses == 0
    assert with_tp.extensions + with_tp.early_greens > 0
    assert all(0 < moved <= 10.0 + 1.0 for _, _, _, moved in with_tp.actions)  # one tick slack
    assert (
        spread(with_tp.lateness_last_stop_s)["median_s"]
        < spread(none.lateness_last_stop_s)["median_s"]
    )
    assert with_tp.bus_time_loss_s < none.bus_time_loss_s
    # No phase skipped: every movement's red grows by at most one extension plus one early green.
    assert with_tp.longest_red_s <= none.longest_red_s + 20.0 + 1.0
    assert with_tp.others_time_loss_s <= 1.1 * none.others_time_loss_s
    # Conditional: with no bus late enough, the signals run exactly as without transit priority.
    never = run_buses(tmp_path, transit=True, settings=TransitSettings(late_threshold_s=1e9), **kw)
    assert never.actions == () and never.lateness_last_stop_s == none.lateness_last_stop_s
