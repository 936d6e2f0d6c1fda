"""The dashboard in a real browser (Debian's chromium driven by Playwright): sign in, see the
network drawn, ask for priority by picking origin and destination on the map, see the
corridor's junctions granted and the vehicle marker move, cancel and see it recover; on a
geo-referenced net ask by coordinates (typed, and a map click converted as pyproj would) and
see a point off the network refused with the API's message; a wrong key is refused plainly;
roles see only what they may do; no console errors; the live feed comes back after the server
restarts.

The app runs in a real uvicorn server on a free port (chromium must reach it over HTTP), with
a live runtime on the 3x3 grid at 8x real time. Screenshots go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from clearway.network.geo import xy_to_lonlat
from clearway.network.geometry import edge_point
from clearway.service.runtime import ServiceRuntime
from clearway.sim.scenario import Scenario
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade

from .conftest import Service, make_service

pytestmark = [pytest.mark.sumo, pytest.mark.slow, pytest.mark.xdist_group("dashboard_browser")]

CHROMIUM = Path(os.environ.get("CLEARWAY_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Simulated seconds per real second, and the feed's interval (s): fine enough to see each
#: junction's grant (a few simulated seconds) without a long test.
SPEED = 5.0
FEED_INTERVAL_S = 0.05
#: Corner to corner across the grid: five signals, ~80 simulated seconds (10 s here).
ORIGIN, DESTINATION = "left0A0", "C2right2"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if _in_ci():
        pytest.fail(f"{reason} (.ci/run installs it; CI must not skip the browser test)")
    pytest.skip(reason)


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "the playwright package is missing (pip install -e '.[test]')")
    _need(CHROMIUM.is_file(), f"{CHROMIUM} is missing (apt-get install chromium)")
    return sync_playwright


# -- a real server -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The app in a uvicorn server on a thread (its lifespan starts and stops the runtime)."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="auto")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, name="dashboard-uvicorn", daemon=True
        )
        self.thread.start()
        end = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the dashboard's uvicorn server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@dataclass
class Live:
    service: Service
    runtime: ServiceRuntime
    served: Served
    url: str
    engine: Engine
    scenario: Any

    def key(self, role: str) -> str:
        return self.service.keys[role]

    def api(self, method: str, path: str, role: str = "operator", **kw: Any) -> httpx.Response:
        return httpx.request(
            method, self.url + path, headers={"X-API-Key": self.key(role)}, timeout=10, **kw
        )

    def restart(self, scenario: Scenario | None = None) -> None:
        """Stop the server and its runtime, then serve the same database and keys again on
        the same port with a fresh runtime (libsumo: one simulation per process at a time),
        on ``scenario`` if given, else the module's."""
        self.served.stop()
        assert self.runtime.error is None, self.runtime.error
        from clearway.service.app import create_app

        self.runtime = ServiceRuntime(scenario or self.scenario, strategy="corridor", speed=SPEED)
        app = create_app(self.service.ctx.settings, engine=self.engine, runtime=self.runtime)
        self.served = Served(app, int(self.url.rsplit(":", 1)[1]))


@pytest.fixture(scope="module")
def live_http(tmp_path_factory, live_scenario) -> Iterator[Live]:
    _playwright()
    db = tmp_path_factory.mktemp("dashboard-db") / "clearway.db"
    upgrade(f"sqlite:///{db}")
    engine = make_engine(f"sqlite:///{db}")
    runtime = ServiceRuntime(live_scenario, strategy="corridor", speed=SPEED)
    svc = make_service(
        engine, session_factory(engine), None, runtime=runtime, feed_interval_s=FEED_INTERVAL_S
    )
    port = _free_port()
    served = Served(svc.app, port)
    live = Live(svc, runtime, served, f"http://127.0.0.1:{port}", engine, live_scenario)
    try:
        yield live
    finally:
        live.served.stop()
        engine.dispose()
    assert live.runtime.error is None, live.runtime.error


def launch_browser(artifacts: Path, *, clear: bool = True) -> Iterator[Any]:
    """Headless chromium for a module's pages, with ``artifacts`` made (and emptied unless
    ``clear`` is false: a folder another module shares) for its screenshots; skips the test,
    with the reason, when Playwright or chromium is missing."""
    sync_playwright = _playwright()
    if clear and artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser(live_http) -> Iterator[Any]:
    yield from launch_browser(ARTIFACTS)


class Page:
    """A fresh page (own context: own sessionStorage) that records console errors."""

    def __init__(self, browser: Any, live: Live) -> None:
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.live = live
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        # Records every corridor status each signal shows, and every place a vehicle marker
        # is drawn, as the page changes them (a grant lasts a few simulated seconds only).
        self.page.add_init_script(_RECORDER)
        self.page.goto(live.url + "/")

    def login(self, role: str) -> None:
        p = self.page
        p.fill("#login-key", self.live.key(role))
        p.click("#login-submit")
        p.wait_for_selector("#login", state="hidden")
        p.wait_for_selector('#conn[data-state="live"]')
        p.wait_for_function(f"document.body.dataset.role === {role!r}")

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


_RECORDER = """
window.__seen = {status: {}, moves: {}, modes: {}, conn: [], listGranted: false};
new MutationObserver((records) => {
  for (const r of records) {
    const t = r.target;
    if (r.attributeName === 'data-corridor-status' && t.dataset.corridorStatus) {
      (window.__seen.status[t.dataset.signalId] ||= []).push(t.dataset.corridorStatus);
    } else if (r.attributeName === 'data-x' && t.dataset.vehicleId) {
      const m = (window.__seen.moves[t.dataset.vehicleId] ||= []);
      const p = t.dataset.x + ',' + t.dataset.y;
      if (m[m.length - 1] !== p) m.push(p);
    } else if (r.attributeName === 'data-mode' && t.dataset.signalId) {
      (window.__seen.modes[t.dataset.signalId] ||= []).push(t.dataset.mode);
    } else if (r.attributeName === 'data-state' && t.id === 'conn') {
      window.__seen.conn.push(t.dataset.state);
    }
  }
  // The request list showed a junction granted (it may be gone again by the time the test
  // looks: the vehicle passes, the status goes).
  if (!window.__seen.listGranted && document.querySelector('.req .jstat-granted')) {
    window.__seen.listGranted = true;
  }
}).observe(document, {subtree: true, attributes: true, childList: true,
                      attributeFilter: ['data-corridor-status', 'data-x', 'data-state', 'data-mode']});
"""


@pytest.fixture
def page(browser, live_http) -> Iterator[Page]:
    p = Page(browser, live_http)
    try:
        yield p
    finally:
        p.close()


def _click_edge(p: Any, edge_id: str) -> tuple[float, float]:
    """Click the middle of the edge's first lane where the map draws it (a straight lane's
    box has no width, so Playwright would call the path itself invisible); returns that point
    in network coordinates (m; the map draws y flipped)."""
    x, y, x_m, y_m = p.evaluate(
        """(id) => {
          const el = document.querySelector(`#layer-lanes .lane[data-edge-id="${id}"]`);
          const pt = el.getPointAtLength(el.getTotalLength() / 2);
          const m = el.getScreenCTM();
          return [pt.x * m.a + pt.y * m.c + m.e, pt.x * m.b + pt.y * m.d + m.f, pt.x, -pt.y];
        }""",
        edge_id,
    )
    p.mouse.click(x, y)
    return x_m, y_m


def _marked_point(p: Any, kind: str) -> tuple[float, float]:
    """Where the map marks a point picked as origin or destination (network m)."""
    transform = p.get_attribute(f"#layer-picks .pick-point.pick-{kind}", "transform")
    m = re.fullmatch(r"translate\(([-\d.e]+),([-\d.e]+)\)", transform or "")
    assert m, transform
    return float(m.group(1)), -float(m.group(2))


def _lat_lon(text: str) -> tuple[float, float]:
    lat, lon = (float(v) for v in text.split(","))
    return lat, lon


def _ground_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance (m) between two nearby (lat, lon) points (equirectangular; exact enough)."""
    k = 111_195.0
    return math.hypot((a[0] - b[0]) * k, (a[1] - b[1]) * k * math.cos(math.radians(a[0])))


# -- the tests -------------------------------------------------------------------------------------
def test_a_wrong_key_shows_an_error(page):
    p = page.page
    assert p.is_visible("#login")
    p.fill("#login-key", "cwk_00000000_" + "x" * 43)
    p.click("#login-submit")
    err = p.wait_for_selector("#login-error:not([hidden])")
    text = err.inner_text()
    page.shot("01-wrong-key")
    assert "401" in text and "CredentialError" in text, text
    assert p.is_visible("#login")
    assert p.evaluate("sessionStorage.length") == 0


def test_dispatcher_requests_priority_on_the_map_and_cancels_it(page):
    live, p = page.live, page.page
    page.login("dispatcher")
    # The network is drawn from its geometry: every signal the API lists, lanes, junctions.
    listed = live.api("GET", "/junctions", "dispatcher").json()
    p.wait_for_function("document.querySelectorAll('#layer-signals .signal').length > 0")
    drawn = p.eval_on_selector_all(
        "#layer-signals .signal", "els => els.map(e => e.dataset.signalId)"
    )
    assert sorted(drawn) == sorted(j["id"] for j in listed)
    assert p.locator("#layer-lanes .lane").count() > 20
    assert p.locator("#layer-junctions .junction").count() >= len(listed)
    # the signals show their live state: stop lines coloured, some green
    p.wait_for_selector("#layer-stoplines .light-green", state="attached")
    assert p.is_visible("#card-create")
    page.shot("02-network")

    # Origin and destination picked on the map (the form fills in the edge ids).
    p.click("#pick-origin")
    _click_edge(p, ORIGIN)
    # The grid has no geo-reference: a click gives the edge, and the form says so.
    assert p.input_value("[name=origin]") == ORIGIN
    assert "no geo-reference" in p.inner_text("#place-note")
    assert p.get_attribute("#pick-destination", "class") and "active" in p.get_attribute(
        "#pick-destination", "class"
    )
    _click_edge(p, DESTINATION)
    assert p.input_value("[name=destination]") == DESTINATION
    p.fill("[name=vehicle_id]", "AMB-UI")
    p.fill("[name=incident_id]", "INC-UI-1")
    p.select_option("[name=role]", "ambulance")
    p.click("#create-submit")
    row = p.wait_for_selector('.req[data-state]:has(.req-vehicle:text-is("AMB-UI"))')
    assert p.is_hidden("#create-error")
    rid = row.get_attribute("data-request-id")
    assert rid and rid.startswith("pr-")
    on_route = {
        j["signal_id"] for j in live.api("GET", f"/priority-requests/{rid}").json()["junctions"]
    }
    assert len(on_route) >= 2

    # The corridor turns granted junction by junction; the vehicle marker moves along it.
    p.wait_for_selector(f'.corridor[data-request-id="{rid}"]')
    try:
        p.wait_for_function(
            """(route) => {
              const s = window.__seen;
              const granted = route.filter(id => (s.status[id] || []).includes('granted'));
              return granted.length >= 2 && (s.moves['AMB-UI'] || []).length >= 3;
            }""",
            arg=sorted(on_route),
            timeout=60_000,
        )
    except Exception:
        page.shot("03-corridor-not-granted")
        seen = p.evaluate("window.__seen")
        pytest.fail(f"corridor {sorted(on_route)} not seen granted / marker not moving: {seen}")
    # Its moves were seen above; drawn once at most (it may just have left the network).
    assert p.locator('.vehicle[data-vehicle-id="AMB-UI"]').count() <= 1
    p.wait_for_function("window.__seen.listGranted === true", timeout=5_000)
    page.shot("03-corridor-granted")

    # Cancel from the list: the request ends, its junctions recover, then the corridor clears.
    if p.get_attribute(f'.req[data-request-id="{rid}"]', "data-state") in ("completed",):
        pytest.fail("the vehicle arrived before the test could cancel; lower SPEED")
    p.click(f'.req[data-request-id="{rid}"] .req-cancel')
    p.wait_for_selector(f'.req[data-request-id="{rid}"][data-state="cancelled"]')
    assert p.is_hidden(f'.req[data-request-id="{rid}"] .req-error')
    # The junction held when the request was cancelled recovers (its cut phases served)...
    held_at_cancel = p.evaluate(
        "(route) => route.filter(id => (window.__seen.modes[id] || []).includes('held'))",
        sorted(on_route),
    )
    assert held_at_cancel, "no corridor junction was ever drawn as held"
    p.wait_for_function(
        "(route) => route.some(id => (window.__seen.modes[id] || []).includes('recovering'))",
        arg=sorted(on_route),
        timeout=20_000,
    )
    page.shot("04-cancelled-recovering")
    # ... and then every corridor junction is back to normal control.
    p.wait_for_function(
        """(route) => route.every(id => {
             const g = document.querySelector(`.signal[data-signal-id="${id}"]`);
             return g.dataset.mode === 'normal' && !g.dataset.corridorStatus;
           })""",
        arg=sorted(on_route),
        timeout=30_000,
    )
    assert p.locator(f'.corridor[data-request-id="{rid}"]').count() == 0
    assert p.is_hidden(f'.req[data-request-id="{rid}"] .req-cancel')
    page.shot("05-recovered")
    # The driven vehicle's marker goes when it leaves the twin, not before; none piles up.
    assert p.locator(".vehicle").count() <= 1
    assert page.errors == [], page.errors


def test_a_bad_request_is_shown_plainly(page):
    p = page.page
    page.login("dispatcher")
    p.fill("[name=vehicle_id]", "AMB-BAD")
    p.fill("[name=incident_id]", "INC-BAD")
    p.fill("[name=origin]", "no-such-edge")
    p.fill("[name=destination]", "B2C2")
    p.click("#create-submit")
    err = p.wait_for_selector("#create-error:not([hidden])")
    text = err.inner_text()
    assert text.startswith("404 ") and "no-such-edge" in text, text
    page.shot("06-api-error")


#: The grid placed on the earth for the coordinate test: UTM zone 33N, its origin in Berlin.
UTM33 = "+proj=utm +zone=33 +ellps=WGS84 +datum=WGS84 +units=m +no_defs"
GRID_NET_OFFSET = "-398790.46,-5809246.45"


@pytest.fixture
def geo_live(live_http, tmp_path_factory) -> Iterator[Live]:
    """The server restarted on a geo-referenced copy of the grid (same roads and demand, its
    <location> given a projection), and back on the plain grid afterwards."""
    plain = live_http.scenario
    text = plain.net_file.read_text(encoding="utf-8")
    location = re.search(r"<location [^>]*/>", text)
    assert location and 'projParameter="!"' in location.group(0), "the grid is already projected"
    placed = location.group(0).replace('projParameter="!"', f'projParameter="{UTM33}"')
    placed = re.sub(r'netOffset="[^"]*"', f'netOffset="{GRID_NET_OFFSET}"', placed)
    net_file = tmp_path_factory.mktemp("geo-grid") / plain.net_file.name
    net_file.write_text(text.replace(location.group(0), placed), encoding="utf-8")
    live_http.restart(dataclasses.replace(plain, net_file=net_file))
    try:
        yield live_http
    finally:
        live_http.restart()


def test_dispatcher_requests_priority_by_coordinates_and_sees_an_off_network_point_refused(
    geo_live, page
):
    # geo_live first: the server restarts before the page opens (a page already open would
    # log the restart's refused connections).
    p, net = page.page, geo_live.runtime.net
    assert net.geo is not None
    page.login("dispatcher")
    p.wait_for_selector('#create-form[data-coordinates="1"]')
    assert "lat, lon" in p.inner_text("#place-note")

    # The origin typed as "lat, lon": 20 m along ORIGIN; the map marks it where it lies.
    o_xy = edge_point(net, ORIGIN, 20.0)
    o_lon, o_lat = xy_to_lonlat(net.geo, *o_xy)
    p.fill("[name=origin]", f"{o_lat:.7f}, {o_lon:.7f}")
    p.press("[name=origin]", "Tab")  # change: the map marks the point
    mx, my = _marked_point(p, "origin")
    assert abs(mx - o_xy[0]) < 0.1 and abs(my - o_xy[1]) < 0.1, ((mx, my), o_xy)

    # The destination clicked on the map: the field gets the point's coordinates as pyproj
    # converts the point the map marks, and that is the point clicked (within a pixel or so).
    p.click("#pick-destination")
    clicked = _click_edge(p, DESTINATION)
    shown = _lat_lon(p.input_value("[name=destination]"))
    marked = _marked_point(p, "destination")
    m_lon, m_lat = xy_to_lonlat(net.geo, *marked)
    assert _ground_m(shown, (m_lat, m_lon)) < 0.05, (shown, (m_lat, m_lon))
    assert abs(marked[0] - clicked[0]) < 3 and abs(marked[1] - clicked[1]) < 3, (marked, clicked)
    assert p.is_hidden("#pick-hint")
    page.shot("10-picked-by-coordinates")
    p.fill("[name=vehicle_id]", "AMB-GEO")
    p.fill("[name=incident_id]", "INC-GEO-1")
    p.click("#create-submit")
    row = p.wait_for_selector('.req[data-state]:has(.req-vehicle:text-is("AMB-GEO"))')
    assert p.is_hidden("#create-error")
    rid = row.get_attribute("data-request-id")
    route = geo_live.api("GET", f"/priority-requests/{rid}").json()["route"]
    assert ORIGIN in route[:2] and DESTINATION in route[-2:], route
    page.shot("11-request-by-coordinates")

    # A point 0.05 degrees (5.6 km) north of the grid: the API's 422 shown in the form.
    p.fill("[name=vehicle_id]", "AMB-FAR")
    p.fill("[name=destination]", f"{m_lat + 0.05:.7f}, {m_lon:.7f}")
    p.click("#create-submit")
    err = p.wait_for_selector("#create-error:not([hidden])")
    text = err.inner_text()
    assert text.startswith("422 ") and "destination (lat" in text and "m away" in text, text
    assert p.locator('.req:has(.req-vehicle:text-is("AMB-FAR"))').count() == 0
    page.shot("12-off-network-refused")
    # Shift-click picks the road's edge id instead, marked as an edge.
    p.click("#pick-origin")
    p.keyboard.down("Shift")
    _click_edge(p, ORIGIN)
    p.keyboard.up("Shift")
    assert p.input_value("[name=origin]") == ORIGIN
    assert p.locator("#layer-picks .pick-origin:not(.pick-point)").count() == 1
    # The browser logs the refused POST itself; nothing else.
    others = [e for e in page.errors if "status of 422" not in e]
    assert others == [], others


def test_operator_inspects_a_junction_and_switches_its_strategy_without_console_errors(page):
    live, p = page.live, page.page
    page.login("operator")
    p.click('#layer-signals .signal[data-signal-id="B1"] .signal-dot')
    p.wait_for_selector("#insp-phases")
    assert p.inner_text("#insp-title") == "B1"
    p.wait_for_selector("#insp-audit table, #insp-audit p")
    assert p.is_hidden("#insp-audit .error")
    p.select_option(".strategy-form select", "max-pressure")
    p.click(".strategy-form button")
    p.wait_for_selector(".strategy-form + p.ok")
    p.wait_for_function("document.querySelector('#insp-strategy').textContent === 'max-pressure'")
    state = live.api("GET", "/junctions/B1/state").json()
    assert state["strategy"] == "max-pressure"
    live.api("PUT", "/junctions/B1/strategy", json={"strategy": "fixed-time"})
    time.sleep(1.5)  # a few seconds of live updates
    page.shot("07-operator-inspector")
    assert page.errors == [], page.errors


def test_a_viewer_sees_no_actions(page):
    p = page.page
    page.login("viewer")
    assert p.is_hidden("#card-create")
    assert p.locator(".req .req-cancel:visible").count() == 0
    p.click('#layer-signals .signal[data-signal-id="B1"] .signal-dot')
    p.wait_for_selector("#insp-phases")
    assert p.locator(".strategy-form").count() == 0
    assert p.locator("#insp-audit").count() == 0
    page.shot("08-viewer")
    assert page.errors == [], page.errors


def test_an_operator_sees_what_the_public_sees(page):
    """The "Public" toggle draws the public alert feed (the same SSE stream a navigation app
    reads, no credential) on the map and lists its messages: the places ahead of a live
    corridor, and no request, vehicle or incident id."""
    live, p = page.live, page.page
    page.login("operator")
    assert p.is_hidden("#card-public")
    p.click("#toggle-public")
    p.wait_for_selector("#card-public:not([hidden])")
    p.wait_for_selector('#public-status[data-state="live"]')
    assert p.locator("#layer-public .public-alert").count() == 0  # nothing cleared yet
    body = {"vehicle_id": "AMB-PUBLIC", "role": "ambulance", "incident_id": "INC-PUBLIC",
            "origin_edge": ORIGIN, "destination_edge": DESTINATION, "simulate": True}  # fmt: skip
    r = live.api("POST", "/priority-requests", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    rid, route = r.json()["request_id"], r.json()["route"]
    p.wait_for_selector("#layer-public .public-edge", state="attached", timeout=30_000)
    p.wait_for_selector("#public-alerts .public-item")
    edges = p.eval_on_selector_all(
        "#layer-public .public-edge", "els => els.map(e => e.dataset.edgeId)"
    )
    junctions = p.eval_on_selector_all(
        "#layer-public .public-junction", "els => els.map(e => e.dataset.junctionId)"
    )
    net = live.runtime.net
    assert set(edges) <= set(route), edges
    assert set(junctions) <= {net.edge(e).to_junction for e in route}, junctions
    assert p.locator("#layer-public .public-edge path").count() >= len(edges)
    text = p.inner_text("#card-public")
    assert "rescue lane ahead" in text, text
    drawn = p.inner_html("#card-public") + p.evaluate(
        "document.querySelector('#layer-public').outerHTML"
    )
    for secret in (rid, "AMB-PUBLIC", "INC-PUBLIC", "dispatcher"):
        assert secret not in drawn, secret
    # What the layer shows is what the public route serves (the same ETag, once both agree).
    for _ in range(20):
        served = httpx.get(live.url + "/public/alerts", timeout=10)
        assert served.status_code == 200 and "x-api-key" not in served.request.headers
        if p.get_attribute("#layer-public", "data-etag") == served.headers["etag"]:
            break
        time.sleep(0.25)
    else:
        pytest.fail("the public layer never showed the body GET /public/alerts serves")
    page.shot("13-public-view")
    live.api("DELETE", f"/priority-requests/{rid}", "operator")
    p.click("#toggle-public")
    p.wait_for_selector("#card-public", state="hidden")
    assert p.locator("#layer-public .public-alert").count() == 0
    assert page.errors == [], page.errors


def test_an_operator_reads_what_was_done_for_a_request(page):
    """A request's "Log" button (audit rights only) shows what the verified audit log says the
    corridor did for it: its lifecycle, and the holds per junction on its route."""
    live, p = page.live, page.page
    body = {"vehicle_id": "AMB-LOG", "role": "ambulance", "incident_id": "INC-LOG",
            "origin_edge": ORIGIN, "destination_edge": DESTINATION, "simulate": True}  # fmt: skip
    r = live.api("POST", "/priority-requests", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    route_signals = {j["signal_id"] for j in r.json()["junctions"]}
    page.login("operator")
    row = p.locator(f'.req[data-request-id="{rid}"]')
    row.wait_for()
    # Holds are logged once the corridor commanded a signal for it.
    for _ in range(120):
        if live.api("GET", f"/audit/requests/{rid}", "operator").json().get("holds"):
            break
        time.sleep(0.25)
    row.locator(".req-log").click()
    p.wait_for_selector("#card-request-log:not([hidden]) #log-holds tbody tr")
    assert p.inner_text("#log-title") == rid
    shown = p.eval_on_selector_all(
        "#log-holds tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
    )
    assert shown and set(shown) <= route_signals, shown
    assert "created" in p.inner_text("#request-log")
    assert f"clearway replay {rid}" in p.inner_text("#request-log")
    page.shot("14-request-log")
    live.api("DELETE", f"/priority-requests/{rid}", "operator")
    assert page.errors == [], page.errors


def test_an_operator_re_runs_a_finished_request_from_its_log(page):
    """In the Log card, "Re-run" re-runs the request's logged demand under none, local and
    corridor in the background and shows the comparison and the time-space diagram."""
    live, p = page.live, page.page
    body = {"vehicle_id": "AMB-RERUN", "role": "ambulance", "incident_id": "INC-RERUN",
            "origin_edge": ORIGIN, "destination_edge": DESTINATION, "simulate": True}  # fmt: skip
    r = live.api("POST", "/priority-requests", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    for _ in range(600):
        if live.api("GET", f"/priority-requests/{rid}", "operator").json()["state"] == "completed":
            break
        time.sleep(0.25)
    page.login("operator")
    row = p.locator(f'.req[data-request-id="{rid}"]')
    row.wait_for()
    row.locator(".req-log").click()
    p.wait_for_selector("#card-request-log:not([hidden]) #log-rerun-start")
    p.click("#log-rerun-start")
    p.wait_for_selector("#log-rerun-table tbody tr", timeout=240_000)
    heads = p.eval_on_selector_all("#log-rerun-table thead th", "hs => hs.map(h => h.textContent)")
    assert heads[1:] == ["none", "local", "corridor"], heads
    ratio = p.eval_on_selector_all(
        "#log-rerun-table tbody tr:first-child td", "cs => cs.map(c => c.textContent)"
    )
    assert ratio[0] == "ratio to free flow" and all(float(x) >= 0.9 for x in ratio[1:]), ratio
    p.wait_for_function(
        "() => { const i = document.querySelector('#log-rerun-figure');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    page.shot("15-request-rerun")
    assert page.errors == [], page.errors


def test_a_dispatcher_has_no_log_button(page):
    live, p = page.live, page.page
    body = {"vehicle_id": "AMB-NOLOG", "role": "ambulance", "incident_id": "INC-NOLOG",
            "origin_edge": ORIGIN, "destination_edge": DESTINATION}  # fmt: skip
    r = live.api("POST", "/priority-requests", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    page.login("dispatcher")
    row = p.locator(f'.req[data-request-id="{r.json()["request_id"]}"]')
    row.wait_for()
    assert row.locator(".req-log").is_hidden()
    live.api("DELETE", f"/priority-requests/{r.json()['request_id']}", "dispatcher")


def test_the_feed_reconnects_after_a_server_restart(page):
    live, p = page.live, page.page
    page.login("viewer")
    p.wait_for_function("document.querySelector('#simclock').textContent !== 't = –'")
    lives = p.evaluate("window.__seen.conn.filter(s => s === 'live').length")
    live.restart()
    # The page notices, retries with backoff, and goes live again on the new server with the
    # token it kept (same database and secret); the map is redrawn from the new snapshot.
    p.wait_for_function(
        "(n) => window.__seen.conn.filter(s => s === 'live').length > n", arg=lives, timeout=30_000
    )
    assert "offline" in p.evaluate("window.__seen.conn")
    p.wait_for_function("document.querySelectorAll('#layer-signals .signal').length > 0")
    assert p.is_hidden("#login")
    page.shot("09-reconnected")
    # The browser logs the refused connection attempts while the server was down; nothing else.
    others = [e for e in page.errors if "WebSocket" not in e and "ERR_CONNECTION_REFUSED" not in e]
    assert others == [], others


# -- the routes behind the page (no browser needed) ---------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_page_is_public_and_its_geometry_is_not(service):
    client = service.client
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/dashboard/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/dashboard/../routers/dashboard.py").status_code == 404
    assert client.get("/network/geometry").status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"])
def test_geometry_draws_every_road_lane_and_signal(service):
    geo = service.client.get("/network/geometry", headers=service.as_("viewer")).json()
    net = service.ctx.network
    listed = service.client.get("/junctions", headers=service.as_("viewer")).json()
    assert sorted(s["id"] for s in geo["signals"]) == sorted(j["id"] for j in listed)
    road = {lane for e in net.edges.values() if e.is_normal for lane in e.lane_ids}
    assert {lane["id"] for lane in geo["lanes"]} == road  # internal lanes left out
    assert all(len(lane["shape"]) >= 2 for lane in geo["lanes"])
    assert all(round(v, 1) == v for lane in geo["lanes"] for pt in lane["shape"] for v in pt)
    xmin, ymin, xmax, ymax = geo["bounds_m"]
    assert xmin < xmax and ymin < ymax
    for s in geo["signals"]:
        assert len(s["links"]) == s["link_count"]
        assert all(lane is None or lane in road for lane in s["links"])
    assert geo["projected"] is (net.geo is not None)
