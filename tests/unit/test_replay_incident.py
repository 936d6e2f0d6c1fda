"""Rebuilding a request's holds, decisions and advice from audit records (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clearway.replay.incident import holds_at, rebuild
from clearway.storage.audit import AuditRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RID = "pr-0000000000000001"


def _rec(seq, kind, *, junction=None, request=None, principal=None, **payload):
    return AuditRecord(
        seq, T0, kind, principal, junction, request, payload, "0" * 64, f"{seq:064x}"
    )


def _cmd(seq, sid, t, source, state="GGrr"):
    return _rec(seq, "signal.approved", junction=sid, source=source, time_s=t, state=state)


def _event(seq, event, t, **extra):
    return _rec(seq, "request", request=RID, event=event, state="x", reason="r", time_s=t,
                requester_id="AMB-1", incident_id="INC-1", **extra)  # fmt: skip


def test_a_hold_runs_from_the_strategys_first_command_to_the_normal_controllers_next():
    records = [
        _cmd(11, "A", 10.0, "corridor", "yyrr"),
        _cmd(12, "A", 13.0, "corridor", "rrrr"),
        _cmd(13, "A", 14.0, "corridor", "rrGG"),
        _cmd(20, "A", 40.0, "fixed-time", "GGrr"),
        _cmd(30, "A", 90.0, "fixed-time", "rrGG"),
    ]
    (hold,) = holds_at("A", iter(records), source="corridor", final_seq=18)
    assert (hold.start_s, hold.end_s, hold.last_command_s) == (10.0, 40.0, 14.0)
    assert [c.state for c in hold.commands] == ["yyrr", "rrrr", "rrGG"]


def test_a_run_of_the_strategy_after_the_request_ended_is_not_its():
    records = [
        _cmd(11, "A", 10.0, "corridor"),
        _cmd(12, "A", 20.0, "fixed-time"),
        _cmd(40, "A", 200.0, "corridor"),  # after the final record (seq 30)
        _cmd(41, "A", 230.0, "fixed-time"),
    ]
    holds = holds_at("A", records, source="corridor", final_seq=30)
    assert [(h.start_s, h.end_s) for h in holds] == [(10.0, 20.0)]


def test_reading_stops_once_the_request_ended_and_the_signal_was_handed_back():
    def stream():
        yield _cmd(11, "A", 10.0, "corridor")
        yield _cmd(12, "A", 20.0, "fixed-time")
        yield _cmd(31, "A", 30.0, "fixed-time")
        raise AssertionError("read past what the holds need")

    assert len(holds_at("A", stream(), source="corridor", final_seq=30)) == 1


def test_a_hold_the_log_shows_no_end_of_is_open_and_refusals_are_counted():
    records = [
        _cmd(11, "A", 10.0, "corridor"),
        _rec(
            12,
            "signal.rejected",
            junction="A",
            source="corridor",
            time_s=11.0,
            state="GGGG",
            reasons=["R1"],
        ),  # fmt: skip
        _rec(
            13,
            "signal.rejected",
            junction="A",
            source="fixed-time",
            time_s=12.0,
            state="GGGG",
            reasons=["R1"],
        ),  # fmt: skip
    ]
    (hold,) = holds_at("A", records, source="corridor", final_seq=None)
    assert hold.end_s is None and hold.rejected == 1


def test_rebuild_reads_decisions_advice_run_and_names_requests_live_meanwhile():
    advice = {"signal_id": "B", "yields_to": "pr-other", "green_from_s": 30.0,
              "arrive_after_s": 31.0, "speed_mps": 8.0, "reason": "importance"}  # fmt: skip
    run = {"site": "twin", "strategy": "local", "seed": 3}
    req = [
        _event(10, "created", 5.0, run=run),
        _event(12, "served", 6.0, latency_ms=1.5, commanded=["A"], waiting=[]),
        _event(14, "advised", 8.0, advice=advice),
        _event(19, "completed", 50.0),
    ]
    sig = {
        "A": [
            _cmd(11, "A", 6.0, "local"),
            _cmd(13, "A", 7.0, "corridor"),
            _cmd(20, "A", 60.0, "fixed-time"),
        ],  # fmt: skip
        "B": [_cmd(15, "B", 9.0, "local"), _cmd(16, "B", 12.0, "fixed-time")],
    }
    log = rebuild(RID, req, sig, lifetimes={"pr-other": (14, 16), "pr-later": (25, None)})
    assert log.run == run and log.requester_id == "AMB-1" and log.incident_id == "INC-1"
    assert [e.event for e in log.events] == ["created", "served", "advised", "completed"]
    assert log.final.time_s == 50.0 and log.served.extra["latency_ms"] == 1.5
    assert log.advice == [{"time_s": 8.0, "seq": 14, "advice": advice}]
    # The run's strategy is the source read: "local", not the corridor's command at A.
    assert [(h.signal_id, h.start_s, h.end_s) for h in log.holds] == [
        ("A", 6.0, 7.0),
        ("B", 9.0, 12.0),
    ]
    assert log.holds_at("A")[0].shared_with == () and log.holds_at("B")[0].shared_with == (
        "pr-other",
    )
    data = log.to_dict()
    assert data["holds"][1]["duration_s"] == 3.0 and data["final"]["event"] == "completed"


def test_rebuild_refuses_records_that_do_not_start_with_the_creation():
    with pytest.raises(ValueError, match="creation"):
        rebuild(RID, [_event(3, "restored", 1.0)], {})


def test_a_log_only_report_tells_the_advice_holds_and_why_it_was_not_re_run(tmp_path):
    from clearway.replay.report import write_replay_report
    from clearway.replay.source import Incident
    from clearway.storage.audit import VerifyReport

    advice = {"signal_id": "B", "yields_to": "pr-other", "green_from_s": 30.0,
              "arrive_after_s": 31.0, "speed_mps": 8.0, "reason": "higher importance"}  # fmt: skip
    req = [_event(10, "created", 5.0), _event(14, "advised", 8.0, advice=advice),
           _event(15, "advised", 20.0, advice=None), _event(19, "cancelled", 50.0)]  # fmt: skip
    sig = {"B": [_cmd(16, "B", 21.0, "corridor"), _cmd(17, "B", 33.0, "fixed-time")]}
    log = rebuild(RID, req, sig)
    incident = Incident(log, VerifyReport(True, 19, 19, "ab" * 32), None)
    paths = write_replay_report(incident, None, None, tmp_path, not_rerun="route redacted")
    assert set(paths) == {"json", "markdown"}
    md = paths["markdown"].read_text()
    assert "8 s: at B behind pr-other, green from 30 s, arrive after 31 s (higher importance)" in md
    assert "20 s: withdrawn" in md and "cancelled at 50 s" in md
    assert "| B | 21 | 33 | 1 | 0 |" in md and "## Not re-run" in md and "route redacted" in md


def test_the_re_run_green_a_vehicle_passed_on_starts_a_step_before_it_was_first_seen():
    from clearway.evaluation.trace import SignalOnRoute, Trace
    from clearway.replay.report import green_used_s, passed_s

    t = tuple(float(x) for x in range(10, 20))
    d = (0.0, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    sig = SignalOnRoute("S", "J", 55.0, (0,))
    trace = Trace("ev", t, d, (10.0,) * 10, d, (sig,), ("RRRGGGGGRR",), 100.0)
    passed = passed_s(trace, 55.0)
    assert passed == 16.0 and green_used_s(trace, 0, passed) == 12.0
    red = Trace("ev", t, d, (10.0,) * 10, d, (sig,), ("GGGGGGRRRR",), 100.0)
    assert green_used_s(red, 0, passed_s(red, 65.0)) is None and green_used_s(red, 0, None) is None
