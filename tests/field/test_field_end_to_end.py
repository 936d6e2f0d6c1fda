"""Hardware in the loop without hardware: clearway's corridor reaches the Berlin twin's signals
only through SNMP (virtual NTCIP 1202 dual-ring controllers), from the ambulance's GPS
positions; the street's own safety monitor watches every simulation step."""

from __future__ import annotations

import pytest

from tests.field.street_harness import run_berlin

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

BACKUP_S = 5.0


def test_gps_corridor_over_snmp_then_clearway_dies(tmp_path):
    run = run_berlin(tmp_path, speed=4.0, kill_after_signals=3, backup_time_s=BACKUP_S,
                     timeout_s=150.0)
    st = run.status
    trip = st["trips"]["AMB-1"]
    assert trip["error"] is None and trip["request_id"], st["errors"]
    assert trip["samples_sent"] > 0  # GPS reports (lat/lon, heading, UTC) reached the desk
    # The corridor was granted at junctions it reached only through SNMP phase controls ...
    assert len(run.granted) >= 3, run.granted
    assert run.kill_s is not None
    # ... the street's monitor saw every step of it without a violation ...
    assert st["violations"] == 0, st["first_violation"]
    assert run.loop_rejected == 0
    assert run.field_faults == []
    # ... and after clearway went silent (no release sent), every controller it commanded
    # dropped the controls by itself within its backup time, back on its own program.
    commanded = {s: c for s, c in st["controllers"].items() if c["last_control_utc"] is not None}
    assert commanded
    for sid, c in commanded.items():
        assert c["own_program"] and c["in_backup"], sid
        waited_traffic_s = (c["backup_since_utc"] - c["last_control_utc"]) * 4.0
        assert waited_traffic_s <= BACKUP_S + 1.0 + 1e-6, (sid, waited_traffic_s)
