"""SUMO adapters: scenario building and the digital twin (the only place libsumo/traci live).

``sumo_env`` is imported first: it pins ``SUMO_HOME`` to the ``eclipse-sumo`` wheel before
libsumo (which would point it at a folder without SUMO's tools) is imported.
"""

from clearway.sim import sumo_env  # isort: split

from clearway.sim.scenario import (
    DETECTOR_PREFIX,
    LOAD_VPH_PER_ENTRY,
    Scenario,
    build_grid,
    detector_lanes,
    grid_scenario,
    random_demand,
    user_scenario,
    write_lane_detectors,
)
from clearway.sim.sumo_env import run_tool, sumo_binary, sumo_home, tool
from clearway.sim.twin import SumoTwin

__all__ = [
    "DETECTOR_PREFIX",
    "LOAD_VPH_PER_ENTRY",
    "Scenario",
    "SumoTwin",
    "build_grid",
    "detector_lanes",
    "grid_scenario",
    "random_demand",
    "run_tool",
    "sumo_binary",
    "sumo_env",
    "sumo_home",
    "tool",
    "user_scenario",
    "write_lane_detectors",
]
