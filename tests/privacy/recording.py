"""A recording stand-in for the simulator behind :class:`~clearway.sim.twin.SumoTwin`, and
the privacy rules every call it sees is checked against.

The twin is clearway's only door to SUMO (``test_only_the_twin_talks_to_sumo`` keeps it so):
whatever the state source and the controllers learn about traffic, they learn through the
handle ``SumoTwin`` keeps in ``_sim`` (the ``libsumo`` module or a ``traci`` Connection).
:func:`record_sumo_calls` wraps that handle in every twin started while it is active, so each
call on any domain (``vehicle``, ``lanearea``, ``simulation`` ...) is seen and checked, on
either backend.

The rules (:func:`check_call`) are an allowlist: a call passes only if it is known to read
aggregates or infrastructure, or -- on the ``vehicle`` domain -- names a vehicle the twin is
tracking as a priority vehicle *at that moment* (or inserts one of clearway's priority
vehicles). Anything else is a violation: reading another vehicle, listing vehicles
(``vehicle.getIDList``, ``simulation.getDepartedIDList``, a detector's
``getLastStepVehicleIDs``), a context subscription, a subscription to id lists, and any
call not reviewed yet. A new read of the simulator therefore fails these tests until it is
reviewed for privacy and added to :data:`AGGREGATE_CALLS` (or :data:`OWN_VEHICLE_READS`).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from traci import constants as tc

from clearway.sim.priority_trips import PRIORITY_VTYPE_ID
from clearway.sim.twin import SumoTwin

#: Calls that read or set only infrastructure and aggregates, per domain ("" = the handle).
AGGREGATE_CALLS: dict[str, frozenset[str]] = {
    "": frozenset({"simulationStep", "close"}),
    "simulation": frozenset({"subscribe", "getSubscriptionResults", "isLoaded"}),
    "trafficlight": frozenset(
        {
            "getIDList",
            "getRedYellowGreenState",
            "setRedYellowGreenState",
            "subscribe",
            "getSubscriptionResults",
            "getAllSubscriptionResults",
        }
    ),
    # Lane-area detectors: clearway's vehicle detectors (cw_*) and its pedestrian detectors
    # (cwp_*, detectPersons="walk" on sidewalks before a crossing), whose getLastStepVehicleNumber
    # is the number of people on the stretch -- a count, like a push button's call; the ids of
    # either (getLastStepVehicleIDs) stay forbidden.
    "lanearea": frozenset(
        {
            "getIDList",
            "getLaneID",
            "getLastStepVehicleNumber",
            "getLastStepHaltingNumber",
            "getJamLengthMeters",
            "getLastStepOccupancy",
            "getLastStepMeanSpeed",
            "subscribe",
            "getSubscriptionResults",
            "getAllSubscriptionResults",
        }
    ),
    # Adds a route (a list of edges) for a priority vehicle about to be inserted.
    "route": frozenset({"add"}),
}

#: What a subscription may ask for, per domain: counts and states, never ids of vehicles.
AGGREGATE_VARIABLES: dict[str, frozenset[int]] = {
    "simulation": frozenset(
        {tc.VAR_TIME, tc.VAR_MIN_EXPECTED_VEHICLES, tc.VAR_TELEPORT_STARTING_VEHICLES_NUMBER}
    ),
    "trafficlight": frozenset({tc.TL_RED_YELLOW_GREEN_STATE}),
    "lanearea": frozenset(
        {
            tc.LAST_STEP_VEHICLE_NUMBER,
            tc.LAST_STEP_VEHICLE_HALTING_NUMBER,
            tc.JAM_LENGTH_METERS,
            tc.LAST_STEP_OCCUPANCY,
            tc.LAST_STEP_MEAN_SPEED,
        }
    ),
}

#: Reads of one vehicle about that vehicle alone (not of its neighbours: ``getLeader`` names
#: another vehicle), allowed only for a vehicle tracked as a priority vehicle at the time.
OWN_VEHICLE_READS = frozenset(
    {
        "getRoadID",
        "getLanePosition",
        "getSpeed",
        "getLaneID",
        "getLaneIndex",
        "getPosition",
        "getAngle",
        "getRouteIndex",
        "getDistance",
        "getRoute",
    }
)

#: Commands to one of clearway's own priority vehicles (tracked, or a convoy follower clearway
#: inserted): its driver follows clearway's advice and new route. They read nothing.
OWN_VEHICLE_COMMANDS = frozenset({"setSpeed", "setRoute"})


@dataclass
class CallLog:
    """Every call the twins made while recording, counted, and the ones that broke a rule.

    ``events`` interleaves markers the test adds (``mark``) with the twins' ``close`` and
    ``start``, so a test can show what happened before and after the simulation was closed.
    """

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    #: Vehicle ids each (allowed) per-vehicle call named.
    vehicles_read: set[str] = field(default_factory=set)
    vehicles_inserted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def mark(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def add(self, domain: str, method: str, violation: str | None) -> None:
        with self._lock:
            self.counts[(domain, method)] += 1
            if violation is not None:
                self.violations.append(violation)

    @property
    def vehicle_calls(self) -> int:
        return sum(n for (d, _), n in self.counts.items() if d == "vehicle")


def _variables(args: tuple[Any, ...], kwargs: dict[str, Any], first: int) -> list[int]:
    raw = kwargs.get("varIDs", args[first] if len(args) > first else None)
    return [] if raw is None else list(raw)


def check_call(
    domain: str,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    tracked: set[str],
    inserted: frozenset[str] = frozenset(),
) -> str | None:
    """Why this call breaks the privacy rules, or ``None`` if it keeps them (``inserted``:
    the vehicles clearway inserted itself)."""
    call = f"{domain + '.' if domain else ''}{method}{args!r:.120}"
    if domain == "vehicle":
        vid = args[0] if args else kwargs.get("vehID", kwargs.get("vehicleID"))
        if method == "add":
            type_id = kwargs.get("typeID", args[2] if len(args) > 2 else None)
            if type_id != PRIORITY_VTYPE_ID:
                return f"{call}: inserted a vehicle that is not a priority vehicle ({type_id!r})"
            return None
        if method in OWN_VEHICLE_COMMANDS:
            if vid not in tracked and vid not in inserted:
                return f"{call}: commands vehicle {vid!r}, not one of clearway's own"
            return None
        if method in OWN_VEHICLE_READS:
            if vid not in tracked:
                return f"{call}: read vehicle {vid!r}, not an active priority vehicle {tracked}"
            return None
        if "IDList" in method or "IDCount" in method:
            return f"{call}: lists the vehicles on the network"
        return f"{call}: not a read of the priority vehicle's own position (ids, neighbours?)"
    if method not in AGGREGATE_CALLS.get(domain, frozenset()):
        return f"{call}: not known to read aggregates only; review it for privacy"
    if method == "subscribe":
        first = 0 if domain == "simulation" else 1
        extra = set(_variables(args, kwargs, first)) - AGGREGATE_VARIABLES.get(domain, set())
        if extra:
            return f"{call}: subscribes to variables {sorted(map(hex, extra))} beyond aggregates"
    return None


class _Domain:
    def __init__(self, recorder: RecordingSim, name: str, target: Any) -> None:
        self._recorder, self._name, self._target = recorder, name, target

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value):
            return value
        return self._recorder.wrap(self._name, attr, value)


class RecordingSim:
    """Stands in for the libsumo module or a traci Connection: same domains, every call
    checked and counted in ``log``."""

    def __init__(self, sim: Any, twin: SumoTwin, log: CallLog) -> None:
        self._sim, self._twin, self._log = sim, twin, log
        self._closed = False

    def wrap(self, domain: str, method: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if domain == "_libsumo":
            # libsumo's compiled functions (``_libsumo.<domain>_<name>``, what the twin calls
            # on hot paths) are the same calls as ``<domain>.<name>``: same rules.
            domain, _, method = method.partition("_")
        def call(*args: Any, **kwargs: Any) -> Any:
            # Which vehicles are priority vehicles right now: the twin's own tracked set.
            tracked = set(getattr(self._twin, "_tracked", ()))
            inserted = frozenset(self._log.vehicles_inserted)
            violation = check_call(domain, method, args, kwargs, tracked, inserted)
            if self._closed and method != "close":
                violation = f"{domain}.{method}: called after the simulation was closed"
            self._log.add(domain, method, violation)
            if domain == "vehicle" and violation is None:
                if method == "add":
                    self._log.vehicles_inserted.append(args[0])
                else:
                    self._log.vehicles_read.add(args[0])
            if domain == "" and method == "close":
                self._closed = True
                self._log.mark("sumo closed")
            return fn(*args, **kwargs)

        return call

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._sim, attr)
        if inspect.isroutine(value):  # libsumo's domains are classes: callable, not routines
            return self.wrap("", attr, value)
        return _Domain(self, attr, value)


@contextlib.contextmanager
def record_sumo_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallLog]:
    """Every :class:`SumoTwin` started inside talks to SUMO through a :class:`RecordingSim`."""
    log = CallLog()
    original = SumoTwin.__init__

    def init(self: SumoTwin, sim: Any, **kwargs: Any) -> None:
        log.mark("sumo started")
        original(self, RecordingSim(sim, self, log), **kwargs)

    with monkeypatch.context() as m:
        m.setattr(SumoTwin, "__init__", init)
        yield log


def assert_private(log: CallLog) -> None:
    """No call broke a rule, and the twin really was recorded."""
    assert log.counts[("", "simulationStep")] > 0, "no simulation step was recorded"
    distinct = list(dict.fromkeys(log.violations))  # each distinct violation once, in order
    assert not distinct, (
        f"per-vehicle data read during control ({len(log.violations)} calls):\n"
        + "\n".join(distinct[:20])
    )
