"""The public alert feed's publisher: the current GeoJSON body and its ETag, made once per
published live view however many clients ask (see :mod:`clearway.service.public_alerts` for
what it holds and why).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass

from clearway.control.priority.corridor import signal_of_junction
from clearway.errors import ServiceUnavailableError
from clearway.network import Network
from clearway.service.clock import TrafficClock
from clearway.service.live_view import LiveView
from clearway.service.public_alerts import (
    AlertWindow,
    corridors_of,
    feature_collection,
    publish,
    raw_windows,
)


@dataclass(frozen=True, slots=True)
class PublishedAlerts:
    """The feed's body as sent (compact JSON, UTF-8), its strong ETag (quoted), and the
    view it was made from."""

    body: bytes
    etag: str
    version: int
    windows: tuple[AlertWindow, ...]


class AlertPublisher:
    """Keeps the last published windows (those in force are carried on: see
    :func:`~clearway.service.public_alerts.publish`) and the body made from them.

    Thread-safe; :meth:`current` does the work once per new live view. Also counts the
    alert streams open per client address.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: PublishedAlerts | None = None
        self._signals: tuple[Network, dict[str, str]] | None = None
        self._streams: dict[str, int] = {}

    def open_stream(self, client: str, cap: int) -> bool:
        """Count a stream of ``client`` as open; ``False`` (nothing counted) if it has
        ``cap`` open already."""
        with self._lock:
            if self._streams.get(client, 0) >= cap:
                return False
            self._streams[client] = self._streams.get(client, 0) + 1
            return True

    def streams_of(self, client: str) -> int:
        """Streams of ``client`` open now (count)."""
        return self._streams.get(client, 0)

    def close_stream(self, client: str) -> None:
        """A stream of ``client`` ended."""
        with self._lock:
            left = self._streams.pop(client, 1) - 1
            if left > 0:
                self._streams[client] = left

    def current(self, view: LiveView, net: Network, clock: TrafficClock | None) -> PublishedAlerts:
        """The feed for ``view``.

        Raises
        ------
        ServiceUnavailableError
            No UTC clock yet (before the first tick), or the twin runs as fast as it can
            (its traffic time has no UTC equivalent) (503).
        """
        if clock is None:
            raise ServiceUnavailableError(
                "the public alert feed needs traffic time mapped to UTC: the live runtime has "
                "not ticked yet, or runs as fast as it can (serve it at a real-time speed)"
            )
        with self._lock:
            last = self._last
            if last is not None and last.version == view.version:
                return last
            if self._signals is None or self._signals[0] is not net:
                self._signals = (net, signal_of_junction(net))
            raw = raw_windows(net, corridors_of(view), self._signals[1])
            windows = publish(last.windows if last else (), raw, view.time_s)
            if last is not None and tuple(windows) == last.windows:
                # The same windows: the same body and ETag (clients keep their 304s).
                self._last = PublishedAlerts(last.body, last.etag, view.version, last.windows)
                return self._last
            doc = feature_collection(net, windows, clock)
            body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            self._last = PublishedAlerts(body, etag, view.version, tuple(windows))
            return self._last
