"""``clearway audit keygen``, ``clearway report public`` and ``clearway audit verify --against``
end to end through typer, on a real SQLite database."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from clearway.cli.app import app
from clearway.errors import ConfigError
from clearway.storage.db import make_engine, session_factory, write_session
from clearway.storage.models import AuditRecordRow
from tests.fakes.trips import add_trip


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def run(db_url):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db_url])

    return invoke


@pytest.fixture
def trips(db_url):
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    day = datetime(2026, 12, 3, 8, tzinfo=UTC)
    for i in range(6):
        add_trip(sessions, day + timedelta(minutes=i))
    add_trip(sessions, day + timedelta(hours=1), role="police")
    yield sessions
    engine.dispose()


def _keygen(tmp_path):
    key = tmp_path / "report.key"
    res = CliRunner().invoke(app, ["audit", "keygen", str(key)])
    assert res.exit_code == 0, res.output
    return key


def test_keygen_report_and_verify_against_the_published_head(run, trips, tmp_path):
    key = _keygen(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert CliRunner().invoke(app, ["audit", "keygen", str(key)]).exit_code != 0  # no overwrite
    out = tmp_path / "public" / "2026-12.json"
    res = run("report", "public", "--month", "2026-12", "--out", str(out), "--key-file", str(key))
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["period"] == "2026-12" and report["k"] == 5
    assert report["totals"]["requests_by_role"]["ambulance"]["value"] == 6
    assert report["totals"]["requests_by_role"]["police"]["suppressed"] == "fewer than 5 requests"
    head = report["audit_head"]
    assert head["algorithm"] == "Ed25519" and head["head_seq"] > 0
    # The head alone, with the published public key, and the whole report.
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(head))
    pub = str(key) + ".pub"
    for against in (head_file, out):
        res = run("audit", "verify", "--against", str(against), "--public-key", pub)
        assert res.exit_code == 0, res.output
        assert "signature valid" in res.output and f"record {head['head_seq']}" in res.output
    res = run("audit", "verify", "--against", str(out), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["against"]["ok"] is True


def test_a_tampered_report_head_or_signature_fails(run, trips, tmp_path):
    key = _keygen(tmp_path)
    out = tmp_path / "r.json"
    assert run("report", "public", "--day", "2026-12-03", "--out", str(out),
               "--key-file", str(key)).exit_code == 0  # fmt: skip
    report = json.loads(out.read_text())
    cases = {
        "report": {**report, "totals": {**report["totals"], "requests": {"value": 99}}},
        "head": {**report, "audit_head": {**report["audit_head"], "head_seq": 1}},
        "signature": {**report, "audit_head": {**report["audit_head"],
                                               "signature": "A" * 86 + "=="}},
    }  # fmt: skip
    for name, doc in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        res = run("audit", "verify", "--against", str(path))
        assert res.exit_code == 1, (name, res.output)
        assert "not verified" in res.output, (name, res.output)
    other = tmp_path / "other.key"
    CliRunner().invoke(app, ["audit", "keygen", str(other)])
    res = run("audit", "verify", "--against", str(out), "--public-key", str(other) + ".pub")
    assert res.exit_code == 1 and "another public key" in res.output


def test_a_rewritten_row_before_the_head_fails_naming_it(run, trips, tmp_path):
    key = _keygen(tmp_path)
    out = tmp_path / "r.json"
    assert run("report", "public", "--month", "2026-12", "--out", str(out),
               "--key-file", str(key)).exit_code == 0  # fmt: skip
    with write_session(trips) as s:
        s.execute(update(AuditRecordRow).where(AuditRecordRow.seq == 3).values(principal="x"))
    res = run("audit", "verify", "--against", str(out))
    assert res.exit_code == 1, res.output
    assert "rewritten" in res.output and "first bad record 3" in res.output


def test_report_public_refuses_k_below_five_and_bad_periods(run, trips):
    cases = {("--k", "4"): "below the floor of 5", ("--month", "2026-13"): "not a date",
             ("--month", "2026-12", "--day", "2026-12-01"): "not both"}  # fmt: skip
    for args, why in cases.items():
        res = run("report", "public", *args)
        assert isinstance(res.exception, ConfigError), (args, res.output)
        assert why in str(res.exception), (args, res.exception)


def test_report_public_without_a_key_publishes_an_unsigned_head_and_says_so(run, trips):
    res = run("report", "public", "--day", "2026-12-03")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["audit_head"]["signature"] is None and "unsigned" in report["audit_head"]
    assert "UNSIGNED" in res.stderr


@pytest.mark.sumo
def test_report_public_with_the_network_estimates_time_saved(run, trips, tmp_path):
    from tests.fakes.networks import netgenerate_grid

    net = netgenerate_grid(tmp_path / "grid.net.xml", 3)
    res = run("report", "public", "--day", "2026-12-03", "--net", str(net))
    assert res.exit_code == 0, res.output
    totals = json.loads(res.stdout)["totals"]
    # Seven completed trips of 100 s on A0A1 -> A1B1: far slower than its estimate (~26 s).
    saved = totals["time_saved_median_s"]
    assert saved["requests"] == 7 and -100 < saved["value"] < -50, saved
    assert list(totals["holds_per_junction"]) == ["A1"]
