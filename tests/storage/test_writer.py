"""The process's one database writer: jobs committed in queue order, a failing job rolled
back alone, items of a kind written together, nothing left behind on stop; and the position
recorder on top of it (order checks, a refused write releases its seq)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from clearway.control.priority.request import EdgePlace
from clearway.errors import ConflictError, ServiceUnavailableError, StorageError
from clearway.service.positions import POSITION_KIND, PositionRecord, PositionRecorder
from clearway.storage import requests as request_store
from clearway.storage.audit import AuditEntry, append_entries
from clearway.storage.models import AuditRecordRow
from clearway.storage.writer import DbWriter


def _kinds(sessions) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(AuditRecordRow.kind).order_by(AuditRecordRow.seq)))


def _append(kind: str):
    return lambda s: append_entries(s, [AuditEntry(kind)])


def test_jobs_commit_in_order_and_a_failing_one_is_rolled_back_alone(sessions):
    writer = DbWriter(sessions).start()
    try:
        gate = threading.Event()
        blocker = writer.submit(lambda s: gate.wait(5))  # the rest queue up behind it

        def fails(s):
            append_entries(s, [AuditEntry("test.doomed")])
            raise ValueError("this job is refused")

        futures = [writer.submit(_append("test.one")), writer.submit(fails),
                   writer.submit(_append("test.two"))]  # fmt: skip
        gate.set()
        blocker.result(5)
        futures[0].result(5)
        futures[2].result(5)
        with pytest.raises(ValueError, match="refused"):
            futures[1].result(5)
        assert _kinds(sessions) == ["test.one", "test.two"]
        assert writer.batches >= 1 and writer.failed_batches == 0
    finally:
        writer.stop()


def test_a_job_alone_in_its_batch_that_fails_leaves_nothing(sessions):
    """A batch of one run is written without a savepoint: its failure must still roll back
    everything it wrote, and the writer goes on."""
    writer = DbWriter(sessions).start()
    try:

        def fails(s):
            append_entries(s, [AuditEntry("test.doomed")])
            raise ValueError("this job is refused")

        with pytest.raises(ValueError, match="refused"):
            writer.run(fails)
        writer.run(_append("test.after"))
        assert writer.failed_batches == 0
    finally:
        writer.stop()
    assert _kinds(sessions) == ["test.after"]


def test_items_of_a_kind_go_to_one_call_in_queue_order(sessions):
    calls: list[list[int]] = []

    def write(s, items):
        calls.append(list(items))
        append_entries(s, [AuditEntry(f"test.n{i}") for i in items])
        return [i * 10 for i in items]

    writer = DbWriter(sessions).start()
    try:
        gate = threading.Event()
        writer.submit(lambda s: gate.wait(5))
        futs = [writer.submit_item(write, i) for i in range(1, 4)]
        single = writer.submit(_append("test.single"))
        futs += [writer.submit_item(write, 4)]
        gate.set()
        assert [f.result(5) for f in futs] == [10, 20, 30, 40]
        single.result(5)
        # Consecutive items together; the single job in between keeps its place.
        assert calls == [[1, 2, 3], [4]]
        assert _kinds(sessions) == ["test.n1", "test.n2", "test.n3", "test.single", "test.n4"]
    finally:
        writer.stop()


def test_stop_writes_what_is_queued_and_refuses_more(sessions):
    writer = DbWriter(sessions).start()
    futs = [writer.submit(_append(f"test.q{i}")) for i in range(20)]
    writer.stop()
    assert all(f.done() and f.exception() is None for f in futs)
    assert len(_kinds(sessions)) == 20
    with pytest.raises(StorageError, match="not running"):
        writer.submit(_append("test.late"))


def _stored_request(sessions, rid: str = "pr-0000000000000001") -> str:
    with sessions() as s, s.begin():
        request_store.save_request(
            s, rid, spec={"requester_id": "AMB", "incident_id": "INC"}, status="active"
        )
    return rid


def _rec(rid: str, seq: int | None, sent: float | None = None) -> PositionRecord:
    return PositionRecord(
        rid, "disp", seq, sent, sent or 1.0, EdgePlace(edge_id="E1", offset_m=5.0), 10.0
    )


def test_recorder_orders_stores_and_audits(sessions):
    rid = _stored_request(sessions)
    writer = DbWriter(sessions).start()
    try:
        rec = PositionRecorder(writer)
        assert rec.record(_rec(rid, 1, 10.0)) == 1
        assert asyncio.run(rec.record_async(_rec(rid, 2, 11.0))) == 2
        with pytest.raises(ConflictError, match="seq 2 is not after"):
            rec.record(_rec(rid, 2, 12.0))
        with pytest.raises(ConflictError, match="time_s 11.0 is not after"):
            rec.record(_rec(rid, 3, 11.0))
        # A fresh recorder (a restarted service) reads the order back from the database.
        again = PositionRecorder(writer)
        with pytest.raises(ConflictError):
            again.record(_rec(rid, 2, 20.0))
        assert again.record(_rec(rid, 3, 20.0)) == 3
    finally:
        writer.stop()
    with sessions() as s:
        assert [p.seq for p in request_store.positions(s, rid)] == [1, 2, 3]
        assert request_store.get_request(s, rid).detail == {"last_seq": 3, "last_time_s": 20.0}
    assert _kinds(sessions).count(POSITION_KIND) == 3


def test_a_refused_write_releases_its_seq(sessions, monkeypatch):
    rid = _stored_request(sessions)
    real = request_store.add_positions
    calls = {"n": 0}

    def flaky(session, new, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise StorageError("disk full")
        return real(session, new, **kw)

    monkeypatch.setattr(request_store, "add_positions", flaky)
    writer = DbWriter(sessions).start()
    try:
        rec = PositionRecorder(writer)
        # The write fails: the update is refused (503) and nothing is stored ...
        with pytest.raises(ServiceUnavailableError, match="send it again"):
            rec.record(_rec(rid, 1, 5.0))
        # ... and the same seq and time are taken once the write can succeed.
        assert rec.record(_rec(rid, 1, 5.0)) == 1
    finally:
        writer.stop()
    assert _kinds(sessions).count(POSITION_KIND) == 1


def test_a_status_change_in_the_same_batch_keeps_the_position_marks(sessions):
    """The tick's status write and a position's order marks land in one transaction: the
    status write must not put back a detail read before the position's Core update."""
    from clearway.service.runtime_records import save_changes

    rid = _stored_request(sessions)
    writer = DbWriter(sessions).start()
    try:
        rec = PositionRecorder(writer)
        rec.record(_rec(rid, 1, 1.0))
        gate = threading.Event()
        writer.submit(lambda s: gate.wait(5))

        def touch(s):  # loads the row into the session before the positions are written
            return request_store.get_request(s, rid).status

        first = writer.submit(touch)
        pos = writer.submit_item(
            __import__("clearway.service.positions", fromlist=["_store_many"])._store_many,
            _rec(rid, 7, 9.0),
        )

        class _Rec:  # a stand-in desk record: cancelled, no junctions
            class state:  # noqa: N801
                value = "cancelled"
                is_final = True

            request_id, route, junctions, history, advice = "d#1", ("E1",), {}, (), None

        later = writer.submit(save_changes({rid: _Rec()}, []))
        gate.set()
        for f in (first, pos, later):
            f.result(5)
    finally:
        writer.stop()
    with sessions() as s:
        stored = request_store.get_request(s, rid)
    assert stored.status == "cancelled"
    assert stored.detail["last_seq"] == 7 and stored.detail["last_time_s"] == 9.0
