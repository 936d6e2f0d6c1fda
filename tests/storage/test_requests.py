"""Priority requests survive a restart; positions are kept for the retention period only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clearway.control.priority.request import PriorityRequestSpec, RequestState
from clearway.errors import StorageError, UnknownRequestError
from clearway.storage.db import make_engine, session_factory
from clearway.storage.requests import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    RETENTION_ENV,
    active_requests,
    add_position,
    get_request,
    positions,
    prune_positions,
    redact_finished,
    retention_days,
    save_request,
    update_request,
    update_statuses,
)

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _spec(requester: str = "amb-7") -> dict:
    return PriorityRequestSpec(
        requester_id=requester,
        role="ambulance",
        importance=12,
        incident_id="INC-42",
        route=("E1", "E2", "E3"),
        lease_s=60.0,
    ).model_dump(mode="json")


def test_status_names_are_the_lifecycle_states():
    assert set(ACTIVE_STATUSES) == {s.value for s in RequestState if not s.is_final}
    assert set(FINAL_STATUSES) == {s.value for s in RequestState if s.is_final}


def test_active_requests_survive_a_restart(db_url):
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        save_request(s, "amb-7#1", spec=_spec(), principal="dispatch-1", created_s=100.0, at=NOW)
        save_request(s, "amb-8#2", spec=_spec("amb-8"), at=NOW + timedelta(seconds=1))
        save_request(s, "amb-9#3", spec=_spec("amb-9"), at=NOW + timedelta(seconds=2))
        update_request(s, "amb-7#1", status="active", detail={"route": ["E1", "E2", "E3"]})
        update_request(s, "amb-8#2", status="completed")
        add_position(s, "amb-7#1", time_s=130.0, edge_id="E2", offset_m=12.5, speed_mps=14.0)
    engine.dispose()  # the service stops ...

    engine = make_engine(db_url)  # ... and starts again with a new engine and pool
    with session_factory(engine)() as s:
        restored = active_requests(s)
    engine.dispose()
    assert [r.request_id for r in restored] == ["amb-7#1", "amb-9#3"]
    r = restored[0]
    assert PriorityRequestSpec.model_validate(r.spec) == PriorityRequestSpec.model_validate(_spec())
    assert (r.status, r.principal, r.incident_id, r.requester_id) == (
        "active",
        "dispatch-1",
        "INC-42",
        "amb-7",
    )
    assert r.detail == {"route": ["E1", "E2", "E3"]} and r.active
    assert (r.created_s, r.last_heard_s, r.last_position_seq) == (100.0, 130.0, 1)
    assert r.created_at == NOW and r.created_at.tzinfo is not None


def test_positions_are_numbered_per_request(sessions):
    with sessions.begin() as s:
        save_request(s, "r1", spec=_spec())
        for i in range(3):
            add_position(s, "r1", time_s=10.0 + i, edge_id="E1", offset_m=5.0 * i, speed_mps=9.0)
        add_position(s, "r1", time_s=14.0, lon=13.4, lat=52.5, speed_mps=8.0)
    with sessions() as s:
        got = positions(s, "r1")
        latest = positions(s, "r1", limit=2)
    assert [p.seq for p in got] == [1, 2, 3, 4] and [p.seq for p in latest] == [3, 4]
    assert (got[-1].edge_id, got[-1].lon, got[-1].lat) == (None, 13.4, 52.5)
    assert got[1].offset_m == 5.0 and got[1].time_s == 11.0


def test_many_statuses_at_once_merge_the_detail_and_skip_unknown_ids(sessions):
    with sessions.begin() as s:
        save_request(s, "r1", spec=_spec("a"), status="active", detail={"last_seq": 4, "x": 1})
        save_request(s, "r2", spec=_spec("b"), status="active")
    with sessions.begin() as s:
        # Loaded into the session first: what it holds must not hide the Core write.
        assert get_request(s, "r1").status == "active"
        done = update_statuses(
            s, {"r1": ("cancelled", {"x": 2, "reason": "cancelled"}), "r2": ("planned", {}),
                "nope": ("cancelled", {})},
        )  # fmt: skip
        assert done == ["r1", "r2"]
        assert get_request(s, "r1").status == "cancelled"
    with sessions() as s:
        r1, r2 = get_request(s, "r1"), get_request(s, "r2")
    assert r1.status == "cancelled" and r1.detail == {"last_seq": 4, "x": 2, "reason": "cancelled"}
    assert r2.status == "planned" and r2.detail == {}
    with sessions.begin() as s, pytest.raises(StorageError, match="status"):
        update_statuses(s, {"r2": ("lost", {})})
    with sessions() as s:
        assert get_request(s, "r2").status == "planned"


def test_prune_deletes_only_positions_older_than_the_retention(sessions):
    with sessions.begin() as s:
        save_request(s, "r1", spec=_spec())
        for age_days in (45, 31, 29, 1):
            add_position(
                s, "r1", time_s=0.0, edge_id="E1", speed_mps=0.0, at=NOW - timedelta(days=age_days)
            )
    with sessions.begin() as s:
        assert prune_positions(s, now=NOW) == 2  # default: 30 days
    with sessions() as s:
        left = positions(s, "r1")
        assert get_request(s, "r1").request_id == "r1"  # the request itself stays
    assert [round((NOW - p.recorded_at) / timedelta(days=1)) for p in left] == [29, 1]
    with sessions.begin() as s:
        assert prune_positions(s, older_than_days=7, now=NOW) == 1


def test_finished_requests_lose_their_places_after_the_retention(sessions):
    with sessions.begin() as s:
        spec = _spec() | {"origin": {"edge_id": "E1", "offset_m": 3.0}}
        for rid, status, age_days in (("old", "completed", 40), ("new", "completed", 3),
                                      ("live", "active", 40)):  # fmt: skip
            save_request(s, rid, spec=spec, status=status, at=NOW - timedelta(days=age_days),
                         detail={"route": ["E1", "E2"], "last_seq": 9})  # fmt: skip
    with sessions.begin() as s:
        assert redact_finished(s, now=NOW) == 1
        assert redact_finished(s, now=NOW) == 0  # once
    with sessions() as s:
        old, new, live = (get_request(s, r) for r in ("old", "new", "live"))
    assert "route" not in old.spec and "origin" not in old.spec
    assert old.spec["requester_id"] == "amb-7" and old.spec["incident_id"] == "INC-42"
    assert old.detail == {"last_seq": 9, "redacted": True} and old.status == "completed"
    assert new.spec["route"] == ["E1", "E2", "E3"] and new.detail["route"] == ["E1", "E2"]
    assert live.spec["origin"]["edge_id"] == "E1"  # unfinished: never redacted


def test_retention_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(RETENTION_ENV, "7")
    assert retention_days() == 7.0 and retention_days(90) == 90.0
    monkeypatch.setenv(RETENTION_ENV, "a week")
    with pytest.raises(StorageError, match="not a number of days"):
        retention_days()
    with pytest.raises(StorageError, match="more than 0 days"):
        retention_days(0)


def test_bad_requests_are_clear_errors(sessions):
    with sessions.begin() as s:
        save_request(s, "amb-7#1", spec=_spec())
    with sessions.begin() as s, pytest.raises(StorageError, match="stored already"):
        save_request(s, "amb-7#1", spec=_spec())
    with sessions.begin() as s, pytest.raises(StorageError, match="unknown request status"):
        update_request(s, "amb-7#1", status="granted")
    with sessions.begin() as s, pytest.raises(StorageError, match="no incident_id"):
        save_request(s, "r2", spec={"requester_id": "x"})
    with sessions() as s, pytest.raises(UnknownRequestError, match="did you mean 'amb-7#1'"):
        get_request(s, "amb-7#2")
    with sessions.begin() as s, pytest.raises(StorageError, match="edge_id or lon and lat"):
        add_position(s, "amb-7#1", time_s=1.0, speed_mps=1.0)
