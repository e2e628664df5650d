"""The last fetch of each phone: when the provisioning server served its configuration
file, from which address and User-Agent. Kept in the database (it outlives the process),
read by an admin in ``GET /api/v1/extensions/{n}/phones/{mac}/provisioning``, in UTC and in
the PBX's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import AGENTS, FANVIL_MAC, YEALINK_MAC, company, credentials, digest, ok

from klapka.domain.problems import Forbidden, NotFound
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM, Principal
from klapka.services.provisioning import fetches
from klapka.services.provisioning.fetches import PhoneOverview, template_names


def fetch(anonymous: TestClient, admin: TestClient, path: str, mac: str, agent: str) -> int:
    url = f"/provisioning/{path}"
    first = anonymous.get(url, headers={"User-Agent": agent})
    challenge = first.headers.get_list("www-authenticate")[0]
    creds = credentials(admin, mac)
    auth = digest(creds["username"], creds["password"], challenge, url)
    return anonymous.get(url, headers={"User-Agent": agent, "Authorization": auth}).status_code


def last_fetch(client: TestClient, mac: str) -> dict[str, str] | None:
    got: dict[str, str] | None = credentials(client, mac)["last_fetch"]
    return got


def test_a_served_file_is_remembered_in_the_database(
    client: TestClient, anonymous: TestClient, database_url: str, data: Path
) -> None:
    company(client)
    ok(client.patch("/api/v1/system", json={"timezone": "Europe/Prague"}))
    assert last_fetch(client, YEALINK_MAC) is None
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert fetch(anonymous, client, f"{YEALINK_MAC}.cfg", YEALINK_MAC, AGENTS["yealink"]) == 200
    seen = last_fetch(client, YEALINK_MAC)
    assert seen is not None
    at = datetime.fromisoformat(seen["at"])
    assert before <= at <= datetime.now(UTC) + timedelta(seconds=1)
    local = datetime.fromisoformat(seen["at_local"])
    assert local == at.replace(microsecond=0) and local.utcoffset() in (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert seen["timezone"] == "Europe/Prague"
    assert seen["user_agent"] == AGENTS["yealink"]
    assert seen["source_ip"] == "testclient"  # the TestClient's peer
    assert seen["file"] == f"{YEALINK_MAC}.cfg"
    assert last_fetch(client, FANVIL_MAC) is None  # only the phone that fetched

    # A second fetch overwrites the row (an upsert, on SQLite and PostgreSQL alike).
    assert fetch(anonymous, client, f"{YEALINK_MAC}.cfg", YEALINK_MAC, "Yealink SIP-T54W 2") == 200
    again = last_fetch(client, YEALINK_MAC)
    assert again is not None and again["user_agent"] == "Yealink SIP-T54W 2"
    assert datetime.fromisoformat(again["at"]) >= at

    # Another process (a restarted klapka serve) reads the same record.
    other = Pbx.from_url(database_url)
    try:
        found = PhoneOverview(other, SYSTEM, data).last_fetches("101")
    finally:
        other.close()
    assert set(found) == {YEALINK_MAC}
    assert found[YEALINK_MAC]["user_agent"] == "Yealink SIP-T54W 2"


def test_failures_and_phonebooks_are_not_a_fetch(client: TestClient, anonymous: TestClient) -> None:
    company(client)
    url = f"/provisioning/{YEALINK_MAC}.cfg"
    assert anonymous.get(url).status_code == 401
    wrong = anonymous.get(url, auth=(YEALINK_MAC, "not-the-password"))
    assert wrong.status_code == 401
    phonebook = f"phonebook/{YEALINK_MAC}.xml"
    assert fetch(anonymous, client, phonebook, YEALINK_MAC, AGENTS["yealink"]) == 200
    assert last_fetch(client, YEALINK_MAC) is None


def test_only_an_admin_reads_it(pbx: Pbx, client: TestClient, data: Path) -> None:
    company(client)
    fetches.remember(pbx, YEALINK_MAC, source_ip="192.0.2.7", user_agent="x", file="f.cfg")
    user = Principal(role="user", extension="102", name="extension 102")
    with pytest.raises(Forbidden):
        PhoneOverview(pbx, user, data).last_fetches("101")
    with pytest.raises(Forbidden):
        PhoneOverview(pbx, user, data).template_names()
    with pytest.raises(NotFound):
        PhoneOverview(pbx, SYSTEM, data).last_fetches("999")
    found = PhoneOverview(pbx, SYSTEM, data).last_fetches("101")
    assert found[YEALINK_MAC]["source_ip"] == "192.0.2.7"
    assert found[YEALINK_MAC]["timezone"] == "UTC"
    (data / "provisioning" / "templates").mkdir(parents=True)
    (data / "provisioning" / "templates" / "lobby.cfg.j2").write_text("x")
    assert "lobby.cfg" in PhoneOverview(pbx, SYSTEM, data).template_names()


def test_template_names_are_the_shipped_ones_and_the_admins(tmp_path: Path) -> None:
    override = tmp_path / "templates"
    override.mkdir()
    (override / "lobby.cfg.j2").write_text("x")
    (override / "notes.txt").write_text("x")
    names = template_names(override)
    assert names == ["fanvil.cfg", "grandstream.xml", "lobby.cfg", "snom.xml", "yealink.cfg"]
    assert template_names(override / "missing") == [
        "fanvil.cfg", "grandstream.xml", "snom.xml", "yealink.cfg"
    ]  # fmt: skip
