"""``clearway replay``: a real request served by the live runtime on a small grid fills a SQLite
audit log; the replay rebuilds its holds from the log, re-runs the demand under every strategy
and writes the report. And its refusals: unknown ids, a log without requests, a broken chain,
scenario files gone."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearway.cli.app import app
from clearway.control.priority.request import EdgePlace, PriorityRequestSpec, RequestState, Role
from clearway.service.runtime import ServiceRuntime
from clearway.sim.scenario import grid_scenario
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade

pytestmark = pytest.mark.sumo

SEED = 4


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Path, str]:
    """A SQLite database the runtime (corridor on fixed-time, 3x3 grid, light load) wrote while
    serving one simulated ambulance to its destination; the request's id."""
    tmp = tmp_path_factory.mktemp("served")
    db = tmp / "clearway.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    sc = grid_scenario(tmp / "live", size="3x3", seed=SEED, end_s=600.0, load="light")
    runtime = ServiceRuntime(sc, strategy="corridor", speed=0.0)
    spec = PriorityRequestSpec(
        requester_id="AMB-1", role=Role.AMBULANCE, importance=12, incident_id="INC-1",
        origin=EdgePlace(edge_id="A0A1"), destination=EdgePlace(edge_id="B2C2"), lease_s=300.0,
    )  # fmt: skip
    runtime.start(session_factory(engine))
    try:
        while runtime.now_s() < 40.0:
            time.sleep(0.01)
        rid = runtime.create(spec, "dispatch", simulate=True).request_id
        deadline = time.monotonic() + 30.0
        while runtime.get(rid).record.state is not RequestState.COMPLETED:
            assert runtime.running and time.monotonic() < deadline, runtime.error
            time.sleep(0.02)
        done = runtime.now_s()
        while runtime.now_s() < done + 40.0:  # the junctions recover and are handed back
            time.sleep(0.02)
    finally:
        runtime.stop()
        engine.dispose()
    assert runtime.error is None and runtime.violations == []
    return db, rid


def _rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


def _logged_holds(db: Path, rid: str) -> list[tuple[str, float, float]]:
    """The oracle: per signal, each run of corridor changes that starts while the request
    lives, from its first change to the next change from another source — read straight
    from the table."""
    seqs = [s for (s, p) in _rows(db, "SELECT seq, payload FROM audit_records WHERE "
                                  "request_id = ? ORDER BY seq", rid)]  # fmt: skip
    first, final = seqs[0], seqs[-1]
    holds, open_ = [], {}
    for seq, sid, payload in _rows(
        db, "SELECT seq, junction_id, payload FROM audit_records WHERE kind = "
        "'signal.approved' AND seq > ? ORDER BY seq", first,
    ):  # fmt: skip
        p = json.loads(payload)
        if p["source"] == "corridor":
            if sid not in open_ and seq < final:
                open_[sid] = p["time_s"]
        elif sid in open_:
            holds.append((sid, open_.pop(sid), p["time_s"]))
    assert not open_, "a hold the log shows no end of"
    return sorted(holds)


def test_replay_rebuilds_the_logged_holds_and_compares_every_strategy(served, tmp_path):
    db, rid = served
    created = json.loads(_rows(db, "SELECT payload FROM audit_records WHERE request_id = ? "
                               "ORDER BY seq LIMIT 1", rid)[0][0])  # fmt: skip
    # The service logged what it ran on; that is what the replay re-runs.
    assert created["event"] == "created"
    assert created["run"]["seed"] == SEED and created["run"]["strategy"] == "corridor"
    out = tmp_path / "replay"
    proc = subprocess.run(
        [sys.executable, "-m", "clearway.cli", "replay", rid, "--db", f"sqlite:///{db}",
         "--out-dir", str(out)],
        capture_output=True, text=True, timeout=300, env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "replay.json").read_text())
    holds = sorted((h["signal_id"], h["start_s"], h["end_s"]) for h in data["log"]["holds"])
    assert holds and holds == _logged_holds(db, rid)
    assert data["log"]["final"]["event"] == "completed"
    assert data["rerun"]["seed"] == SEED and data["rerun"]["trip"]["depart_s"] == created["time_s"]
    # The run configuration names files and numbers, never where the vehicle went.
    assert not any(edge in json.dumps(created["run"]) for edge in data["rerun"]["trip"]["route"])
    # The strategies hear of the request as the vehicle leaves, as the service did.
    assert data["rerun"]["dispatch_lead_s"] == 0.0
    assert set(data["comparison"]) == {"none", "local", "corridor"}
    for strategy, row in data["comparison"].items():
        assert row["priority_arrived"], strategy  # the re-run lasts long enough for all
        assert row["priority_travel_time_s"] > 0 and row["ratio"] > 0, strategy
        assert row["others_extra_delay_veh_h"] is not None and row["safety_violations"] == 0
    assert data["failed"] == []
    md = (out / "replay.md").read_text()
    assert "| | none | local | corridor |" in md
    assert all(h[0] in md for h in holds)
    assert (out / "time-space.png").stat().st_size > 10_000


def _replay(*args: str):
    return CliRunner().invoke(app, ["replay", *args])


def test_an_unknown_request_is_named(served, tmp_path):
    db, rid = served
    r = _replay(rid[:-1] + ("0" if rid[-1] != "0" else "1"), "--db", f"sqlite:///{db}",
                "--out-dir", str(tmp_path))  # fmt: skip
    assert r.exit_code == 2
    assert "unknown priority request" in r.output and "did you mean" in r.output
    r = _replay("../etc/passwd", "--db", f"sqlite:///{db}", "--out-dir", str(tmp_path))
    assert r.exit_code == 2 and "is not a priority request id" in r.output


def test_a_database_without_that_request_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    r = _replay("pr-0123456789abcdef", "--db", url, "--out-dir", str(tmp_path))
    assert r.exit_code == 2 and "holds no priority request at all" in r.output
    # A file that is not there is not created by looking for the request in it.
    r = _replay("pr-0123456789abcdef", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert r.exit_code == 2 and "no database file at" in r.output
    assert not (tmp_path / "none.db").exists()
    # A database without clearway's schema.
    with sqlite3.connect(tmp_path / "other.db") as c:
        c.execute("CREATE TABLE t (x)")
    r = _replay("pr-0123456789abcdef", "--db", f"sqlite:///{tmp_path / 'other.db'}")
    assert r.exit_code == 2 and "clearway db upgrade" in r.output


def test_a_broken_chain_is_refused_naming_the_first_bad_record(served, tmp_path):
    db, rid = served
    copy = tmp_path / "tampered.db"
    shutil.copy(db, copy)
    (seq,) = _rows(copy, "SELECT min(seq) FROM audit_records WHERE kind = 'signal.approved' "
                   "AND payload LIKE '%corridor%'")[0]  # fmt: skip
    with sqlite3.connect(copy) as c:
        c.execute("UPDATE audit_records SET payload = replace(payload, 'corridor', 'fixed-time') "
                  "WHERE seq = ?", (seq,))  # fmt: skip
    r = _replay(rid, "--db", f"sqlite:///{copy}", "--out-dir", str(tmp_path / "out"))
    assert r.exit_code == 2
    assert f"first bad record seq {seq}" in r.output and "altered" in r.output
    assert not (tmp_path / "out").exists()


def test_scenario_files_gone_ask_for_an_override(served, tmp_path):
    db, rid = served
    created = json.loads(_rows(db, "SELECT payload FROM audit_records WHERE request_id = ? "
                               "ORDER BY seq LIMIT 1", rid)[0][0])  # fmt: skip
    routes = Path(created["run"]["routes"][0]["path"])
    moved = routes.with_suffix(".away")
    routes.rename(moved)
    try:
        r = _replay(rid, "--db", f"sqlite:///{db}", "--out-dir", str(tmp_path))
    finally:
        moved.rename(routes)
    assert r.exit_code == 2
    assert "is gone" in r.output and "--scenario" in r.output


def test_a_scenario_given_instead_is_re_run_with_the_logged_seed(served, tmp_path):
    db, rid = served
    r = _replay(rid, "--db", f"sqlite:///{db}", "--scenario", "grid:3x3:light",
                "--out-dir", str(tmp_path / "out"))  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "out" / "replay.json").read_text())
    assert data["rerun"]["seed"] == SEED and data["rerun"]["scenario"].startswith("grid3x3-light")
    # The same generator and inputs give the same network: nothing to warn about.
    assert data["rerun"]["notes"] == []
    assert set(data["comparison"]) == {"none", "local", "corridor"}


def test_a_sumocfg_given_instead_runs_its_files(served, tmp_path):
    db, rid = served
    run = json.loads(_rows(db, "SELECT payload FROM audit_records WHERE request_id = ? "
                           "ORDER BY seq LIMIT 1", rid)[0][0])["run"]  # fmt: skip
    cfg = tmp_path / "city.sumocfg"
    cfg.write_text(
        "<configuration><input>"
        f'<net-file value="{run["net"]["path"]}"/>'
        f'<route-files value="{run["routes"][0]["path"]}"/>'
        '</input><time><begin value="0"/><end value="600"/></time></configuration>'
    )
    r = _replay(rid, "--db", f"sqlite:///{db}", "--sumocfg", str(cfg), "--out-dir",
                str(tmp_path / "out"))  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "out" / "replay.json").read_text())
    assert data["rerun"]["seed"] == SEED and data["rerun"]["notes"] == []
    assert set(data["comparison"]) == {"none", "local", "corridor"}


def test_a_route_redacted_after_the_retention_period_is_reported_from_the_log_alone(
    served, tmp_path
):
    from datetime import timedelta

    from clearway.storage.db import write_session
    from clearway.storage.models import utcnow
    from clearway.storage.requests import redact_finished

    db, rid = served
    copy = tmp_path / "old.db"
    shutil.copy(db, copy)
    engine = make_engine(f"sqlite:///{copy}")
    with write_session(session_factory(engine)) as s:
        assert redact_finished(s, 30, now=utcnow() + timedelta(days=31)) == 1
    engine.dispose()
    r = _replay(rid, "--db", f"sqlite:///{copy}", "--out-dir", str(tmp_path / "out"))
    # What the log shows is reported all the same; the trip is not re-run.
    assert r.exit_code == 0 and "its route was removed" in r.output
    data = json.loads((tmp_path / "out" / "replay.json").read_text())
    assert data["rerun"] is None and "route was removed" in data["not_rerun"]
    assert data["comparison"] == {} and not (tmp_path / "out" / "time-space.png").exists()
    logged = sorted((h["signal_id"], h["start_s"], h["end_s"]) for h in data["log"]["holds"])
    assert logged and logged == _logged_holds(copy, rid)
    assert "## Not re-run" in (tmp_path / "out" / "replay.md").read_text()
