"""Positions as the field sends them (GPS fix, heading, accuracy, UTC stamp) are stored as
sent, beside the twin's road places; migration 0003 adds their columns to a database of
0002 without touching the positions it holds (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from clearway.errors import StorageError
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade
from clearway.storage.requests import NewPosition, add_positions, positions, save_request

STAMP = datetime(2026, 12, 7, 10, 0, 0, 500000, tzinfo=UTC)


def test_gps_and_road_positions_are_stored_as_sent(db_url):
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        save_request(s, "r1", spec={"requester_id": "AMB-1", "incident_id": "INC-1"})
        numbers = add_positions(
            s,
            [
                NewPosition("r1", 10.0, 8.0, lon=13.5437, lat=52.4346, heading_deg=359.5,
                            accuracy_m=3.5, measured_at=STAMP),
                NewPosition("r1", 11.0, 8.5, edge_id="E1", offset_m=12.0),
            ],
        )  # fmt: skip
    with sessions() as s:
        fix, road = positions(s, "r1")
    engine.dispose()
    assert numbers == [1, 2]
    assert (fix.lon, fix.lat, fix.heading_deg, fix.accuracy_m) == (13.5437, 52.4346, 359.5, 3.5)
    assert fix.measured_at == STAMP and fix.edge_id is None and fix.offset_m is None
    assert (road.edge_id, road.offset_m, road.lat, road.measured_at) == ("E1", 12.0, None, None)


def test_a_position_needs_a_place():
    with pytest.raises(StorageError, match="needs edge_id or lon and lat"):
        NewPosition("r1", 1.0, 2.0, lat=52.0)


def test_migration_0003_keeps_the_positions_of_0002(empty_db_url):
    assert upgrade(empty_db_url, "0002") == (None, "0002")
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO priority_requests (request_id, requester_id, incident_id, status, spec,"
            " detail, created_at, updated_at, last_position_seq) VALUES ('r1', 'AMB', 'INC',"
            " 'active', '{}', '{}', :t, :t, 1)"
        ), {"t": STAMP})  # fmt: skip
        conn.execute(text(
            "INSERT INTO priority_positions (request_id, seq, recorded_at, time_s, edge_id,"
            " offset_m, speed_mps) VALUES ('r1', 1, :t, 5.0, 'E1', 3.0, 7.0)"
        ), {"t": STAMP})  # fmt: skip
    columns = {c["name"] for c in inspect(engine).get_columns("priority_positions")}
    assert not {"heading_deg", "accuracy_m", "measured_at"} & columns
    engine.dispose()

    assert upgrade(empty_db_url) == ("0002", "0004")  # through 0003 to the head
    engine = make_engine(empty_db_url)
    columns = {c["name"]: c for c in inspect(engine).get_columns("priority_positions")}
    assert all(columns[n]["nullable"] for n in ("heading_deg", "accuracy_m", "measured_at"))
    assert all(columns[n]["nullable"] for n in ("edge_id", "offset_m", "lon", "lat"))
    with session_factory(engine)() as s:
        (old,) = positions(s, "r1")
    engine.dispose()
    assert (old.edge_id, old.offset_m, old.speed_mps) == ("E1", 3.0, 7.0)
    assert old.heading_deg is None and old.measured_at is None
