"""Wiring for field equipment: junction configs to ports, controllers and the control loop.

The field counterpart of :func:`clearway.bootstrap.open_twin_run`: the same guard, monitor,
corridor and loop, on :class:`~clearway.field.port.FieldSignals` instead of the SUMO twin,
with the controllers' own programs as normal control and traffic time = UTC unix seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from clearway.control.own_program import OwnProgram
from clearway.control.priority.feeds import PushedPositions
from clearway.control.priority.field_preemption import FieldPreemption
from clearway.control.priority.policies import CorridorPreemption
from clearway.control.runtime import ControlLoop
from clearway.errors import ConfigError
from clearway.field.config import FieldConfig, check_config
from clearway.field.port import FieldController, FieldSignals
from clearway.field.snmp_client import SnmpRunner, SnmpTarget
from clearway.field.virtual.street import VirtualCabinet
from clearway.monitor import SafetyMonitor
from clearway.network.model import Network
from clearway.ports import PriorityVehicleFeed
from clearway.signals.model import Intersection
from clearway.signals.nema import PhaseMap
from clearway.signals.safety import SafetyGuard


def detector_lanes(net: Network, pm: PhaseMap) -> tuple[str, ...]:
    """Lanes of the controller's vehicle detectors 1, 2, ...: one stop-bar detector per
    approach lane a phase serves, in lane-id order (the virtual controllers use the same)."""
    served = set().union(*(p.links for p in pm.phases)) if pm.phases else set()
    return tuple(sorted({lk.from_lane for lk in net.signal_links(pm.signal_id)
                         if lk.signal_index in served and lk.from_lane}))  # fmt: skip


def field_controllers(
    cfg: FieldConfig, net: Network, *, timeout_s: float = 1.0, retries: int = 1
) -> list[FieldController]:
    """The port's view of every configured controller (credentials resolved now)."""
    return [
        FieldController(
            c.signal_id, c.phase_map,
            SnmpTarget(c.host, c.port, c.credentials(), timeout_s=timeout_s, retries=retries),
            c.backup_time_s, detector_lanes(net, c.phase_map),
        )  # fmt: skip
        for c in cfg.controllers
    ]


def virtual_cabinets(cfg: FieldConfig, net: Network) -> list[VirtualCabinet]:
    """The virtual street's controllers for a config (ports and credentials as configured)."""
    for c in cfg.controllers:
        if c.host not in ("127.0.0.1", "localhost"):
            raise ConfigError(
                f"controller {c.signal_id!r} is at {c.host}: virtual controllers listen on "
                "127.0.0.1 only; write a config for them with "
                "`clearway field config NET --out CONFIG --host 127.0.0.1`"
            )
    return [
        VirtualCabinet(c.signal_id, c.phase_map, c.port, c.credentials(), c.backup_time_s,
                       detector_lanes(net, c.phase_map))  # fmt: skip
        for c in cfg.controllers
    ]


@dataclass(frozen=True)
class WallClock:
    """Traffic time on field equipment: UTC unix seconds (the defaults). A virtual street run
    faster than real time shows traffic time ``(utc - epoch_utc_s) * speed``; so does this
    clock when given the same epoch and speed. ``advance`` waits."""

    epoch_utc_s: float = 0.0
    speed: float = 1.0

    def now_s(self) -> float:
        """Traffic time now (s; UTC unix seconds at the defaults)."""
        return (time.time() - self.epoch_utc_s) * self.speed

    def to_traffic_s(self, utc_s: float) -> float:
        """Traffic time of a UTC instant (s)."""
        return (utc_s - self.epoch_utc_s) * self.speed

    def advance(self, dt_s: float) -> None:
        """Sleep ``dt_s`` seconds of traffic time."""
        time.sleep(max(dt_s, 0.0) / self.speed)


@dataclass
class FieldRun:
    """A control loop wired to field controllers."""

    net: Network
    guard: SafetyGuard
    signals: FieldSignals
    monitor: SafetyMonitor
    loop: ControlLoop
    priority: FieldPreemption
    pushed: PushedPositions


@contextmanager
def open_field_run(
    cfg: FieldConfig,
    net: Network,
    models: Mapping[str, Intersection],
    *,
    tick_s: float = 1.0,
    feed: PriorityVehicleFeed | None = None,
    clock: WallClock | None = None,
    io_timeout_s: float = 5.0,
) -> Iterator[FieldRun]:
    """The corridor on field controllers: guard, monitor (on what they report), loop.

    Raises
    ------
    ConfigError
        If the config contradicts the network (every mismatch named).
    """
    problems = check_config(cfg, models, net)
    if problems:
        raise ConfigError("the junction config does not match the network:\n  " + "\n  ".join(problems))
    clock = clock or WallClock()
    controlled = {c.signal_id: models[c.signal_id] for c in cfg.controllers}
    guard = SafetyGuard(controlled)
    monitor = SafetyMonitor(net, controlled)
    runner = SnmpRunner("clearway-field")
    signals = FieldSignals(field_controllers(cfg, net), runner, now_s=clock.now_s,
                           io_timeout_s=io_timeout_s)  # fmt: skip
    pushed = PushedPositions()
    programs = {sid: net.traffic_lights[sid].default_program for sid in controlled}
    maps = {c.signal_id: c.phase_map for c in cfg.controllers}
    desk = FieldPreemption(
        OwnProgram(), net, controlled, programs, feed if feed is not None else pushed,
        CorridorPreemption(), phase_maps=maps,
    )  # fmt: skip
    loop = ControlLoop(signals, signals, clock, guard, desk, tick_s=tick_s)
    try:
        yield FieldRun(net, guard, signals, monitor, loop, desk, pushed)
    finally:
        try:
            signals.close()
        finally:
            runner.close()


__all__: Sequence[str] = ["FieldRun", "WallClock", "detector_lanes", "field_controllers",
                          "open_field_run", "virtual_cabinets"]  # fmt: skip
