"""The app login link opens a page (``<portal_url>/app-login#token=...``): it tells the
person what to do, offers Linphone its one-time provisioning URL, and shows the account
details for another SIP app only when asked, once. Before that the page holds no secret and
spends nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from browsing import PHONE, new_context, shoot

from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx
from klapka.services.welcome import Welcome

SIP_PASSWORD = "Sip-Heslo-2027-abc"

OFFICE = f"""
extensions:
  - number: "101"
    first_name: Jana
    last_name: Novak
    sip_password: {SIP_PASSWORD}
    clients:
      mobile_client: true
"""


def link_for(pbx: Pbx, base: str, number: str = "101") -> tuple[str, str]:
    """A new app login link of ``number`` (the portal URL made the served one): (link, token)."""
    SystemSettings(pbx).patch({"portal_url": base})
    link = Welcome(pbx).login_link(number)["link"]
    return link, link.split("#token=")[1]


def test_the_link_opens_a_page_that_holds_no_secret_and_spends_nothing(
    pbx: Pbx, serve: Callable[[str], str]
) -> None:
    base = serve(OFFICE)
    link, token = link_for(pbx, base)
    assert link.startswith(f"{base}/app-login#token=")
    with httpx.Client(base_url=base) as client:
        # The fragment stays in the browser: the server sees /app-login only.
        opened = client.get("/app-login")
        assert (opened.status_code, opened.headers["location"]) == (303, "/ui/app-login")
        page = client.get("/ui/app-login")
        assert page.status_code == 200
        assert "Set up your phone app" in page.text
        assert "Linphone" in page.text
        assert SIP_PASSWORD not in page.text and token not in page.text
        czech = client.get("/ui/app-login", headers={"Accept-Language": "cs"})
        assert "Nastavení telefonní aplikace" in czech.text
        # Opening the page spent nothing: the link still works (once).
        login = client.post("/api/v1/auth/app-login", json={"token": token})
        assert login.status_code == 200
        assert login.json()["sip"]["password"] == SIP_PASSWORD


@pytest.mark.slow
def test_in_a_browser_it_offers_linphone_and_shows_the_account_once(
    pbx: Pbx, serve: Callable[[str], str], browser: Any
) -> None:
    base = serve(OFFICE)
    link, token = link_for(pbx, base)
    context = new_context(browser, PHONE)
    page = context.new_page()
    page.goto(link)
    opener = page.get_by_test_id("open-linphone")
    provisioning = f"{base}/api/v1/auth/app-login/{token}/linphone.xml"
    assert opener.get_attribute("href") == f"linphone-config:{provisioning}"
    assert page.get_by_test_id("provisioning-url").inner_text() == provisioning
    assert SIP_PASSWORD not in page.content()
    shoot(page, "app-login")
    page.get_by_test_id("show-account").click()
    page.get_by_text(SIP_PASSWORD).wait_for()
    shoot(page, "app-login-account")
    assert page.get_by_test_id("show-account").count() == 0
    assert page.get_by_test_id("open-linphone").count() == 0  # spent: not offered any more
    # Spent: neither Linphone nor the page gets it again.
    assert httpx.get(provisioning).status_code == 410
    page.reload()
    page.get_by_test_id("link-not-valid").wait_for()
    assert SIP_PASSWORD not in page.content()
    context.close()
