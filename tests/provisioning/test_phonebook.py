"""The remote phonebook holds what the phone's user may see under the client permissions:
colleagues they see, company contacts when they may see them, their personal contacts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from helpers import (
    AGENTS,
    FANVIL_MAC,
    GRANDSTREAM_MAC,
    SNOM_MAC,
    YEALINK_MAC,
    company,
    ok,
    xml,
)

from klapka.services.directory import contacts
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal


@pytest.fixture
def phones(client: TestClient, anonymous: TestClient) -> TestClient:
    company(client)
    return anonymous


def yealink_names(phones: TestClient) -> dict[str, list[str]]:
    response = ok(
        phones.get(
            f"/provisioning/phonebook/{YEALINK_MAC}.xml",
            auth=("101", "4711"),
            headers={"User-Agent": AGENTS["yealink"]},
        )
    )
    root = xml(response.text)
    assert root.tag == "YealinkIPPhoneDirectory"
    return {
        e.findtext("Name") or "": [t.text or "" for t in e.findall("Telephone")]
        for e in root.findall("DirectoryEntry")
    }


def test_without_rules_a_user_sees_colleagues_but_not_company_contacts(
    phones: TestClient,
) -> None:
    # No client permission rule: users see every extension, company contacts are not theirs.
    names = yealink_names(phones)
    assert names == {"Anna Nová": ["102"], "Boris": ["103"]}


def test_a_rule_hides_colleagues_and_shows_company_contacts(
    phones: TestClient, client: TestClient, pbx: Pbx
) -> None:
    ok(
        client.post(
            "/api/v1/client-permissions",
            json={
                "name": "reception",
                "target": {"extensions": ["101"]},
                "extension_visibility": {"allow": {"extensions": ["103"]}, "deny": {"all": True}},
                "contacts": "view",
            },
        ),
        201,
    )
    contacts.create_personal(
        pbx,
        Principal(role="user", extension="101", name="extension 101"),
        {"first_name": "Máma", "numbers": [{"type": "mobile", "number": "+420777000111"}]},
    )
    names = yealink_names(phones)
    assert names == {
        "Boris": ["103"],
        "Karel Dodavatel": ["+420530111222"],
        "Máma": ["+420777000111"],
    }


def test_each_vendor_gets_its_own_format(phones: TestClient) -> None:
    def get(mac: str, vendor: str) -> str:
        return ok(
            phones.get(
                f"/provisioning/phonebook/{mac}.xml",
                auth=("101", "4711"),
                headers={"User-Agent": AGENTS[vendor]},
            )
        ).text

    snom = xml(get(SNOM_MAC, "snom"))
    assert snom.tag == "SnomIPPhoneDirectory"
    assert [e.findtext("Telephone") for e in snom.findall("DirectoryEntry")] == [
        "103",
        "102",
    ]  # by last name
    gs = xml(get(GRANDSTREAM_MAC, "grandstream"))
    assert gs.tag == "AddressBook"
    anna = gs.findall("Contact")[1]
    assert (anna.findtext("FirstName"), anna.findtext("LastName")) == ("Anna", "Nová")
    assert anna.findtext("Phone/phonenumber") == "102"
    fanvil = xml(get(FANVIL_MAC, "fanvil"))
    assert fanvil.tag == "PhoneDirectory"
    assert [e.findtext("Name") for e in fanvil.findall("DirectoryEntry")] == ["Boris", "Anna Nová"]


def test_the_phonebook_needs_the_phones_credentials(phones: TestClient) -> None:
    url = f"/provisioning/phonebook/{YEALINK_MAC}.xml"
    assert phones.get(url).status_code == 401
    assert phones.get(url, auth=("101", "0000")).status_code == 401
