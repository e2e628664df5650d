"""The admin console's Phones tab: a Re-provision button per phone, which asks the SIP core
to send the phone a NOTIFY check-sync (here no SIP core runs: it says so, nothing breaks).
The NOTIFY itself: tests/sip/test_reprovision.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from browsing import DESKTOP, new_context, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]

ADMIN_PASSWORD = "Adm1n-Heslo-2027"
OFFICE = f"""
extensions:
  - number: "100"
    first_name: Ada
    email: ada@example.com
    role: admin
    user_password: {ADMIN_PASSWORD}
  - number: "101"
    first_name: Jana
    phones:
      - {{vendor: Yealink, model: T54W, mac: "80:5e:c0:12:34:01"}}
"""


def test_the_phones_tab_re_provisions_a_phone(serve: Callable[[str], str], browser: Any) -> None:
    from playwright.sync_api import expect

    base = serve(OFFICE)
    page = new_context(browser, DESKTOP).new_page()
    sign_in(page, base, "ada@example.com", ADMIN_PASSWORD)
    page.goto(f"{base}/ui/extensions/101")
    page.get_by_role("tab", name="Phones").click()
    page.get_by_test_id("reprovision-805ec0123401").click()
    expect(page.get_by_text("the SIP core is not running").first).to_be_visible()
