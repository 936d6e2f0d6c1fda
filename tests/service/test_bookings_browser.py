"""The convoy bookings page in a real browser (Debian's chromium driven by Playwright): an
operator signs in and sees the convoys booked for a departure window — each with its window,
its hold window at every junction, the vehicles expected to wait and its state — a timeline bar
per junction hold, and a refused plan with the clash that refused it; no console errors.

Same real server as the dashboard's browser test (uvicorn on a free port, live runtime on the
3x3 grid); skipped with the reason when Playwright or chromium is missing. Screenshots go to
``test-artifacts/bookings/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .test_dashboard_browser import Live, launch_browser, live_http

pytestmark = [pytest.mark.sumo, pytest.mark.slow, pytest.mark.xdist_group("dashboard_browser")]
__all__ = ["live_http"]  # the dashboard test's live server fixture, used here

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "bookings"
PLAN = {
    "incident_id": "OP-UI",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
    "vehicle_count": 4,
    "length_m": 60.0,
    "cruise_speed_mps": 12.5,
}


@pytest.fixture(scope="module")
def browser(live_http) -> Iterator[Any]:
    yield from launch_browser(ARTIFACTS)


def _book(live: Live, convoy_id: str, start_in_s: float, length_s: float) -> dict[str, Any]:
    """Quote a plan as the dispatcher and confirm it; the confirmation's answer (any status)."""
    now = live.runtime.now_s()
    body = PLAN | {
        "convoy_id": convoy_id, "window_start_s": now + start_in_s,
        "window_end_s": now + start_in_s + length_s,
    }  # fmt: skip
    r = live.api("POST", "/convoys/plans", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    c = live.api("POST", f"/convoys/plans/{r.json()['plan_id']}/confirm", "dispatcher")
    return {"quote": r.json(), "status": c.status_code, "answer": c.json()}


def _hhmmss(utc: str) -> str:
    return datetime.fromisoformat(utc).astimezone(UTC).strftime("%H:%M:%S")


def test_an_operator_sees_booked_convoys_their_windows_and_a_refusal(browser, live_http):
    live = live_http
    first = _book(live, "POL-UI-1", 600, 120)
    second = _book(live, "POL-UI-2", 3000, 60)
    clash = _book(live, "POL-UI-3", 650, 30)  # inside the first one's window
    assert first["status"] == second["status"] == 201, (first, second)
    assert clash["status"] == 409, clash

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    try:
        page.goto(live.url + "/")
        # the live map links to the bookings
        page.wait_for_selector("#bookings-link", state="attached")
        page.goto(live.url + "/dashboard/bookings.html")
        assert page.is_visible("#login")
        page.fill("#login-key", live.key("operator"))
        page.click("#login-submit")
        page.wait_for_selector("#login", state="hidden")
        page.wait_for_selector(".bk-row")
        page.wait_for_function("document.querySelectorAll('#booked .bk-row').length === 2")

        for booked in (first, second):
            plan = booked["answer"]
            row = page.locator(f'.bk-row[data-plan-id="{plan["plan_id"]}"]')
            assert row.locator(".bk-convoy").inner_text() == plan["convoy_id"]
            assert row.get_attribute("data-request-id") == plan["request_id"]
            window = row.locator(".bk-window").inner_text()
            assert _hhmmss(plan["window_start_utc"]) in window, window
            assert _hhmmss(plan["window_end_utc"]) in window, window
            assert row.locator(".bk-state").inner_text() == "planned"
            holds = row.locator(".bk-holds li")
            assert holds.count() == len(plan["junctions"])
            for i, j in enumerate(plan["junctions"]):
                text = holds.nth(i).inner_text()
                assert text.startswith(j["signal_id"]), text
                assert _hhmmss(j["hold_from_utc"]) in text and _hhmmss(j["hold_to_utc"]) in text
            held = row.locator(".bk-held").inner_text()
            assert held == f"{plan['expected_vehicles_held']:.1f}", held

        # the timeline: one bar per junction hold of the booked convoys, the first ones earlier
        bars = page.locator(".tl-bar")
        assert bars.count() == len(first["answer"]["junctions"]) + len(
            second["answer"]["junctions"]
        )
        sid = first["answer"]["junctions"][0]["signal_id"]

        def left(plan: dict[str, Any]) -> float:
            bar = page.locator(f'.tl-bar[data-plan-id="{plan["plan_id"]}"][data-signal-id="{sid}"]')
            return float(bar.evaluate("e => parseFloat(e.style.left)"))

        assert left(first["answer"]) < left(second["answer"])

        refused = page.locator(f'.bk-other[data-plan-id="{clash["quote"]["plan_id"]}"]')
        assert refused.get_attribute("data-state") == "refused"
        why = refused.locator(".bk-why").inner_text()
        assert first["answer"]["plan_id"] in why and "holds signal" in why, why
        page.screenshot(path=str(ARTIFACTS / "bookings.png"), full_page=True)

        # cancelled on the API: the page shows the booking's new state
        rid = first["answer"]["request_id"]
        assert live.api("DELETE", f"/convoys/{rid}", "dispatcher").status_code == 200
        page.wait_for_function(
            f"document.querySelector('.bk-row[data-request-id=\"{rid}\"] .bk-state')"
            ".textContent === 'cancelled'"
        )
        assert errors == [], errors
    finally:
        context.close()
