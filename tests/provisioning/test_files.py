"""Each vendor's phone fetches its own file through HTTP, with its own User-Agent, and
finds its account, keys and message-waiting settings in it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import (
    AGENTS,
    FANVIL_MAC,
    GRANDSTREAM_MAC,
    SNOM_MAC,
    YEALINK_MAC,
    cfg,
    company,
    credentials,
    digest,
    fanvil,
    ok,
    xml,
)
from sqlalchemy import update

from klapka.domain.references import Kind
from klapka.services.pbx import Pbx
from klapka.services.provisioning.render import offset_text, utc_offset
from klapka.store import tables as t


@pytest.fixture
def phones(client: TestClient, anonymous: TestClient) -> TestClient:
    company(client)
    return anonymous


def fetch(client: TestClient, admin: TestClient, path: str, vendor: str, mac: str) -> str:
    """GET as the phone does: first without credentials, then with Digest."""
    url = f"/provisioning/{path}"
    first = client.get(url, headers={"User-Agent": AGENTS[vendor]})
    assert first.status_code == 401
    challenges = first.headers.get_list("www-authenticate")
    assert challenges[0].startswith("Digest ") and challenges[1].startswith("Basic ")
    creds = credentials(admin, mac)
    auth = digest(creds["username"], creds["password"], challenges[0], url)
    response = ok(client.get(url, headers={"User-Agent": AGENTS[vendor], "Authorization": auth}))
    assert response.headers["cache-control"] == "no-store"
    return response.text


def test_yealink(phones: TestClient, client: TestClient) -> None:
    text = fetch(phones, client, f"{YEALINK_MAC}.cfg", "yealink", YEALINK_MAC)
    assert text.startswith("#!version:1.0.0.1")
    c = cfg(text)
    assert c["account.1.user_name"] == "101"
    assert c["account.1.auth_name"] == "101"
    assert c["account.1.password"] == "Sip-Secret-101x"
    assert c["account.1.display_name"] == "Jana Dvořák & Syn"
    assert c["account.1.sip_server.1.address"] == "testserver"
    assert c["account.1.sip_server.1.port"] == "5060"
    assert c["account.1.sip_server.1.transport_type"] == "0"
    assert c["account.1.subscribe_mwi"] == "1"
    assert c["voice_mail.number.1"] == "*2"
    assert (c["linekey.1.type"], c["linekey.1.value"], c["linekey.1.label"]) == (
        "16", "102", "Anna Nová",
    )  # fmt: skip
    assert (c["linekey.2.type"], c["linekey.2.value"], c["linekey.2.label"]) == (
        "13", "+420601111222", "Mobile",
    )  # fmt: skip
    assert c["linekey.3.type"] == "5"
    assert c["local_time.ntp_server1"] == "pool.ntp.org"
    assert c["local_time.time_zone"] == "+0"
    assert c["lang.gui"] == "English"
    admin_password = credentials(client, YEALINK_MAC)["admin_password"]
    assert c["static.security.user_password"] == f"admin:{admin_password}"
    assert c["remote_phonebook.data.1.url"] == (
        f"http://testserver/provisioning/phonebook/{YEALINK_MAC}.xml"
    )


def test_yealink_common_file_holds_no_account(phones: TestClient) -> None:
    response = ok(phones.get("/provisioning/y000000000028.cfg"))
    c = cfg(response.text)
    assert c["local_time.ntp_server1"] == "pool.ntp.org"
    assert not any(k.startswith("account.") for k in c)


def test_fanvil_is_told_from_yealink_by_its_stored_vendor(
    phones: TestClient, client: TestClient
) -> None:
    text = fetch(phones, client, f"{FANVIL_MAC}.cfg", "fanvil", FANVIL_MAC)
    assert text.startswith("<<VOIP CONFIG FILE>>")
    c = fanvil(text)
    assert c["SIP1 Phone Number"] == "101"
    assert c["SIP1 Register Pswd"] == "Sip-Secret-101x"
    assert c["SIP1 Register Addr"] == "testserver"
    assert c["SIP1 MWI Num"] == "*2"
    assert c["SIP1 Subscribe MWI"] == "1"
    assert (c["Fkey1 Type"], c["Fkey1 Value"], c["Fkey1 Title"]) == ("1", "102@1/b", "Anna Nová")
    assert (c["Fkey2 Value"], c["Fkey3 Value"]) == ("+420601111222@1/f", "F_DND")


def test_fanvil_without_a_stored_vendor_is_told_by_its_user_agent(
    phones: TestClient, client: TestClient
) -> None:
    ok(client.patch("/api/v1/extensions/101", json={"phones": [{"mac": FANVIL_MAC}]}))
    text = fetch(phones, client, f"{FANVIL_MAC}.cfg", "fanvil", FANVIL_MAC)
    assert text.startswith("<<VOIP CONFIG FILE>>")
    # Without vendor or agent, a {mac}.cfg is Yealink's.
    auth = credentials(client, FANVIL_MAC)
    text = ok(
        phones.get(f"/provisioning/{FANVIL_MAC}.cfg", auth=(auth["username"], auth["password"]))
    ).text
    assert text.startswith("#!version")


def test_grandstream(phones: TestClient, client: TestClient) -> None:
    root = xml(fetch(phones, client, f"cfg{GRANDSTREAM_MAC}.xml", "grandstream", GRANDSTREAM_MAC))
    assert root.tag == "gs_provision"
    assert root.findtext("mac") == GRANDSTREAM_MAC
    p = {e.tag: e.text or "" for e in root.find("config") or []}
    assert (p["P35"], p["P36"], p["P34"]) == ("101", "101", "Sip-Secret-101x")
    assert p["P47"] == "testserver:5060"
    assert p["P3"] == "Jana Dvořák & Syn"
    assert (p["P33"], p["P99"]) == ("*2", "1")
    # Multi-purpose key 1: BLF on 102; key 2: speed dial.
    assert (p["P323"], p["P302"], p["P303"]) == ("1", "Anna Nová", "102")
    assert (p["P324"], p["P306"]) == ("0", "+420601111222")
    assert p["P331"].endswith(f"/provisioning/phonebook/{GRANDSTREAM_MAC}.xml")


def test_snom(phones: TestClient, client: TestClient) -> None:
    root = xml(fetch(phones, client, f"{SNOM_MAC}.xml", "snom", SNOM_MAC))
    settings = root.find("phone-settings")
    assert settings is not None
    s = {e.tag: e.text or "" for e in settings}
    assert (s["user_name"], s["user_pass"]) == ("101", "Sip-Secret-101x")
    assert s["user_host"] == "testserver:5060;transport=udp"
    assert (s["user_mailbox"], s["user_subscribe_mwi"]) == ("*2", "on")
    assert s["user_realname"] == "Jana Dvořák & Syn"
    keys = {k.get("idx"): (k.get("label"), k.text) for k in root.iter("fkey")}
    assert keys["0"] == ("Anna Nová", "blf sip:102@testserver")
    assert keys["1"] == ("Mobile", "speed +420601111222")
    assert keys["2"] == ("DND", "keyevent F_DND")


def test_transport_and_language_follow_the_extension(
    phones: TestClient, client: TestClient
) -> None:
    ok(client.patch("/api/v1/extensions/101", json={"advanced": {"transport": "tcp"}}))
    c = cfg(fetch(phones, client, f"{YEALINK_MAC}.cfg", "yealink", YEALINK_MAC))
    assert c["account.1.sip_server.1.transport_type"] == "1"


def test_an_admin_template_overrides_the_shipped_one(
    phones: TestClient, client: TestClient, data: Path
) -> None:
    own = data / "provisioning" / "templates"
    own.mkdir(parents=True)
    (own / "yealink.cfg.j2").write_text("#!version:1.0.0.1\nmine = {{ account.user }}\n")
    (own / "lobby.cfg.j2").write_text("#!version:1.0.0.1\nlobby = {{ extension.number }}\n")
    c = cfg(fetch(phones, client, f"{YEALINK_MAC}.cfg", "yealink", YEALINK_MAC))
    assert c == {"mine": "101"}
    phones_now = ok(client.get("/api/v1/extensions/101")).json()["phones"]
    phones_now[0]["template"] = "lobby.cfg"
    ok(client.patch("/api/v1/extensions/101", json={"phones": phones_now}))
    c = cfg(fetch(phones, client, f"{YEALINK_MAC}.cfg", "yealink", YEALINK_MAC))
    assert c == {"lobby": "101"}


def test_a_file_over_https_names_https_urls(client: TestClient, anonymous: TestClient) -> None:
    company(client)
    creds = credentials(client, YEALINK_MAC)
    response = ok(
        anonymous.get(
            f"https://pbx.example.com:8443/provisioning/{YEALINK_MAC}.cfg",
            auth=(creds["username"], creds["password"]),
        )
    )
    c = cfg(response.text)
    assert c["account.1.sip_server.1.address"] == "pbx.example.com"
    assert c["remote_phonebook.data.1.url"] == (
        f"https://pbx.example.com:8443/provisioning/phonebook/{YEALINK_MAC}.xml"
    )


def test_a_broken_template_is_a_500_and_a_line_in_the_log(
    phones: TestClient, client: TestClient, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = data / "provisioning" / "templates"
    own.mkdir(parents=True)
    (own / "yealink.cfg.j2").write_text("#!version:1.0.0.1\nx = {{ no_such_variable }}\n")
    creds = credentials(client, YEALINK_MAC)
    url = f"/provisioning/{YEALINK_MAC}.cfg"
    response = phones.get(url, auth=(creds["username"], creds["password"]))
    assert response.status_code == 500
    assert "no_such_variable" in caplog.text
    (own / "yealink.cfg.j2").write_text("{% for %}")
    assert phones.get(url, auth=(creds["username"], creds["password"])).status_code == 500
    assert "yealink.cfg.j2, line 1" in caplog.text


def test_the_port_is_the_one_the_sip_core_listens_on(
    phones: TestClient, client: TestClient, data: Path
) -> None:
    # klapka serve --sip-port 5070: the configuration the SIP core was started with says so.
    (data / "sip").mkdir()
    (data / "sip" / "kamailio.cfg").write_text("listen=udp:0.0.0.0:5070\nlisten=tcp:0.0.0.0:5070\n")
    ok(client.patch("/api/v1/system", json={"sip": {"domain": "pbx.example.com"}}))
    c = cfg(fetch(phones, client, f"{YEALINK_MAC}.cfg", "yealink", YEALINK_MAC))
    assert c["account.1.sip_server.1.port"] == "5070"
    # The phone reaches the SIP core where it reached the provisioning server.
    assert c["account.1.sip_server.1.address"] == "testserver"


def test_an_extension_row_broken_in_the_database_is_a_500_not_a_crash(
    phones: TestClient, client: TestClient, pbx: Pbx, caplog: pytest.LogCaptureFixture
) -> None:
    with pbx.tx() as repo:
        row = repo.row(Kind.EXTENSION, "101")
        repo.conn.execute(
            update(t.extensions)
            .where(t.extensions.c.id == row.id)
            .values(data={**row.data, "concurrent_registrations": 99})
        )
    response = phones.get(f"/provisioning/{YEALINK_MAC}.cfg", auth=("101", "4711"))
    assert response.status_code == 500
    assert "extension 101" in caplog.text


def test_time_zones_are_standard_offsets_and_the_phone_applies_daylight_saving() -> None:
    """The shipped templates switch the phones' automatic DST on: the offset they get is
    the zone's standard one, in July too (else Prague's phones show 2 hours ahead), and
    Yealink's half hours are written as it reads them."""
    july, january = datetime(2026, 7, 15, 12, tzinfo=UTC), datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert utc_offset("Europe/Prague", july) == utc_offset("Europe/Prague", january) == 60
    assert utc_offset("America/New_York", july) == -300
    assert utc_offset("Asia/Kolkata", july) == 330
    assert [offset_text(m) for m in (60, 0, -300, 330, 345, -210)] == [
        "+1", "+0", "-5", "+5:30", "+5:45", "-3:30",
    ]  # fmt: skip
