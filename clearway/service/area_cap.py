"""How many corridors may cross one district at once.

Every corridor stops cross traffic along its route. A flood of requests — a buggy dispatch
system, a stolen key — must not be able to stop a whole district, so the network is cut
into squares of ``cell_m`` metres and a new request is refused while any square its route's
signals lie in already has ``cap`` unfinished requests crossing it. Operators may exceed the
cap (they see the whole picture); the refusal names the squares, the signals and the
requests that fill them. Only requests that may hold junctions at the same time count: a
convoy booked for tomorrow does not fill a district today.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from clearway.control.priority.lifecycle import PriorityRequest
from clearway.errors import ConflictError
from clearway.network.model import Network
from clearway.service.request_index import LiveRequest

Cell = tuple[int, int]


class AreaBusyError(ConflictError):
    """A request would make too many corridors cross one district (HTTP 409)."""


def signal_cells(net: Network, signal_ids: Iterable[str], cell_m: float) -> dict[Cell, list[str]]:
    """The squares (``cell_m`` m side) the signals lie in, with the signals in each."""
    out: dict[Cell, list[str]] = {}
    for sid in signal_ids:
        tl = net.traffic_lights.get(sid)
        if tl is None or not tl.junction_ids:
            continue
        j = net.junctions[tl.junction_ids[0]]
        out.setdefault((math.floor(j.x_m / cell_m), math.floor(j.y_m / cell_m)), []).append(sid)
    return out


def check_area_cap(
    new_cells: Mapping[Cell, list[str]],
    others: Mapping[str, Iterable[Cell]],
    *,
    cap: int,
    cell_m: float,
) -> None:
    """Refuse a request whose route crosses a square that ``cap`` unfinished requests
    (``others``: request id -> squares its route crosses) cross already.

    Raises
    ------
    AreaBusyError
        Naming the first full square: its extent (m), the request's signals in it, and the
        requests filling it.
    """
    crossing: dict[Cell, list[str]] = {}
    for rid, cells in others.items():
        for cell in set(cells):
            crossing.setdefault(cell, []).append(rid)
    for cell, sids in sorted(new_cells.items()):
        there = crossing.get(cell, [])
        if len(there) >= cap:
            x0, y0 = cell[0] * cell_m, cell[1] * cell_m
            raise AreaBusyError(
                f"the district around {', '.join(sids)} (x {x0:.0f}-{x0 + cell_m:.0f} m, "
                f"y {y0:.0f}-{y0 + cell_m:.0f} m) already has {len(there)} unfinished corridors "
                f"({', '.join(sorted(there))}); at most {cap} may cross one district at a time "
                "so its other traffic is not stopped — wait for one to finish, or ask an operator"
            )


def holding_span_s(record: PriorityRequest) -> tuple[float, float]:
    """When a request may hold junctions: from its planned departure (its creation, if that is
    later or there is none) to its deadline (traffic time, s)."""
    depart_s = record.spec.depart_s
    start_s = record.created_s if depart_s is None else max(depart_s, record.created_s)
    return start_s, record.deadline_s


def concurrent(record: PriorityRequest, unfinished: Iterable[LiveRequest]) -> list[LiveRequest]:
    """The unfinished requests whose holding span overlaps ``record``'s."""
    start_s, end_s = holding_span_s(record)
    out = []
    for live in unfinished:
        a_s, b_s = holding_span_s(live.record)
        if a_s < end_s and start_s < b_s:
            out.append(live)
    return out
