"""People on foot are counted, never named: the pedestrian calls of actuated and max-pressure
control read one number per sidewalk stretch (clearway's ``cwp_*`` lane-area detectors, which
count people) and nothing about any person -- on both backends."""

from __future__ import annotations

import pytest

from clearway.evaluation.run import run_scenario
from clearway.sim.pedestrians import PED_DETECTOR_PREFIX, ped_grid_scenario

from . import recording
from .recording import CallLog, RecordingSim, assert_private, check_call, record_sumo_calls

DURATION_S = 240.0


@pytest.mark.sumo
@pytest.mark.parametrize(
    ("strategy", "backend"), [("actuated", "libsumo"), ("max-pressure", "traci")]
)
def test_pedestrian_calls_read_counts_only(strategy, backend, tmp_path, monkeypatch):
    sc = ped_grid_scenario(tmp_path, "3x3", seed=2, end_s=DURATION_S)
    seen: list[str] = []
    original = check_call

    def spy(domain, method, args, *rest):
        if domain == "lanearea" and method == "getLastStepVehicleNumber" and args:
            seen.append(str(args[0]))
        return original(domain, method, args, *rest)

    monkeypatch.setattr(recording, "check_call", spy)
    with record_sumo_calls(monkeypatch) as log:
        result = run_scenario(sc, strategy=strategy, backend=backend, out_dir=tmp_path / "out")
    assert_private(log)
    assert result.guard_rejections == 0 and result.safety_violations == 0
    assert result.persons > 0
    # The pedestrian detectors were read (their counts), and nothing of any person.
    assert any(d.startswith(PED_DETECTOR_PREFIX) for d in seen)
    assert not [k for k in log.counts if k[0] in ("person", "edge")], log.counts
    assert log.vehicle_calls == 0


@pytest.mark.parametrize(
    ("domain", "method", "args"),
    [
        ("edge", "getLastStepPersonIDs", (":B1_w0",)),
        ("person", "getIDList", ()),
        ("person", "getPosition", ("ped0",)),
        ("lanearea", "getLastStepVehicleIDs", (f"{PED_DETECTOR_PREFIX}A1B1_0@end",)),
    ],
)
def test_reads_naming_people_are_refused(domain, method, args):
    assert check_call(domain, method, args, {}, set()) is not None


def test_a_pedestrian_detector_count_passes():
    det = f"{PED_DETECTOR_PREFIX}A1B1_0@end"
    assert check_call("lanearea", "getLastStepVehicleNumber", (det,), {}, set()) is None
    log = CallLog()

    class _Lanearea:
        @staticmethod
        def getLastStepVehicleNumber(det_id):  # noqa: N802 - SUMO's name
            return 3

    twin = type("Twin", (), {"_tracked": set()})()
    sim = RecordingSim(type("Sim", (), {"lanearea": _Lanearea()})(), twin, log)
    assert sim.lanearea.getLastStepVehicleNumber(det) == 3 and not log.violations
