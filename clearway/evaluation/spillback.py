"""Do queues spill back? The longest queue per lane as a share of the lane's length.

A queue that fills its whole block reaches the junction upstream: cars there cannot leave on
green, and a priority vehicle behind them waits however early its green comes unless the queue
is flushed first. This check runs the scenario in plain SUMO (its own signal programs, as the
normal control runs them) with SUMO's ``--queue-output`` and reports, per lane asked about, the
longest queue seen divided by the lane's length (>= 0.9: the queue reached the upstream
junction).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree

from clearway.network.model import Network
from clearway.sim.launch import sumo_command
from clearway.sim.scenario import Scenario
from clearway.sim.sumo_env import run_tool

#: Queue at least this share of its lane: it reaches the junction upstream.
SPILLBACK_FILL = 0.9


def max_queue_fill(
    scenario: Scenario, net: Network, lanes: Iterable[str], out_dir: Path
) -> dict[str, float]:
    """Longest queue of each lane over the run, as a share of the lane's length.

    Parameters
    ----------
    scenario
        What to run (to its ``end_s``).
    net
        Its network.
    lanes
        Lane ids to report.
    out_dir
        Where SUMO's queue output goes.

    Raises
    ------
    SimulationError
        If SUMO fails.
    """
    wanted = {lane: net.lane(lane).length_m for lane in lanes}
    out_dir.mkdir(parents=True, exist_ok=True)
    queues = (out_dir / f"queues-{scenario.name}.xml").resolve()
    cmd = sumo_command(scenario, 1.0, None, None, ["--queue-output", str(queues)])
    run_tool(cmd, what=f"measuring queues in {scenario.name!r}")
    longest = dict.fromkeys(wanted, 0.0)
    for _, elem in ElementTree.iterparse(queues, events=("end",)):
        if elem.tag == "lane":
            lane = elem.get("id", "")
            if lane in longest:
                longest[lane] = max(longest[lane], float(elem.get("queueing_length", 0.0)))
        elif elem.tag == "data":
            elem.clear()
    queues.unlink(missing_ok=True)
    return {lane: q / wanted[lane] if wanted[lane] > 0 else 0.0 for lane, q in longest.items()}


def route_lanes(net: Network, edges: Iterable[str]) -> list[str]:
    """Every lane of the route's edges but the last: the approaches to the junctions it crosses."""
    edges = list(edges)
    return [lane for e in edges[:-1] for lane in net.edge(e).lane_ids]
