"""Disabling an extension signs its user out everywhere, whichever way it is disabled (the
API, a configuration document, a CSV import, the web UI's editor): their browser sessions
end, their personal API tokens are revoked and their unused emailed links (app login,
password reset) stop working. Enabling the extension again brings none of them back; the
other users keep theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from accounts_world import API, SignedIn, check, token_client
from fastapi.testclient import TestClient

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.welcome import LinkNotValid, Welcome, app_login


def disable_by_api(admin: TestClient, pbx: Pbx) -> None:
    check(admin.patch(f"{API}/extensions/101", json={"enabled": False}))


def disable_by_config(admin: TestClient, pbx: Pbx) -> None:
    document = check(admin.get(f"{API}/config"))
    (jana,) = [e for e in document["extensions"] if e["number"] == "101"]
    jana["enabled"] = False
    result = check(admin.put(f"{API}/config", json=document))
    assert result["summary"] == {"created": 0, "updated": 1, "deleted": 0}


def disable_by_csv(admin: TestClient, pbx: Pbx) -> None:
    csv = "number,enabled\n101,false\n"
    response = admin.post(
        f"{API}/extensions/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    check(response)


def disable_in_the_web_ui(admin: TestClient, pbx: Pbx) -> None:
    """What the web UI's extension editor calls when an admin switches 'Enabled' off."""
    admin_user = Principal(role="admin", extension="100", name="extension 100")
    Objects(pbx, admin_user).patch(Kind.EXTENSION, "101", {"enabled": False})


def disable_a_settings_section(admin: TestClient, pbx: Pbx) -> None:
    """A section saved on its own (the editor's tabs) with enabled off at the same time."""
    check(admin.patch(f"{API}/extensions/101", json={"enabled": False, "first_name": "J."}))


WAYS = [disable_by_api, disable_by_config, disable_by_csv, disable_in_the_web_ui,
        disable_a_settings_section]  # fmt: skip


@pytest.mark.parametrize("disable", WAYS, ids=lambda f: f.__name__)
def test_disabling_ends_sessions_and_tokens_for_good(
    app: Any,
    admin: TestClient,
    pbx: Pbx,
    sign_in: Callable[..., SignedIn],
    disable: Callable[[TestClient, Pbx], None],
) -> None:
    laptop, phone = sign_in("101"), sign_in("101", headers={"User-Agent": "phone"})
    script = token_client(app, laptop.client, ["read"])
    petr = sign_in("102")
    app_link = Welcome(pbx).login_link("101")["link"].split("#token=")[1]
    check(laptop.client.get(f"{API}/me"))
    check(script.get(f"{API}/me"))

    disable(admin, pbx)

    for client in (laptop.client, phone.client, script):
        assert client.get(f"{API}/me").status_code == 401
        assert client.get(f"{API}/auth/session").status_code == 401
    check(admin.patch(f"{API}/extensions/101", json={"enabled": True}))
    for client in (laptop.client, phone.client, script):  # ended, not just paused
        assert client.get(f"{API}/me").status_code == 401
    with pytest.raises(LinkNotValid):
        app_login(pbx, app_link)
    check(petr.client.get(f"{API}/me"))  # the others stay signed in
    account = check(admin.get(f"{API}/extensions/101/account"))
    assert (account["sessions"], account["personal_tokens"]) == (0, 0)
    # The user signs in again as usual.
    again = sign_in("101")
    check(again.client.get(f"{API}/me"))
    script.close()


def test_a_change_that_keeps_the_extension_enabled_signs_nobody_out(
    admin: TestClient, sign_in: Callable[..., SignedIn]
) -> None:
    jana = sign_in("101")
    check(admin.patch(f"{API}/extensions/101", json={"first_name": "Janička"}))
    document = check(admin.get(f"{API}/config"))
    check(admin.put(f"{API}/config", json=document))
    check(jana.client.get(f"{API}/me"))
