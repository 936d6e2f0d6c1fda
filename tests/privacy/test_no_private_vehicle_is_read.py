"""Privacy by design, enforced: during control, clearway reads SUMO's detectors and signals,
and of single vehicles only the active priority vehicles -- never another vehicle, never a
list of vehicles.

Each test runs real control through the real wiring with the twin's simulator handle wrapped
(:mod:`tests.privacy.recording`): the evaluation harness (corridor priority for a convoy on
max-pressure normal control), the plain normal controllers (max-pressure on libsumo,
actuated on TraCI, which reads detectors through subscriptions) and the live service runtime
(a simulated ambulance and one whose positions only dispatch sends).

Evaluation metrics read SUMO's tripinfo file, one record per simulated vehicle. That is
after the fact and apart from control: the file is read only after the twin has closed the
simulation, and a test below shows it -- the metric readers are marked in the same event log
as the simulator's ``close``.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

import clearway
from clearway.control.priority.request import (
    EdgePlace,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
    Role,
)
from clearway.evaluation import priority_run
from clearway.evaluation import run as plain_run
from clearway.evaluation.priority_run import RunJob, run_job
from clearway.evaluation.priority_scenarios import build_plan, grid_setup
from clearway.evaluation.run import run_scenario
from clearway.evaluation.trip_spec import TripRequest
from clearway.service.runtime import ServiceRuntime
from clearway.sim.priority_trips import with_priority_trips
from clearway.sim.scenario import grid_scenario
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade

from .recording import CallLog, RecordingSim, assert_private, check_call, record_sumo_calls

DURATION_S = 240.0


def _marked(monkeypatch: pytest.MonkeyPatch, module: object, name: str, log: CallLog) -> None:
    """``module.name`` (a metrics reader) marks the event log each time it is called."""
    fn = getattr(module, name)

    def marked(*args, **kwargs):
        log.mark(f"metrics: {name}")
        return fn(*args, **kwargs)

    monkeypatch.setattr(module, name, marked)


def _separated(log: CallLog) -> None:
    """Metrics were read, and only once the simulation was closed."""
    metrics = [i for i, e in enumerate(log.events) if e.startswith("metrics")]
    closed = log.events.index("sumo closed")
    assert metrics, log.events
    assert min(metrics) > closed, log.events


@pytest.mark.sumo
def test_priority_control_reads_only_the_priority_vehicles(tmp_path, monkeypatch):
    # A 3-vehicle convoy across the middle row of a 3x3 grid, in moderate background traffic.
    convoy = TripRequest("left1A1", "C1right1", 60.0, "convoy", 3)
    plan = build_plan(grid_setup(tmp_path, "3x3", "moderate", (convoy,)), [1],
                      duration_s=DURATION_S)  # fmt: skip
    trip = plan.trips[0]
    scenario = with_priority_trips(plan.scenarios[1], plan.trips, tmp_path / "trips")
    job = RunJob("corridor", scenario, "corridor", plan.trips, plan.routes, (),
                 tmp_path / "run", DURATION_S, normal="max-pressure")  # fmt: skip
    with record_sumo_calls(monkeypatch) as log:
        _marked(monkeypatch, priority_run, "read_vehicle_trips", log)
        _marked(monkeypatch, priority_run, "others_distribution", log)
        measures = run_job(job)
    assert_private(log)
    # The run was real: the convoy was followed and got through, others drove too.
    assert measures.trips[0].arrived and measures.requests_completed == 1
    assert measures.others.vehicles > 0
    # Only the lead (whom the desk follows) and the tail (the trace) were ever read.
    assert log.vehicles_read == {trip.lead_id, trip.tail_id}
    assert log.vehicles_inserted == []  # the harness's vehicles come from the route file
    _separated(log)


@pytest.mark.sumo
@pytest.mark.parametrize(
    ("strategy", "backend"), [("max-pressure", "libsumo"), ("actuated", "traci")]
)
def test_normal_control_reads_no_vehicle_at_all(strategy, backend, tmp_path, monkeypatch):
    sc = grid_scenario(tmp_path, size="3x3", seed=3, end_s=DURATION_S, load="moderate")
    with record_sumo_calls(monkeypatch) as log:
        _marked(monkeypatch, plain_run, "read_tripinfo", log)
        result = run_scenario(sc, strategy=strategy, backend=backend, out_dir=tmp_path / "out")
    assert_private(log)
    assert result.arrived > 0 and result.guard_rejections == 0
    # Adaptive control ran on the detectors' aggregates, and no vehicle was named.
    detector_reads = sum(n for (d, _), n in log.counts.items() if d == "lanearea")
    assert detector_reads > 0 and log.vehicle_calls == 0
    _separated(log)


@pytest.mark.sumo
def test_the_service_runtime_reads_only_vehicles_with_a_live_request(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clearway.db'}"
    upgrade(url)
    engine = make_engine(url)
    sc = grid_scenario(tmp_path / "live", size="3x3", seed=4, end_s=900.0, load="light")
    runtime = ServiceRuntime(sc, strategy="corridor", speed=0.0)

    def spec(vehicle: str, incident: str) -> PriorityRequestSpec:
        return PriorityRequestSpec(
            requester_id=vehicle, role=Role.AMBULANCE, importance=12, incident_id=incident,
            origin=EdgePlace(edge_id="A0A1"), destination=EdgePlace(edge_id="B2C2"),
            lease_s=300.0,
        )  # fmt: skip

    with record_sumo_calls(monkeypatch) as log:
        runtime.start(session_factory(engine))
        try:
            simulated = runtime.create(spec("AMB-SIM", "INC-1"), "dispatch", simulate=True)
            # A vehicle the twin does not drive: only dispatch sends where it is.
            remote = runtime.create(spec("AMB-REMOTE", "INC-2"), "dispatch")
            runtime.push_position(
                "AMB-REMOTE",
                PositionUpdate(time_s=runtime.clock_s(), place=EdgePlace(edge_id="A0A1"),
                               speed_mps=5.0),
            )  # fmt: skip
            runtime.cancel(remote.request_id, "dispatch")
            deadline = time.monotonic() + 20.0
            while runtime.get(simulated.request_id).record.state is not RequestState.COMPLETED:
                assert runtime.running and time.monotonic() < deadline, runtime.error
                time.sleep(0.05)
            # Both requests are finished: their vehicles are no longer read, ticks go on.
            t_done, reads_done = runtime.now_s(), log.vehicle_calls
            while runtime.now_s() < t_done + 30.0:
                assert runtime.running, runtime.error
                time.sleep(0.05)
            reads_later = log.vehicle_calls
        finally:
            runtime.stop()
            engine.dispose()
    assert runtime.error is None, runtime.error
    assert_private(log)
    assert reads_later == reads_done
    assert log.vehicles_inserted == ["AMB-SIM"]
    assert log.vehicles_read <= {"AMB-SIM", "AMB-REMOTE"} and "AMB-SIM" in log.vehicles_read


# -- the recorder itself ------------------------------------------------------------------------
class _FakeDomain:
    def __getattr__(self, name):
        return lambda *args, **kwargs: []


class _FakeSim:
    vehicle = person = simulation = lanearea = edge = trafficlight = _FakeDomain()

    def simulationStep(self):  # noqa: N802 - SUMO's name
        pass


@pytest.mark.parametrize(
    ("domain", "method", "args"),
    [
        ("vehicle", "getIDList", ()),
        ("vehicle", "getRoadID", ("someone",)),
        ("vehicle", "getLeader", ("amb",)),
        ("vehicle", "subscribeContext", ("amb", 0xA4, 100.0)),
        ("person", "getIDList", ()),
        ("simulation", "getDepartedIDList", ()),
        ("simulation", "subscribe", ([0x74],)),  # VAR_DEPARTED_VEHICLES_IDS
        ("lanearea", "getLastStepVehicleIDs", ("det",)),
        ("lanearea", "subscribe", ("det", [0x12])),  # LAST_STEP_VEHICLE_ID_LIST
        ("edge", "getLastStepVehicleIDs", ("E1",)),
        ("trafficlight", "getBlockingVehicles", ("J1", 0)),
    ],
)
def test_the_recorder_flags_reads_of_other_vehicles(domain, method, args):
    twin = type("Twin", (), {"_tracked": {"amb"}})()
    log = CallLog()
    sim = RecordingSim(_FakeSim(), twin, log)
    getattr(getattr(sim, domain), method)(*args)
    assert len(log.violations) == 1, log.violations


def test_the_recorder_lets_aggregates_and_the_tracked_vehicle_through():
    tracked = {"amb"}
    assert check_call("vehicle", "getRoadID", ("amb",), {}, tracked) is None
    assert check_call("vehicle", "add", ("amb", "r1"), {"typeID": "cw_priority"}, set()) is None
    assert check_call("vehicle", "add", ("car", "r1"), {"typeID": "DEFAULT_VEHTYPE"}, set())
    assert check_call("lanearea", "getLastStepOccupancy", ("det",), {}, tracked) is None
    assert check_call("simulation", "subscribe", ([0x66, 0x7D],), {}, tracked) is None


# -- the twin is the only door to SUMO ----------------------------------------------------------
#: Modules allowed to import libsumo or traci: the adapter (constants only) and its launcher.
SUMO_DOORS = {"clearway/sim/twin.py", "clearway/sim/launch.py"}


def test_only_the_twin_talks_to_sumo():
    """The recorder wraps the twin's handle; no other module may open its own to SUMO."""
    root = Path(clearway.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None))
                in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]  # importlib.import_module("libsumo")
            if any(n.split(".")[0] in ("libsumo", "traci") for n in names):
                found.add(path.relative_to(root.parent).as_posix())
    assert found <= SUMO_DOORS, sorted(found - SUMO_DOORS)


def test_the_twin_imports_only_constants_from_traci():
    tree = ast.parse(Path(clearway.__file__).with_name("sim").joinpath("twin.py").read_text())
    imported = {
        (node.module, a.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("traci", "libsumo")
        for a in node.names
    }
    assert imported == {("traci", "constants")}
