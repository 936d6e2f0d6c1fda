"""Normal strategy per junction, switched while the city runs: each strategy drives only its
own signals, the switch continues the cycle through guard-approved steps, and the
independent monitor sees no violation."""

from __future__ import annotations

from collections import Counter

import pytest

from clearway.bootstrap import open_twin_run
from clearway.errors import ConfigError, UnknownSignalError
from clearway.sim.scenario import grid_scenario

pytestmark = pytest.mark.sumo


def test_switching_one_junction_leaves_the_others_alone_and_stays_safe(tmp_path):
    sc = grid_scenario(tmp_path, size="3x3", end_s=900, load="moderate", seed=3)
    with open_twin_run(sc, strategy="corridor", switchable=True) as run:
        control = run.normal_control
        assert control is not None
        assert set(control.assignment.values()) == {"fixed-time"}
        sources: dict[str, Counter] = {}
        run.loop.on_verdict = lambda v: sources.setdefault(v.command.signal_id, Counter()).update(
            [(v.command.source, v.ok)]
        )
        run.loop.run(200.0)
        assert control.switch("B1", "max-pressure", run.twin.now_s())
        assert not control.switch("B1", "max-pressure", run.twin.now_s())  # no change
        assert control.strategy_of("B1") == "max-pressure"
        before = {sid: Counter(c) for sid, c in sources.items()}
        run.loop.run(400.0)
        after_b1 = sources["B1"] - before.get("B1", Counter())
        # B1 is now driven by max-pressure alone; its neighbours still by fixed-time.
        assert after_b1[("max-pressure", True)] > 0, after_b1
        assert after_b1[("fixed-time", True)] == 0, after_b1
        for sid in ("A1", "C1", "B0"):
            new = sources[sid] - before.get(sid, Counter())
            assert new[("fixed-time", True)] > 0 and new[("max-pressure", True)] == 0, (sid, new)
        # Max-pressure reads detectors now that one signal runs it.
        assert control.uses_traffic_state and control.traffic_fields == ("vehicle_count", "person_count")
        assert all(ok for c in sources.values() for (_, ok) in c), "the guard refused a command"
        assert run.monitor.violations == []
        with pytest.raises(UnknownSignalError):
            control.switch("nowhere", "actuated", run.twin.now_s())
        with pytest.raises(ConfigError, match="unknown normal strategy"):
            control.switch("B1", "sumo-actuated", run.twin.now_s())
        # Back to fixed-time: the program continues from the phase max-pressure serves.
        assert control.switch("B1", "fixed-time", run.twin.now_s())
        run.loop.run(200.0)
        assert run.monitor.violations == []
