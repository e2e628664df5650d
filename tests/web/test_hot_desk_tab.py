"""The admin console's Phones tab and hot desking: at a hot-desk phone's guest extension,
who is logged in there (since, until, in the PBX's time zone) with Log out, which gives the
phone back to its guest; at the user's own extension, the hot desk they are at; a guest
extension without exactly one phone is warned about (not refused: it is normal while the
desk is being set up)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from browsing import DESKTOP, new_context, sign_in

from klapka.services.accounts.tokens import Tokens
from klapka.services.pbx import Pbx
from klapka.services.telephony.hot_desk import HotDesk, WrongPins

pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]

ADMIN_PASSWORD = "Adm1n-Heslo-2027"
MAC = "805ec0900001"
OFFICE = f"""
extensions:
  - number: "100"
    first_name: Ada
    email: ada@example.com
    role: admin
    user_password: {ADMIN_PASSWORD}
  - number: "102"
    first_name: Jana
    last_name: Nováková
    voicemail: {{pin: "4711"}}
  - number: "900"
    first_name: Desk 1
    features: {{hot_desking: true}}
    phones: [{{vendor: Yealink, model: T54W, mac: "{MAC}"}}]
  - number: "901"
    first_name: Desk 2
    features: {{hot_desking: true}}
"""


def test_the_phones_tab_shows_the_login_and_logs_out(
    serve: Callable[[str], str], browser: Any, pbx: Pbx
) -> None:
    from playwright.sync_api import expect

    base = serve(OFFICE)
    api = httpx.Client(
        base_url=f"{base}/api/v1",
        headers={"Authorization": f"Bearer {Tokens(pbx).create(name='test')}"},
    )
    assert api.patch("/system", json={"timezone": "Europe/Prague"}).status_code == 200
    desk = HotDesk(pbx, check_sync=lambda number, mac: None, wrong_pins=WrongPins())
    assert desk.login("900", "102", "4711").sip_code == 200
    page = new_context(browser, DESKTOP).new_page()
    sign_in(page, base, "ada@example.com", ADMIN_PASSWORD)

    # The user's own extension: where they are logged in.
    page.goto(f"{base}/ui/extensions/102")
    page.get_by_role("tab", name="Phones").click()
    expect(page.get_by_test_id("hot-desk-login")).to_contain_text("Logged in at hot desk 900 since")
    expect(page.get_by_test_id("hot-desk-login")).to_contain_text("until 00:00")

    # The guest extension: who is logged in; Log out.
    page.goto(f"{base}/ui/extensions/900")
    page.get_by_role("tab", name="Phones").click()
    line = page.get_by_test_id("hot-desk-login")
    expect(line).to_contain_text("Logged in: 102 (Jana Nováková) since")
    expect(line).to_contain_text(", until 00:00")
    assert "CET" in line.inner_text() or "CEST" in line.inner_text()
    expect(page.get_by_test_id("hot-desk-phones-warning")).to_have_count(0)
    page.get_by_test_id(f"hot-desk-logout-{MAC}").click()
    expect(page.get_by_text("Logged out 102.")).to_be_visible()
    expect(page.get_by_test_id("hot-desk-login")).to_have_text(
        "Nobody is logged in at this hot desk."
    )
    assert api.get("/hot-desk/logins").json() == []
    [entry] = api.get("/audit", params={"action": "hot_desk_logout"}).json()["items"]
    assert (entry["key"], entry["actor_extension"]) == (MAC, "100")

    # A guest extension without its one phone: a warning, no refusal.
    page.goto(f"{base}/ui/extensions/901")
    page.get_by_role("tab", name="Phones").click()
    expect(page.get_by_test_id("hot-desk-phones-warning")).to_contain_text(
        "needs exactly one phone"
    )
