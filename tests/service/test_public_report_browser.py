"""The public transparency report page in a real browser (Debian's chromium driven by
Playwright): reached from the dashboard without signing in, it shows a month's aggregates,
suppressed cells as "suppressed" (never as a number), the signed audit head, and no console
errors. Skipped when playwright or chromium is missing (failed in CI, as the dashboard's)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade
from clearway.storage.signed_head import generate_keypair
from tests.fakes.trips import add_trip

from .conftest import make_service
from .test_dashboard_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Served,
    _free_port,
    _playwright,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboard_browser")]
DAY = datetime(2026, 11, 12, 10, tzinfo=UTC)


@pytest.fixture
def served(tmp_path) -> Iterator[str]:
    sync = _playwright()
    db = f"sqlite:///{tmp_path / 'clearway.db'}"
    upgrade(db)
    engine = make_engine(db)
    sessions = session_factory(engine)
    for i in range(5):
        add_trip(sessions, DAY + timedelta(minutes=i))
    add_trip(sessions, DAY + timedelta(minutes=9), role="fire", outcome="cancelled")
    key, _ = generate_keypair(tmp_path / "report.key")
    svc = make_service(engine, sessions, None, report_key_file=key)
    port = _free_port()
    server = Served(svc.app, port)
    try:
        yield sync, f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        engine.dispose()


def test_the_report_page_shows_aggregates_and_the_signed_head(served):
    sync_playwright, url = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.goto(url + "/")
            href = page.get_attribute("#transparency-link", "href")
            assert href == "/public/transparency"
            page.goto(url + href + "?month=2026-11")
            page.wait_for_selector('body[data-loaded="2026-11"]')
            rows = {
                r.query_selector("th").inner_text(): r.query_selector("td").inner_text()
                for r in page.query_selector_all("#totals tbody tr")
            }
            assert rows["requests"] == "6"
            assert rows["— ambulance"] == "5"
            assert rows["— fire"] == "suppressed"  # one fire request: not published
            assert rows["cancelled"] == "suppressed"
            assert rows["others' extra delay"] == "not estimated"
            assert rows["monitor violations"] == "0"  # counted from the audit log: none
            assert rows["median time saved against no priority (s)"] == "not estimated"
            day = page.query_selector_all("#days tbody tr")[11]  # 2026-11-12
            assert day.query_selector("th").inner_text() == "2026-11-12"
            assert day.query_selector("td").inner_text() == "6"
            assert page.inner_text("#head-sig").startswith("Ed25519: ")
            assert int(page.inner_text("#head-seq")) > 0
            # Another period from the form: a day with no request shows suppressed cells.
            page.fill("#day", "2026-11-13")
            page.click("#show")
            page.wait_for_selector('body[data-loaded="2026-11-13"]')
            first = page.query_selector("#totals tbody tr td").inner_text()
            assert first == "suppressed"
            page.screenshot(path=str(ARTIFACTS / "public-report.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
