"""After a restart, a request taken up leaves now on the twin (its clock restarts), but on
field controllers (traffic time is UTC and runs on) a convoy booked for later keeps its
planned departure: its junctions are not cleared hours early."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from clearway.control.priority.registry import RequestBook
from clearway.service.restore import restore_requests
from clearway.storage import requests as request_store
from clearway.storage.db import write_session

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

NOW_S = 1_000.0
SPEC = {
    "requester_id": "POL-1",
    "role": "convoy",
    "importance": 12,
    "incident_id": "OP-3",
    "origin": {"edge_id": "A0A1", "offset_m": 0.0},
    "destination": {"edge_id": "B2C2", "offset_m": 0.0},
    "convoy": {"vehicle_count": 4, "length_m": 60.0, "cruise_speed_mps": 12.5},
}


class _Runtime:
    """What restore_requests uses of a runtime: its desk, now, and where records go."""

    def __init__(self, net: Any, field: object | None) -> None:
        self.field = field
        self.book = RequestBook(net)
        self.adopted: dict[str, Any] = {}

    def desk(self) -> Any:
        return SimpleNamespace(submit=self.book.submit)

    def now_s(self) -> float:
        return NOW_S

    def adopt(self, rid: str, owner: str, record: Any, simulated: bool) -> None:
        self.adopted[rid] = record


def _writer(sessions: Any) -> Any:
    def run(write: Any) -> None:
        with write_session(sessions) as s:
            write(s)

    return SimpleNamespace(sessions=sessions, run=run)


@pytest.mark.parametrize(
    ("field", "planned_s", "expected_s"),
    [
        (None, 5_000.0, NOW_S),  # the twin: its clock restarted, the old time means nothing
        ("field", 5_000.0, 5_000.0),  # field: still ahead, kept
        ("field", 400.0, NOW_S),  # field: already past, leaves now
    ],
)
def test_a_planned_departure_survives_a_restart_only_on_field_controllers(
    engine, sessions, grid_net, field, planned_s, expected_s
):
    with write_session(sessions) as s:
        request_store.save_request(
            s, "pr-0000000000000001", spec=SPEC | {"depart_s": planned_s}, status="planned",
            principal="dispatcher", created_s=100.0,
        )  # fmt: skip
    runtime = _Runtime(grid_net, field)
    assert restore_requests(runtime, _writer(sessions)) == 1  # type: ignore[arg-type]
    record = runtime.adopted["pr-0000000000000001"]
    assert record.spec.depart_s == expected_s
    assert record.route[0] == "A0A1" and record.state.value == "planned"
