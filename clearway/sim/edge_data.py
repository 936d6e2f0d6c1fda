"""SUMO edge-based aggregates (``edgeData`` meandata) on chosen edges: aggregate data only.

The evaluation measures what priority costs the cross streets of a corridor from the time loss
SUMO sums up per edge — no vehicle is followed. One interval covers the whole run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from clearway.errors import ConfigError, SimulationError
from clearway.sim.files import staging

#: Id of the measurement clearway writes.
EDGE_DATA_ID = "cw_edges"


def write_edge_data_additional(
    path: str | os.PathLike[str],
    edges: Iterable[str],
    output_path: str | os.PathLike[str],
) -> Path:
    """Write an additional file asking SUMO for ``edgeData`` on ``edges`` into ``output_path``.

    Parameters
    ----------
    path
        The additional file to write.
    edges
        Road edge ids to measure (at least one; SUMO would measure every edge for none).
    output_path
        Where SUMO writes the measurements (absolute, since SUMO resolves relative paths
        against the additional file's folder).

    Raises
    ------
    ConfigError
        If ``edges`` is empty.
    """
    ids = sorted(set(edges))
    if not ids:
        raise ConfigError("edgeData needs at least one edge; without edges SUMO measures all")
    out = Path(path)
    target = Path(output_path).resolve()
    with staging(out) as tmp:
        tmp.write_text(
            "<additional>\n"
            f'    <edgeData id="{EDGE_DATA_ID}" file={quoteattr(str(target))} '
            f"edges={quoteattr(' '.join(ids))}/>\n"
            "</additional>\n",
            encoding="utf-8",
        )
    return out


def read_edge_time_loss_s(path: str | os.PathLike[str]) -> dict[str, float]:
    """Total time loss per edge over all intervals of an ``edgeData`` output (s).

    SUMO's edge ``timeLoss`` is the sum over every vehicle on the edge of the time lost against
    driving at its desired speed; edges nobody used have no ``timeLoss`` and count 0.

    Raises
    ------
    SimulationError
        If the file is missing or not complete XML (close the simulation first).
    """
    p = Path(path)
    totals: dict[str, float] = {}
    try:
        for _, elem in ElementTree.iterparse(p, events=("end",)):
            if elem.tag == "edge":
                eid = elem.get("id", "")
                totals[eid] = totals.get(eid, 0.0) + float(elem.get("timeLoss", 0.0))
                elem.clear()
    except FileNotFoundError:
        raise SimulationError(
            f"edgeData file {p} not found; run the simulation with its additional file and close it"
        ) from None
    except ElementTree.ParseError as exc:
        raise SimulationError(
            f"edgeData file {p} is not complete XML ({exc}); close the simulation before reading"
        ) from None
    return totals
