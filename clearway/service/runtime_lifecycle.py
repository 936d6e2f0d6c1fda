"""The live runtime's lifecycle: opening its site (a twin, or field controllers), ticking it
in a thread (a twin at the chosen speed, field controllers on the wall clock), recovering
from a failed tick with a fresh site, stopping (a mixin of
:class:`~clearway.service.runtime.ServiceRuntime`, which holds the state it works on)."""

from __future__ import annotations

import contextlib
import gc
import logging
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from clearway.control.priority.feeds import MergedFeed, PushedPositions
from clearway.control.priority.reroute import ReroutePolicy
from clearway.errors import (
    ConfigError,
)
from clearway.service.positions import PositionRecorder
from clearway.service.request_index import RequestIndex
from clearway.service.restore import restore_requests
from clearway.service.runtime_monitor import violation_entries
from clearway.service.simulated_drivers import SimulatedDrivers
from clearway.service.sites import Site, TwinSite, open_field_site, open_twin_site
from clearway.sim.priority_trips import write_priority_vtype
from clearway.storage.audit import append_entries
from clearway.storage.writer import DbWriter

log = logging.getLogger(__name__)

#: Shortest pause between two ticks (s): lets request handlers take the lock at any speed.
_MIN_PAUSE_S = 0.001
#: Failed ticks after which the runtime stays stopped instead of starting a fresh twin.
MAX_RECOVERIES = 5


def _freeze_heap() -> None:
    """Keep what exists now (the network, the twin's and the controllers' state: most of
    the heap) out of the garbage collector's full passes while the runtime runs.

    A full pass over that heap took about 100 ms (measured on the 3x3 grid under the
    service bench's load), and it stops every thread — a request's first decision and
    every position call in flight waited for it. Frozen objects are not scanned; what is
    allocated from now on is collected as usual, and :meth:`SiteLifecycle.stop` unfreezes.
    """
    gc.collect()
    gc.freeze()


class SiteLifecycle:
    """Start, tick, recover, stop."""

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, sessions: sessionmaker[Session]) -> None:
        """Open the site, take up the stored unfinished requests, start ticking; requests
        and audit go to ``sessions``."""
        if self._thread is not None:
            raise ConfigError("the runtime is started already")
        stack = ExitStack()
        try:
            if self.scenario is not None:
                tmp = Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="clearway-serve-"))
                )
                vtype = write_priority_vtype(
                    tmp / "priority.vtype.add.xml", demand_scale=self.scenario.demand_scale
                )
                self._run_scenario = replace(
                    self.scenario, additional_files=(*self.scenario.additional_files, vtype)
                )
            self.writer = DbWriter(sessions).start()
            # Closed last on exit (a stack unwinds backwards): the site first, then the
            # queued writes.
            stack.callback(self.writer.stop)
            self._stack = stack
            with self.lock:
                self._open_site()
        except BaseException:
            self._close_site()
            self._stack = None
            stack.close()
            raise
        self._stop.clear()
        _freeze_heap()
        self._thread = threading.Thread(target=self._run, name="clearway-runtime", daemon=True)
        self._thread.start()

    def _open_site(self) -> None:
        """A fresh site and control loop, and the unfinished requests taken up (under the
        lock). Its signals start on their own programs; the loop's first tick takes them over
        through the guard, so every signal shows a state the guard approved from then on."""
        assert self.writer is not None
        self._pushed = PushedPositions()  # the twin's clock starts again: old stamps mislead
        if self.transit is not None:
            self.transit.reset()  # so do the buses' (their times are the twin's)
        site_stack = ExitStack()
        try:
            site: Site = site_stack.enter_context(
                open_twin_site(
                    self._run_scenario, strategy=self.strategy, normal=self.normal,
                    backend=self.backend, tick_s=self.tick_s, net=self.net, pushed=self._pushed,
                    buses=self.transit,
                )
                if self.field is None
                else open_field_site(self.field, self.net, tick_s=self.tick_s, pushed=self._pushed)
            )  # fmt: skip
        except BaseException:
            site_stack.close()
            raise
        wired = site.wired
        wired.loop.on_verdict = self._verdicts.append
        book = getattr(wired.priority, "book", None)
        if self.reroute and self.strategy == "corridor" and book is not None:
            book.reroute = ReroutePolicy()
        self._drivers = SimulatedDrivers()
        self._site_stack, self._site, self._wired = site_stack, site, wired
        self._monitor_seen = 0  # a fresh monitor: its violations are audited from the first
        self._holds_seen = 0  # a fresh desk: its holds too
        self._feed = MergedFeed(*site.feeds(), self._pushed)
        self._index = RequestIndex()
        self._unserved.clear()
        self._shown.clear()
        self._verdicts.clear()
        self.positions = PositionRecorder(self.writer)
        restore_requests(self, self.writer)
        self._publish()

    def _drive_simulated(self, site: Site) -> None:
        """The twin's simulated vehicles follow their advice and new routes
        (:mod:`~clearway.service.simulated_drivers`); field vehicles have drivers."""
        if not isinstance(site, TwinSite):
            return
        rids = self._index.simulated_ids()
        if not rids:
            return
        desk, twin = self._desk(), site.wired.twin
        records = [desk.request(self._index.desk_id(rid)) for rid in rids]
        self._drivers.follow(twin, records, twin.priority_positions())

    def _close_site(self) -> None:
        if self._wired is not None:
            self.violations += list(self._wired.monitor.violations)
            # What the monitor saw since the last tick's write (a failed or the last tick).
            found, self._monitor_seen = violation_entries(self._wired.monitor, self._monitor_seen)
            if found and self.writer is not None and self.writer.running:
                self.writer.submit(lambda s: append_entries(s, found), durable=True)
        stack, self._site_stack, self._site, self._wired = self._site_stack, None, None, None
        if stack is not None:
            try:
                stack.close()
            except Exception:  # a dead simulator may fail to close: it is gone either way
                log.exception("closing the failed site")

    def _recover(self, exc: BaseException) -> bool:
        """After a failed tick (the simulator died, an adapter error): report it, drop the
        site, open a fresh one and take the unfinished requests up again. Returns whether
        the runtime runs again."""
        self.error = f"{type(exc).__name__}: {exc}"
        self._state = "recovering"
        self._view = replace(self._view, running=False, error=self.error)
        self._close_site()
        if self.recoveries >= MAX_RECOVERIES:
            log.error("the runtime failed %d times; it stays stopped", self.recoveries + 1)
            self._state = "failed"
            return False
        if self.writer is not None:
            # What the ticks before the failure wrote must be in the database before the
            # requests are read back from it.
            with contextlib.suppress(Exception):
                self.writer.run(lambda _s: None, timeout_s=5.0)
        try:
            self._open_site()
        except Exception:
            log.exception("could not open a fresh site after a failure")
            self._state = "failed"
            return False
        self.recoveries += 1
        self._state = "running"
        log.warning("the runtime recovered from %s (recovery %d)", self.error, self.recoveries)
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop ticking (after the current tick), then close the site (field controllers are
        released: their own programs at once). Idempotent."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the runtime thread did not stop within %.1f s", timeout_s)
        with self.lock:
            self._close_site()
            if self._stack is not None:
                self._stack.close()
            self._stack = None
            if self._state == "running":
                self._state = "stopped"
            self._view = replace(self._view, running=False, error=self.error)
        self._thread = None
        gc.unfreeze()  # what the runtime held may be collected again

    @property
    def running(self) -> bool:
        """The tick thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> str:
        """``running``, ``recovering`` (after a failure), ``stopped`` or ``failed``."""
        if self._state == "running" and not self.running:
            return "stopped"
        return self._state

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self.lock:
                site = self._site
                if site is None or not site.running:
                    log.info("the simulation has ended; the runtime stops ticking")
                    self._view = replace(self._view, running=False)
                    return
                started = time.perf_counter()
                try:
                    site.wired.loop.tick()
                    # The decisions of this tick are made: what ``served`` reports.
                    self._decided_at_s = time.time()
                    self._drive_simulated(site)
                    site.advance(self.tick_s)
                except Exception as exc:  # the simulator died, an adapter failed ...
                    log.exception("the control tick failed; opening a fresh site")
                    if not self._recover(exc):
                        return
                    continue
                self._tick_ms = (time.perf_counter() - started) * 1e3
                self._flush()
                self._publish()
            delay = 0.0
            if self.speed > 0:
                next_t += self.tick_s / self.speed
                delay = next_t - time.monotonic()
                if delay < 0:  # fell behind: do not race to catch up
                    next_t, delay = time.monotonic(), 0.0
            if not site.early_ticks:
                # Field controllers: one exchange per control period, never more often (a
                # request is served from the next scheduled tick).
                self._stop.wait(max(delay, _MIN_PAUSE_S))
                continue
            if self._wake.wait(max(delay, _MIN_PAUSE_S)):
                # A new request: tick now, and keep the pace from here.
                self._wake.clear()
                next_t = time.monotonic()
