"""The admin console's Phones tab is a form: vendor and model pickers, MAC address,
template; a bad MAC is refused at its field with the API's rule; the saved phone is what the
API reads; once the phone has fetched its file over HTTP, the tab says when (in the PBX's
time zone, named), from which address and with which User-Agent. At phone size too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from browsing import DESKTOP, PHONE, choose, new_context, save_tab, shoot, sign_in

from klapka.services.accounts.tokens import Tokens
from klapka.services.pbx import Pbx

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
    last_name: Dvořák
"""
MAC = "805ec0123401"
AGENT = f"Yealink SIP-T54W 96.86.0.100 {MAC}"


def test_an_admin_adds_a_phone_and_sees_its_last_fetch(
    serve: Callable[[str], str], browser: Any, pbx: Pbx
) -> None:
    from playwright.sync_api import expect

    base = serve(OFFICE)
    api = httpx.Client(
        base_url=f"{base}/api/v1",
        headers={"Authorization": f"Bearer {Tokens(pbx).create(name='test')}"},
    )
    assert api.patch("/system", json={"timezone": "Europe/Prague"}).status_code == 200
    page = new_context(browser, DESKTOP).new_page()
    sign_in(page, base, "ada@example.com", ADMIN_PASSWORD)

    # Menu -> Extensions -> 101 -> Phones.
    page.get_by_role("navigation").get_by_text("Extensions", exact=True).click()
    page.wait_for_url(f"{base}/ui/extensions")
    page.get_by_test_id("extension-table").get_by_role("link", name="101", exact=True).click()
    page.wait_for_url(f"{base}/ui/extensions/101")
    page.get_by_role("tab", name="Phones").click()
    expect(page.get_by_text("No phones yet.")).to_be_visible()

    # A phone with a bad MAC: refused at the field, with the API's rule.
    page.get_by_test_id("add-phone").click()
    choose(page, "field-phones[0].vendor", "Yealink")
    choose(page, "field-phones[0].model", "T54W")
    page.get_by_test_id("field-phones[0].mac").fill("80:5E:C0:12:34")
    save_tab(page)
    expect(page.get_by_text("must be 12 hexadecimal digits (separators allowed)")).to_be_visible()
    assert api.get("/extensions/101").json()["phones"] == []

    # Corrected, it is saved; the API reads the same phone.
    page.get_by_test_id("field-phones[0].mac").fill("80:5E:C0:12:34:01")
    save_tab(page)
    expect(page.get_by_test_id(f"reprovision-{MAC}")).to_be_visible()
    expect(page.get_by_test_id(f"last-fetch-{MAC}")).to_have_text("Never fetched its file yet.")
    phones = api.get("/extensions/101").json()["phones"]
    assert phones == [{"vendor": "Yealink", "model": "T54W", "mac": MAC, "template": None}]
    credentials = api.get(f"/extensions/101/phones/{MAC}/provisioning").json()
    assert credentials["last_fetch"] is None

    # The phone fetches its file (HTTP Basic with its own credentials) ...
    fetched = httpx.get(
        f"{base}/provisioning/{MAC}.cfg",
        auth=(credentials["username"], credentials["password"]),
        headers={"User-Agent": AGENT},
    )
    assert fetched.status_code == 200, fetched.text
    assert "account.1.user_name = 101" in fetched.text
    last = api.get(f"/extensions/101/phones/{MAC}/provisioning").json()["last_fetch"]
    assert last["user_agent"] == AGENT and last["source_ip"] == "127.0.0.1"
    assert last["timezone"] == "Europe/Prague"

    # ... and after a reload the tab says when, from where, with what.
    page.reload()
    page.get_by_role("tab", name="Phones").click()
    shown = page.get_by_test_id(f"last-fetch-{MAC}")
    expect(shown).to_contain_text("Last fetch: ")
    expect(shown).to_contain_text("(Europe/Prague) from 127.0.0.1")
    local = last["at_local"][:19].replace("T", " ")  # 2026-12-07 18:40:12
    expect(shown).to_contain_text(local)
    expect(page.get_by_text(AGENT)).to_be_visible()
    expect(page.get_by_test_id("field-phones[0].model")).to_have_value("T54W")
    shoot(page, "admin-phones-desktop")

    # At phone size the form is one column and nothing spills over the screen's width.
    small = new_context(browser, PHONE).new_page()
    sign_in(small, base, "ada@example.com", ADMIN_PASSWORD)
    small.goto(f"{base}/ui/extensions/101")
    small.get_by_role("tab", name="Phones").click()
    expect(small.get_by_test_id(f"last-fetch-{MAC}")).to_contain_text("Last fetch: ")
    small.wait_for_timeout(500)  # the tab panel's slide transition
    shoot(small, "admin-phones-phone")
    card = small.get_by_test_id("phone-0").bounding_box()
    assert card is not None and card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]
    mac_box = small.get_by_test_id("field-phones[0].mac").bounding_box()
    vendor_box = small.get_by_test_id("field-phones[0].vendor").bounding_box()
    assert mac_box is not None and vendor_box is not None
    assert mac_box["y"] > vendor_box["y"]  # stacked, not side by side
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width

    # Removing the phone and saving leaves the extension without phones.
    page.get_by_test_id("remove-phone-0").click()
    save_tab(page)
    expect(page.get_by_text("No phones yet.")).to_be_visible()
    assert api.get("/extensions/101").json()["phones"] == []


def test_function_keys_are_a_form_with_the_field_each_type_needs(
    serve: Callable[[str], str], browser: Any, pbx: Pbx
) -> None:
    from playwright.sync_api import expect

    base = serve(OFFICE)
    api = httpx.Client(
        base_url=f"{base}/api/v1",
        headers={"Authorization": f"Bearer {Tokens(pbx).create(name='test')}"},
    )
    page = new_context(browser, PHONE).new_page()
    sign_in(page, base, "ada@example.com", ADMIN_PASSWORD)
    page.goto(f"{base}/ui/extensions/101")
    page.get_by_role("tab", name="Function keys").click()

    # A BLF key without its extension: refused at the field with the API's rule.
    page.get_by_test_id("add-function-key").click()
    save_tab(page)
    expect(page.get_by_text("required for a blf key")).to_be_visible()
    # The extension picker offers the extensions by number and name.
    choose(page, "field-function_keys[0].value", "100 · Ada")

    # A speed dial needs a number, a presence key a status.
    page.get_by_test_id("add-function-key").click()
    choose(page, "field-function_keys[1].type", "Speed dial")
    page.get_by_test_id("field-function_keys[1].value").fill("+420601111222")
    page.get_by_test_id("field-function_keys[1].label").fill("Mobile")
    page.get_by_test_id("add-function-key").click()
    choose(page, "field-function_keys[2].type", "Presence")
    choose(page, "field-function_keys[2].value", "Away")
    page.get_by_test_id("add-function-key").click()
    choose(page, "field-function_keys[3].type", "Do not disturb")
    expect(page.get_by_test_id("field-function_keys[3].value")).to_have_count(0)
    save_tab(page)
    expect(page.get_by_text("Saved", exact=True).first).to_be_visible()
    keys = api.get("/extensions/101").json()["function_keys"]
    assert [(k["key"], k["type"]) for k in keys] == [
        (1, "blf"), (2, "speed_dial"), (3, "presence"), (4, "dnd"),
    ]  # fmt: skip
    assert keys[0]["extension"] == "100"
    assert keys[1]["number"] == "+420601111222" and keys[1]["label"] == "Mobile"
    assert keys[2]["status"] == "away"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    shoot(page, "admin-function-keys-phone")
