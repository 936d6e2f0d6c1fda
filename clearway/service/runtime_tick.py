"""What the live runtime does after each tick: write the signal changes, the requests' news
and the field junctions' faults and recoveries (queued on the database writer, never waited
for), flag refused positions, publish the view the feed reads (a mixin of :class:`~clearway.service.runtime.ServiceRuntime`)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future

from clearway.control.priority.desk import PriorityDesk
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.errors import (
    ImplausiblePositionError,
    ServiceUnavailableError,
)
from clearway.service import live_state
from clearway.service.clock import TrafficClock
from clearway.service.live_peds import CrossingCalls
from clearway.service.live_view import PedestrianView
from clearway.service.runtime_monitor import violation_entries
from clearway.service.runtime_records import (
    changed_events,
    field_entry,
    hold_entry,
    save_changes,
    served_entry,
    signal_entries,
)
from clearway.service.runtime_transit import transit_controllers, transit_entries
from clearway.signals.safety.guard import Verdict
from clearway.sim.detectors import DETECTOR_LENGTH_M, covered_lengths_m
from clearway.state.flow_history import FlowHistory
from clearway.state.traffic import TrafficState
from clearway.storage.audit import AuditEntry
from clearway.storage.writer import DbWriter

log = logging.getLogger(__name__)

#: Audit kind of a request whose vehicle sent a position that was refused (implausible ...).
FLAGGED_KIND = "request.flagged"
#: What the audit log says of a refused position that is not an implausibility.
NOT_PLACED = "the position could not be placed on the network or the route"


class AfterTick:
    """The writes and the view after a tick."""

    # -- after a tick --------------------------------------------------------------------------
    def _flush(self) -> None:
        """Audit this tick's signal changes, field faults and the requests' changes in one
        batch."""
        desk = self._desk()
        changed = self._index.changed(desk)
        verdicts, self._verdicts[:] = list(self._verdicts), []
        served = []
        if self._unserved:
            held = getattr(desk, "held", frozenset())
            done = self._decided_at_s
            for rid, created in self._unserved.items():
                record = desk.request(self._index.desk_id(rid))
                served.append(served_entry(
                    rid, record, self._now(), verdicts, held, self.strategy,
                    (done - created) * 1e3, decided_at_s=done,
                ))  # fmt: skip
            self._unserved.clear()
        served += self._flags(desk)
        if self._site is not None:
            served += [field_entry(e) for e in self._site.take_events()]
        served += self._transit_given(desk)
        served += self._holds_ended(desk)
        if self._wired is not None:
            found, self._monitor_seen = violation_entries(self._wired.monitor, self._monitor_seen)
            served += found
        if changed or verdicts or served:
            self._persist(changed, self._now(), principal=None, verdicts=verdicts, extra=served)

    def _holds_ended(self, desk: PriorityDesk) -> list[AuditEntry]:
        """``hold.ended`` for each junction hold whose recovery finished since last tick."""
        done = desk.recoveries
        fresh, self._holds_seen = done[self._holds_seen :], len(done)
        return [hold_entry(r, self._index.service_ids(r.request_ids)) for r in fresh]

    def _transit_given(self, desk: PriorityDesk) -> list[AuditEntry]:
        """``transit.priority`` for each green this tick moved for late buses, except at
        signals held or recovering for a priority request (their commands never went out)."""
        if self.transit is None or self._wired is None:
            return []
        decisions = [
            d for c in transit_controllers(self._wired.normal_control) for d in c.take_decisions()
        ]
        if not decisions:
            return []
        skipped = frozenset(getattr(desk, "held", ())) | frozenset(getattr(desk, "recovering", ()))
        return transit_entries(decisions, self.transit, skipped, self._clock)

    def _flags(self, desk: PriorityDesk) -> list[AuditEntry]:
        """``request.flagged`` for each request whose vehicle's position was just refused
        (implausible, off the network ...): once per new reason."""
        out = []
        for rid in self._index.ids():
            owner, _, finished = self._index.brief(rid)
            if finished:
                continue
            found = desk.feed_error(self._index.desk_id(rid))
            if found is None or not self._index.flag(rid, found[1]):
                continue
            kind, reason = found
            # The audit log is kept for good and must hold no place: an implausibility says
            # how fast, never where; any other reason (which may name an edge) by kind only.
            said = reason if kind == ImplausiblePositionError.__name__ else NOT_PLACED
            out.append(AuditEntry(
                FLAGGED_KIND, request_id=rid,
                payload={"kind": kind, "reason": said, "time_s": self._now(), "owner": owner},
            ))  # fmt: skip
        return out

    def _persist(
        self,
        changed: dict[str, PriorityRequest],
        now: float,
        *,
        principal: str | None,
        verdicts: list[Verdict],
        extra: list[AuditEntry] | None = None,
    ) -> Future[None]:
        """Queue the write of request changes and audit entries (in the queue's order)."""
        entries = signal_entries(verdicts, self._shown)
        entries += extra or []
        entries += changed_events(changed, self._index.known, principal, now)
        # The tick never waits for the database, and its records are kept through an outage
        # (durable); a request handler's write fails at once so its caller hears of it.
        written = self._writer().submit(save_changes(changed, entries), durable=principal is None)
        if principal is None:
            written.add_done_callback(self._count_failure)
        for rid, record in changed.items():
            self._index.written(rid, record)
            if record.state.is_final:
                self._untrack_if_done(record.spec.requester_id)
                if self.positions is not None:
                    self.positions.forget(rid)
        return written

    def _count_failure(self, fut: Future[None]) -> None:
        if fut.exception() is not None:
            self.flush_failures += 1
            log.error("could not record a tick's audit batch (the signals keep running): %s",
                      fut.exception())  # fmt: skip

    def _writer(self) -> DbWriter:
        if self.writer is None or not self.writer.running:
            raise ServiceUnavailableError("the database writer is not running; try again later")
        return self.writer

    def _drop(self, rid: str) -> None:
        """Forget a request whose creation could not be stored (its desk record is cancelled)."""
        self._unserved.pop(rid, None)
        gone = self._index.remove(rid)
        if gone is None or self._wired is None or self._wired.priority is None:
            return
        desk_id, vehicle = gone
        if not self._wired.priority.request(desk_id).state.is_final:
            self._wired.priority.cancel(desk_id, self._now())
        self._untrack_if_done(vehicle)

    def _untrack_if_done(self, vehicle_id: str) -> None:
        desk = self._desk()
        assert self._site is not None
        if not self._index.vehicle_busy(desk, vehicle_id):
            self._site.untrack_vehicle(vehicle_id)
            self._pushed.forget(vehicle_id)

    def _publish(self) -> None:
        assert self._wired is not None and self._feed is not None
        view = live_state.build_view(
            self._view.version + 1,
            self._wired,
            self._feed.priority_positions(),
            [self._live(rid) for rid in self._index.ids()],
            running=not self._stop.is_set(),
            error=self.error,
            tick_ms=self._tick_ms,
            flush_failures=self.flush_failures,
            lanes=self._lane_fill(self._wired.loop.last_traffic),
        )
        peds = self._pedestrians(view.signals)  # from the states the view shows
        if peds:
            view = dataclasses.replace(view, pedestrians=peds)
        if self._fixed_clock is None and self.speed > 0:
            # The twin's time now is the view's: anchored afresh each tick, so a tick that
            # ran early (woken by a request) or late shifts the mapping, not the samples.
            self._clock = TrafficClock.anchored(view.time_s, time.time(), self.speed)
        self._view = view

    @property
    def flows(self) -> FlowHistory:
        """Flow per detected lane, now and by time of day, from every detector reading of this
        run (made on first use; the tick thread feeds it)."""
        found: FlowHistory | None = self.__dict__.get("_flows")
        if found is None:
            net = self.net
            # Detectors reach back over the lanes into a short approach lane: their length.
            covered = covered_lengths_m(net, DETECTOR_LENGTH_M)
            found = self.__dict__.setdefault(
                "_flows",
                FlowHistory(
                    lambda lane: (
                        covered.get(lane) or min(net.lane(lane).length_m, DETECTOR_LENGTH_M)
                    )
                ),
            )
        return found

    def last_detectors(self) -> TrafficState | None:
        """The loop's last detector reading (aggregates per lane; immutable), ``None`` when
        not running. No lock: it never waits for a tick."""
        wired = self._wired
        return wired.loop.last_traffic if wired is not None else None

    def _pedestrians(self, signals: Mapping[str, str]) -> Mapping[str, PedestrianView]:
        # People waiting per crossing (counts), one CrossingCalls per wired run; nothing
        # without pedestrian detectors.
        wired = self._wired
        assert wired is not None
        if self._peds is None or self._peds[0] is not wired:
            self._peds = (wired, CrossingCalls(wired.net))
        return self._peds[1].update(wired.loop.last_traffic, signals)

    def _lane_fill(self, traffic: TrafficState) -> Mapping[str, float]:
        # Recomputed only when the loop has read the detectors anew.
        if traffic is not self._fill_of:
            self._fill_of, self._fill = traffic, live_state.lane_fill(traffic)
            self.flows.observe(traffic)
        return self._fill
