"""The calls in the browser: the admin opens "Call history" and "Calls now" from the menu,
the user "Call log"; times in the PBX's time zone (said on the page), missed calls marked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from browsing import DESKTOP, new_context, sign_in

from klapka.services.accounts.tokens import Tokens
from klapka.services.call_history import CallRecorder
from klapka.services.pbx import Pbx

pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]

ADMIN_PASSWORD = "Adm1n-Heslo-2027"
USER_PASSWORD = "Zelena-Louka-2027"
OFFICE = f"""
extensions:
  - number: "100"
    first_name: Ada
    email: ada@example.com
    role: admin
    user_password: {ADMIN_PASSWORD}
  - number: "102"
    first_name: Jana
    email: jana@example.com
    user_password: {USER_PASSWORD}
  - number: "103"
    first_name: Petr
"""
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()  # 10:00 in Prague


def calls(pbx: Pbx) -> None:
    def start(ci: str, at: float, caller: str, name: str, dialled: str) -> dict[str, Any]:
        return {"e": "start", "ci": ci, "t": at, "from": caller, "name": name,
                "ext": caller if len(caller) == 3 else None, "to": dialled, "path": "direct",
                "trunk": None if len(caller) == 3 else "carrier"}  # fmt: skip

    def ring(ci: str, at: float, rung: str) -> dict[str, Any]:
        return {"e": "ring", "ci": ci, "t": at, "owner": rung, "rung": [rung], "numbers": []}

    now = datetime.now(UTC).timestamp()
    CallRecorder(pbx).apply([
        start("a", T, "103", "Petr", "102"), ring("a", T, "102"),
        {"e": "answer", "ci": "a", "t": T + 4, "ext": "102", "endpoint": "desk"},
        {"e": "end", "ci": "a", "t": T + 64, "how": "bye", "by": "caller"},
        start("b", T + 600, "+420601111222", "", "102"), ring("b", T + 600, "102"),
        {"e": "cancel", "ci": "b", "t": T + 612},
        {"e": "end", "ci": "b", "t": T + 612, "how": "failed"},
        start("c", now, "103", "Petr", "100"), ring("c", now, "100"),  # rings now
    ], (1, 0))  # fmt: skip


def test_admin_and_user_read_the_calls_from_the_menu(
    serve: Callable[[str], str], browser: Any, pbx: Pbx
) -> None:
    from playwright.sync_api import expect

    base = serve(OFFICE)
    api = httpx.Client(base_url=f"{base}/api/v1",
                       headers={"Authorization": f"Bearer {Tokens(pbx).create(name='t')}"})  # fmt: skip
    assert api.patch("/system", json={"timezone": "Europe/Prague"}).status_code == 200
    calls(pbx)
    page = new_context(browser, DESKTOP).new_page()
    sign_in(page, base, "ada@example.com", ADMIN_PASSWORD)

    page.get_by_test_id("nav-call-history").click()
    table = page.get_by_test_id("call-history")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("calls-zone")).to_have_text("Times in Europe/Prague")
    answered = table.locator("tbody tr", has_text="2026-03-02 10:00:00")
    expect(answered).to_contain_text("103 (Petr)")
    expect(answered).to_contain_text("Answered")
    expect(answered).to_contain_text("1:00")  # talked a minute
    missed = table.locator("tbody tr", has_text="+420601111222")
    expect(missed.locator("[data-missed=true]")).to_have_text("call_missedNo answer")
    expect(table.locator("tbody tr", has_text="In progress")).to_have_count(1)

    page.get_by_test_id("nav-calls").click()
    now = page.get_by_test_id("calls-now")
    expect(now.locator("tbody tr")).to_have_count(1)
    expect(now).to_contain_text("103 (Petr)")
    expect(now).to_contain_text("Ringing")

    # The audit log too: local time, and it says which.
    page.get_by_test_id("nav-audit").click()
    expect(page.get_by_test_id("audit-zone")).to_have_text("Times in Europe/Prague")
    prague = datetime.now(ZoneInfo("Europe/Prague"))
    expect(page.get_by_test_id("audit-table")).to_contain_text(prague.strftime("%Y-%m-%d %H:"))

    user = new_context(browser, DESKTOP).new_page()
    sign_in(user, base, "jana@example.com", USER_PASSWORD)
    user.get_by_test_id("nav-me-calls").click()
    mine = user.get_by_test_id("my-calls")
    expect(mine.locator("tbody tr")).to_have_count(2)  # not Ada's call
    expect(mine.locator("[data-missed=true]")).to_have_count(1)
    user.get_by_test_id("calls-outcome").click()
    user.get_by_role("option", name="Missed").click()
    expect(mine.locator("tbody tr")).to_have_count(1)
    expect(user.get_by_text("No calls right now.")).to_be_visible()


def test_the_rung_users_portal_opens_the_url_popup_with_the_callers_number_and_name(
    serve: Callable[[str], str], browser: Any, pbx: Pbx
) -> None:
    """102's URL popup opens at ringing for inbound calls: a call from +420 601 111 222,
    a company contact "Eva Dvořáková", rings 102; its user's open portal opens the CRM URL
    with the number and the name in a new tab. An internal call (not chosen) opens none."""
    base = serve(OFFICE)
    api = httpx.Client(base_url=f"{base}/api/v1",
                       headers={"Authorization": f"Bearer {Tokens(pbx).create(name='t')}"})  # fmt: skip
    crm = f"{base}/api/v1/health?number={{{{.CallerNumber}}}}&name={{{{.CallerDisplayName}}}}"
    popup = {"enabled": True, "url": crm, "call_types": ["inbound"], "triggers": ["ringing"]}
    assert api.patch("/extensions/102", json={"features": {"url_popup": popup}}).status_code == 200
    assert api.post("/contacts", json={
        "first_name": "Eva", "last_name": "Dvořáková",
        "numbers": [{"type": "mobile", "number": "601111222"}],
    }).status_code == 201  # fmt: skip
    context = new_context(browser, DESKTOP)
    page = context.new_page()
    sign_in(page, base, "jana@example.com", USER_PASSWORD)
    page.get_by_test_id("nav-me-calls").click()
    page.wait_for_timeout(1000)  # the page polls for popups from now on
    now = datetime.now(UTC).timestamp()
    recorder = CallRecorder(pbx)
    with context.expect_page(timeout=10000) as opened:
        recorder.apply([
            {"e": "start", "ci": "in-1", "t": now, "from": "+420601111222", "name": "",
             "ext": None, "to": "+420530335500", "trunk": "carrier", "path": "direct"},
            {"e": "ring", "ci": "in-1", "t": now, "owner": "102", "rung": ["102"],
             "numbers": []},
        ], (1, 0))  # fmt: skip
    url = opened.value.url
    assert "number=%2B420601111222" in url
    assert "name=Eva%20Dvo%C5%99%C3%A1kov%C3%A1" in url
    link = page.get_by_test_id("url-popup-link")
    assert link.get_attribute("href") == url
    # An internal call is not chosen: no new tab.
    pages = len(context.pages)
    recorder.apply([
        {"e": "start", "ci": "int-1", "t": now, "from": "103", "name": "Petr", "ext": "103",
         "to": "102", "path": "direct"},
        {"e": "ring", "ci": "int-1", "t": now, "owner": "102", "rung": ["102"], "numbers": []},
    ], (1, 0))  # fmt: skip
    page.wait_for_timeout(1500)
    assert len(context.pages) == pages
