"""Positions of priority vehicles are purged after the retention period by
``clearway audit prune-positions`` (which takes the period from
``$CLEARWAY_POSITION_RETENTION_DAYS``); the audit log, kept for good, holds no place.

Positions go in the way the service stores them (:class:`PositionRecorder` on the database
writer), so the audit records checked are the ones the service writes. (The storage tests
cover ``prune_positions`` itself and an explicit ``--older-than-days``.)
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from clearway.cli.app import app
from clearway.control.priority.request import EdgePlace, LonLat
from clearway.service.positions import POSITION_KIND, PositionRecord, PositionRecorder
from clearway.storage import requests as request_store
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade
from clearway.storage.models import AuditRecordRow, PositionRow, utcnow
from clearway.storage.requests import RETENTION_ENV
from clearway.storage.writer import DbWriter

RID = "pr-0123456789abcdef"
#: Places nobody else would write: searched for in every audit record. Odd positions are
#: sent as a road place (the twin), even ones as a GPS fix (the field).
EDGE, OFFSET_M = "B1B2", 73.25
LAT, LON, HEADING_DEG, ACCURACY_M = 52.4312345, 13.5412345, 271.5, 4.25
#: How old each stored position is made (days).
AGES = (45.0, 31.0, 20.0, 5.0, 0.0)


def test_positions_are_purged_after_the_retention_and_the_audit_holds_no_place(tmp_path):
    url = f"sqlite:///{tmp_path / 'clearway.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        request_store.save_request(
            s, RID, spec={"requester_id": "AMB-1", "incident_id": "INC-1"}, principal="dispatch"
        )
    writer = DbWriter(sessions).start()
    try:
        recorder = PositionRecorder(writer)
        for seq, _age in enumerate(AGES, start=1):
            gps = seq % 2 == 0
            place = LonLat(lon=LON, lat=LAT) if gps else EdgePlace(edge_id=EDGE, offset_m=OFFSET_M)
            recorder.record(
                PositionRecord(
                    RID, "dispatch", seq, float(seq), float(seq), place, 9.5,
                    heading_deg=HEADING_DEG if gps else None,
                    accuracy_m=ACCURACY_M if gps else None,
                    sent_utc_s=1_796_637_600.0 + seq if gps else None,
                )
            )  # fmt: skip
    finally:
        writer.stop()
    now = utcnow()
    with sessions.begin() as s:  # as if they had been sent that long ago
        for seq, age in enumerate(AGES, start=1):
            s.execute(
                update(PositionRow)
                .where(PositionRow.seq == seq)
                .values(recorded_at=now - timedelta(days=age))
            )

    runner = CliRunner()
    res = runner.invoke(app, ["audit", "prune-positions", "--db", url], env={RETENTION_ENV: "30"})
    assert res.exit_code == 0, res.output
    assert "2 position(s) older than 30 days deleted" in res.stdout
    with sessions() as s:
        kept = request_store.positions(s, RID)
        assert [p.seq for p in kept] == [3, 4, 5]
        # What was sent is what is stored: the GPS fix with its heading, accuracy, UTC stamp.
        fix = kept[1]
        assert (fix.lat, fix.lon, fix.heading_deg, fix.accuracy_m) == (
            LAT, LON, HEADING_DEG, ACCURACY_M,
        )  # fmt: skip
        assert fix.edge_id is None and fix.measured_at.timestamp() == 1_796_637_604.0
        assert kept[0].edge_id == EDGE and kept[0].lat is None
        assert request_store.get_request(s, RID).requester_id == "AMB-1"  # the request stays
    # A shorter period set by the environment takes effect at the next run.
    res = runner.invoke(app, ["audit", "prune-positions", "--db", url], env={RETENTION_ENV: "7"})
    assert res.exit_code == 0 and "1 position(s) older than 7 days" in res.stdout
    with sessions() as s:
        assert [p.seq for p in request_store.positions(s, RID)] == [4, 5]
        records = s.scalars(select(AuditRecordRow).order_by(AuditRecordRow.seq)).all()
    engine.dispose()

    # The audit log keeps a record of every position received -- who sent which update,
    # when -- even of those purged, and never where the vehicle was.
    positions = [r for r in records if r.kind == POSITION_KIND]
    assert len(positions) == len(AGES)
    for r in positions:
        payload = json.loads(r.payload)
        assert set(payload) == {"seq", "stored_seq", "time_s"}, payload
        assert r.junction_id is None and r.principal == "dispatch" and r.request_id == RID
    for r in records:  # nor does any other record: the prunes say how many, not what
        assert EDGE not in r.payload and str(OFFSET_M) not in r.payload, r.payload
        assert not {str(LAT), str(LON), str(HEADING_DEG), str(ACCURACY_M)} & set(
            json.dumps(json.loads(r.payload)).replace(",", " ").replace(":", " ").split()
        ), r.payload
        assert "52.43" not in r.payload and "13.54" not in r.payload, r.payload
    prunes = [json.loads(r.payload) for r in records if r.kind == "admin"]
    assert prunes[-2:] == [
        {"action": "positions.prune", "older_than_days": 30.0, "deleted": 2, "redacted": 0},
        {"action": "positions.prune", "older_than_days": 7.0, "deleted": 1, "redacted": 0},
    ]
