"""A scenario's begin: checked on construction, and handed to SUMO as ``--begin``."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearway.errors import ConfigError
from clearway.sim.launch import sumo_command
from clearway.sim.scenario import Scenario


def _scenario(begin_s: float, end_s: float) -> Scenario:
    return Scenario("s", Path("n.net.xml"), (Path("r.rou.xml"),), (), None, 1, end_s, begin_s=begin_s)


def _option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


@pytest.mark.parametrize(
    "begin_s, end_s, begin_arg, end_arg",
    [(0.0, 1800.0, "0", "1800"), (25200.0, 27600.0, "25200", "27600"),
     (54000.5, 1_200_000.0, "54000.5", "1200000")],
)  # fmt: skip
def test_sumo_runs_from_the_scenarios_begin_to_its_end(begin_s, end_s, begin_arg, end_arg):
    cmd = sumo_command(_scenario(begin_s, end_s), 1.0, None, None)
    # Full digits: 1.2e6 s written as "1.2e+06" (``:g``) would be a rounded time.
    assert (_option(cmd, "--begin"), _option(cmd, "--end")) == (begin_arg, end_arg)


@pytest.mark.parametrize("begin_s", [-1.0, 3600.0, 4000.0, float("nan"), float("inf")])
def test_a_begin_that_is_negative_or_not_before_the_end_is_refused(begin_s):
    with pytest.raises(ConfigError, match="must be >= 0 and before its end 3600 s"):
        _scenario(begin_s, 3600.0)
