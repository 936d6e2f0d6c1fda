"""The live map's Buses card (Debian's chromium driven by Playwright): on a 3x3 twin with two
bus lines and a GTFS schedule, an AVL feed (the test, as in ``test_transit_live``) posts the
buses' positions; the card lists the buses known with their line, lateness and whether they
qualify, as ``GET /transit/buses`` says, and shows the last green moved for a bus once the
runtime gave one. Skipped with a reason where chromium or playwright is missing (never in CI),
as the other browser tests. Screenshot in ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clearway.service.runtime import ServiceRuntime
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade

from .conftest import make_service
from .test_dashboard_browser import (
    ARTIFACTS,
    FEED_INTERVAL_S,
    Live,
    Page,
    Served,
    _free_port,
    _playwright,
    launch_browser,
)
from .test_transit_live import _avl, _bus_city

pytestmark = [pytest.mark.sumo, pytest.mark.slow, pytest.mark.xdist_group("dashboard_browser")]

SPEED = 20.0

_ROWS = """
  const card = document.querySelector('#card-buses');
  const rows = !card || card.hidden ? [] : [...card.querySelectorAll('tr.bus')].map((tr) => ({
    id: tr.dataset.vehicleId, qualifies: tr.dataset.qualifies === '1',
    late: Number(tr.dataset.latenessS), last: tr.dataset.lastAction || null,
    cells: [...tr.cells].map((c) => c.textContent)}));
"""
_CARD = "() => {" + _ROWS + "return rows; }"
_ANY = "() => {" + _ROWS + "return rows.length > 0; }"
_GIVEN = "() => {" + _ROWS + "return rows.some((r) => r.last !== null); }"


class _Avl:
    """Posts the twin's buses to /transit/positions every 0.1 s on a thread."""

    def __init__(self, live: Live, trip_ids: set[str]) -> None:
        self.live, self.trip_ids = live, trip_ids
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, name="avl", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            body = _avl(self.live.runtime, self.trip_ids)
            if not body:
                continue
            r = self.live.api("POST", "/transit/positions", role="dispatcher",
                              json={"positions": body})  # fmt: skip
            if r.status_code != 200:
                self.failures.append(r.text)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture(scope="module")
def bus_live(tmp_path_factory) -> Iterator[tuple[Live, _Avl]]:
    _playwright()
    tmp = tmp_path_factory.mktemp("dashboard-buses")
    scenario, gtfs, trip_ids = _bus_city(tmp / "sc")
    upgrade(f"sqlite:///{tmp / 'clearway.db'}")
    engine = make_engine(f"sqlite:///{tmp / 'clearway.db'}")
    runtime = ServiceRuntime(scenario, strategy="corridor", speed=SPEED, gtfs_dir=str(gtfs))
    svc = make_service(
        engine, session_factory(engine), None, runtime=runtime, feed_interval_s=FEED_INTERVAL_S
    )
    port = _free_port()
    served = Served(svc.app, port)
    live = Live(svc, runtime, served, f"http://127.0.0.1:{port}", engine, scenario)
    avl = _Avl(live, trip_ids)
    try:
        yield live, avl
    finally:
        avl.close()
        live.served.stop()
        engine.dispose()
    assert runtime.error is None, runtime.error
    assert runtime.violations == [], runtime.violations[:3]


@pytest.fixture(scope="module")
def browser(bus_live) -> Iterator[Any]:
    yield from launch_browser(ARTIFACTS, clear=False)


def test_the_bus_card_shows_buses_their_lateness_and_the_last_priority(browser, bus_live):
    live, avl = bus_live
    p = Page(browser, live)
    try:
        p.login("viewer")
        page = p.page
        page.wait_for_function(_ANY, timeout=30_000)
        # Agrees with the API: the same buses, the same qualification.
        rows = page.evaluate(_CARD)
        api = {b["vehicle_id"]: b for b in httpx.get(
            live.url + "/transit/buses", headers={"X-API-Key": live.key("viewer")}, timeout=10
        ).json()}  # fmt: skip
        common = [r for r in rows if r["id"] in api]
        assert common, (rows, api)
        for r in common:
            assert r["qualifies"] == api[r["id"]]["qualifies"]
            assert r["late"] == pytest.approx(api[r["id"]]["lateness_s"], abs=30.0)
            assert r["cells"][0] == api[r["id"]]["line_id"] and r["cells"][1] == r["id"]
        # Every bus left late by 120 s: each listed as late enough, lateness shown as "+N s".
        assert any(r["qualifies"] and r["cells"][2].startswith("+") for r in rows)
        # The runtime moves a green for one of them; the card says which and where.
        page.wait_for_function(_GIVEN, timeout=60_000)
        given = next(r for r in page.evaluate(_CARD) if r["last"] is not None)
        assert given["last"] in {"extend", "early"}
        assert ("green extended" in given["cells"][4]) or ("early green" in given["cells"][4])
        p.shot("buses-card")
        assert not avl.failures, avl.failures[:3]
        assert p.errors == [], p.errors
    finally:
        p.close()
    # A moment for the last record's write before the server stops.
    time.sleep(0.1)
