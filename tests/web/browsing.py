"""Helpers of the browser tests: signing in, picking options, screenshots.

Screenshots go to ``test-artifacts/screenshots/`` at desktop (1280x800) and phone (390x844)
sizes, on every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def new_context(browser: Any, viewport: dict[str, int], locale: str = "en-US") -> Any:
    """A fresh browser profile (no cookies) of this size; ``locale`` sets Accept-Language."""
    context = browser.new_context(viewport=viewport, locale=locale)
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(30_000)  # the first page of a fresh server
    return context


def choose(page: Any, test_id: str, option: str) -> None:
    """Pick ``option`` in the select with ``test_id`` (a Quasar menu of options)."""
    page.get_by_test_id(test_id).click()
    page.get_by_role("option", name=option, exact=True).click()


def shoot(page: Any, name: str) -> None:
    """A screenshot of the page as it is now, under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the header is fixed: keep it at the top
    page.wait_for_timeout(300)  # let the last websocket update paint
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/")
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url and "/auth/" not in url)


def eventually(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    """``check()`` once it stops failing: the page's "Saved" may still be a notice of an
    earlier save while this one is on its way."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def save_tab(page: Any) -> None:
    """Click the open editor tab's Save: once the tab switched to has finished its
    transition (while it runs, the tab left is a second tab panel with its own Save)."""
    from playwright.sync_api import expect

    save = page.get_by_role("tabpanel").get_by_test_id("save")
    expect(save).to_have_count(1)
    save.click()
