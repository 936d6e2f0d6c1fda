"""The junction panel of the live map shows the people waiting at the junction's crossings
and whether a walk is shown (Debian's chromium driven by Playwright, a live runtime on
``grid:3x3:moderate:peds``): counts only, the same as the junction's live state, agreeing
with the state shown beside them. Skipped with a reason where chromium or playwright is
missing (never in CI), as the other browser tests. Screenshot in ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from clearway.service.runtime import ServiceRuntime
from clearway.sim.pedestrians import ped_grid_scenario
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

pytestmark = [pytest.mark.sumo, pytest.mark.slow, pytest.mark.xdist_group("dashboard_browser")]

#: Simulated seconds per real second: people reach the corners within a few seconds.
SPEED = 10.0
JUNCTION = "B1"

_PANEL = """() => {
  const box = document.querySelector('#insp-peds .peds');
  if (!box) return null;
  return {
    state: document.querySelector('#insp-state').textContent,
    waiting: Number(box.dataset.waiting),
    walk: box.dataset.walk === '1',
    text: box.querySelector('.peds-total').textContent,
    items: [...box.querySelectorAll('li')].map((li) => ({
      link: Number(li.dataset.link), waiting: Number(li.dataset.waiting),
      walk: li.dataset.walk === '1', text: li.textContent})),
  };
}"""


@pytest.fixture(scope="module")
def peds_live(tmp_path_factory) -> Iterator[Live]:
    _playwright()
    tmp = tmp_path_factory.mktemp("dashboard-peds")
    scenario = ped_grid_scenario(tmp / "sc", size="3x3", seed=1, end_s=3600, load="moderate")
    upgrade(f"sqlite:///{tmp / 'clearway.db'}")
    engine = make_engine(f"sqlite:///{tmp / 'clearway.db'}")
    runtime = ServiceRuntime(scenario, strategy="corridor", speed=SPEED)
    svc = make_service(
        engine, session_factory(engine), None, runtime=runtime, feed_interval_s=FEED_INTERVAL_S
    )
    port = _free_port()
    live = Live(svc, runtime, Served(svc.app, port), f"http://127.0.0.1:{port}", engine, scenario)
    try:
        yield live
    finally:
        live.served.stop()
        engine.dispose()
    assert live.runtime.error is None, live.runtime.error
    assert live.runtime.violations == [], live.runtime.violations[:5]


@pytest.fixture
def peds_page(peds_live) -> Iterator[Page]:
    for b in launch_browser(ARTIFACTS, clear=False):
        p = Page(b, peds_live)
        try:
            yield p
        finally:
            p.close()


def _check(panel: dict[str, Any], crossings: set[int]) -> None:
    """The panel agrees with itself and with the state shown beside it."""
    items = panel["items"]
    assert panel["waiting"] == sum(i["waiting"] for i in items), panel
    assert panel["walk"] == any(i["walk"] for i in items), panel
    for i in items:
        assert i["link"] in crossings, (i, crossings)
        assert i["waiting"] > 0 or i["walk"], i  # only crossings with people or a walk
        # A walk is the crossing's link green in the state shown; a shown walk answers its call.
        assert i["walk"] == (panel["state"][i["link"]] in "Gg"), (i, panel["state"])
        assert i["text"] == (
            f"crossing #{i['link']}: walk"
            if i["walk"]
            else f"crossing #{i['link']}: {i['waiting']} waiting"
        ), i
        assert not (i["walk"] and i["waiting"]), i
    assert panel["text"].endswith("walk shown" if panel["walk"] else "no walk shown"), panel


def test_the_junction_panel_shows_people_waiting_and_the_walk(peds_page):
    live, p = peds_page.live, peds_page.page
    model = live.api("GET", f"/junctions/{JUNCTION}", "viewer").json()
    crossings = {lk["index"] for lk in model["links"] if lk["is_crossing"]}
    assert crossings, model["links"]
    peds_page.login("viewer")
    p.click(f'#layer-signals .signal[data-signal-id="{JUNCTION}"] .signal-dot')
    p.wait_for_selector("#insp-peds .peds")
    assert p.inner_text("#insp-title") == JUNCTION
    seen_waiting = seen_walk = False
    shot = False
    end = time.monotonic() + 40.0  # ~400 simulated seconds
    while time.monotonic() < end and not (seen_waiting and seen_walk):
        panel = p.evaluate(_PANEL)
        assert panel is not None
        _check(panel, crossings)
        if panel["waiting"] and not shot:
            peds_page.shot("14-junction-pedestrians")
            shot = True
        seen_waiting |= panel["waiting"] > 0
        seen_walk |= panel["walk"]
        time.sleep(0.1)
    assert seen_waiting, "the panel never showed anyone waiting"
    assert seen_walk, "the panel never showed a walk"
    # The same field the junction's live route serves, counts only.
    api = live.api("GET", f"/junctions/{JUNCTION}/state", "viewer").json()["pedestrians"]
    assert {c["link_index"] for c in api["crossings"]} == crossings
    assert peds_page.errors == [], peds_page.errors
