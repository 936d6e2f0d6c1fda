"""Dispatch and an AVL unit for the virtual street: what a control room and a vehicle's
GPS unit send to ``clearway serve``, over its HTTP API (standard library only).

A request names its origin and destination as WGS84 coordinates; positions go out as the
unit measures them (lat, lon, heading, speed, accuracy, UTC timestamp, a sequence number)
from a worker thread, so a slow answer never holds the street's clock back. Refusals are
collected (:meth:`DispatchClient.take_errors`), never raised into the street.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from clearway.errors import ClearwayError


class DispatchError(ClearwayError):
    """The service refused a request or could not be reached."""


@dataclass(frozen=True)
class TripPlan:
    """A priority trip the street asks free passage for and drives.

    Attributes
    ----------
    vehicle_id
        Its id (in the request and in the simulation).
    from_edge, to_edge
        Where it starts and ends; sent as the coordinates of the edge's start and end.
    depart_s
        When it leaves (traffic time, s).
    lead_s
        How long before leaving dispatch asks (s).
    role, incident_id
        As in the request.
    sample_period_s
        Seconds between two GPS reports.
    accuracy_m
        The 1-sigma accuracy the unit reports (m).
    type_id
        SUMO vType it drives as.
    """

    vehicle_id: str
    from_edge: str
    to_edge: str
    depart_s: float
    lead_s: float = 10.0
    role: str = "ambulance"
    incident_id: str = "INC-virtual"
    sample_period_s: float = 1.0
    accuracy_m: float = 5.0
    type_id: str = "cw_priority"

    @property
    def request_at_s(self) -> float:
        """When dispatch asks (s)."""
        return max(0.0, self.depart_s - self.lead_s)


class DispatchClient:
    """Talks to ``clearway serve`` at ``base_url`` with an API key (a dispatcher's).

    Parameters
    ----------
    base_url
        e.g. ``http://127.0.0.1:8000``.
    api_key
        The dispatcher's key (``cwk_...``).
    timeout_s
        Per HTTP call (s).
    """

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.timeout_s = timeout_s
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self.sent = 0
        self.refused = 0
        self._worker = threading.Thread(target=self._send_loop, name="clearway-avl", daemon=True)
        self._worker.start()

    def request(
        self, plan: TripPlan, lonlats: tuple[tuple[float, float], tuple[float, float]]
    ) -> tuple[str, tuple[str, ...]]:
        """Ask free passage for ``plan``; returns (request id, the route the service planned).

        Raises
        ------
        DispatchError
            Refused (status and the service's detail) or unreachable.
        """
        (olon, olat), (dlon, dlat) = lonlats
        body = {
            "vehicle_id": plan.vehicle_id, "role": plan.role, "incident_id": plan.incident_id,
            "origin": {"lat": olat, "lon": olon}, "destination": {"lat": dlat, "lon": dlon},
            "depart_in_s": max(0.0, plan.depart_s - plan.request_at_s),
        }  # fmt: skip
        out = self._call("/priority-requests", body)
        return out["request_id"], tuple(out["route"])

    def position(
        self, request_id: str, *, seq: int, lat: float, lon: float, heading_deg: float,
        speed_mps: float, accuracy_m: float, utc_s: float,
    ) -> None:  # fmt: skip
        """Queue one GPS report (sent by the worker thread, in order)."""
        stamp = datetime.fromtimestamp(utc_s, UTC).isoformat().replace("+00:00", "Z")
        body = {
            "seq": seq, "lat": lat, "lon": lon, "heading_deg": round(heading_deg, 1),
            "speed_mps": max(0.0, speed_mps), "accuracy_m": accuracy_m, "timestamp": stamp,
        }  # fmt: skip
        self._queue.put((f"/priority-requests/{request_id}/positions", body))

    def take_errors(self) -> list[str]:
        """Refusals and failures since the last call."""
        with self._lock:
            out, self._errors = self._errors, []
        return out

    def close(self) -> None:
        """Send what is queued, then stop the worker."""
        self._queue.put(None)
        self._worker.join(self.timeout_s * 2)

    def _send_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            path, body = item
            try:
                self._call(path, body)
                self.sent += 1
            except DispatchError as exc:
                self.refused += 1
                with self._lock:
                    self._errors.append(str(exc))

    def _call(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"content-type": "application/json", "X-API-Key": self._key},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise DispatchError(f"POST {path}: {exc.code} {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DispatchError(f"POST {path}: the service at {self.base_url} is unreachable ({exc})") from exc
