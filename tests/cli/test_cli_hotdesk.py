"""`klapka hotdesk list` and `klapka hotdesk logout MAC`: who is logged in at which hot-desk
phone, and ending a login (docs/provisioning.md, "Hot desking")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from klapka.cli import app
from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM
from klapka.services.telephony.hot_desk import HotDesk, WrongPins

runner = CliRunner()
MAC = "805ec0900001"


@pytest.fixture
def pbx(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Iterator[Pbx]:
    monkeypatch.setenv("KLAPKA_DATABASE_URL", database_url)
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "data"))
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


def klapka(*args: str) -> Result:
    return runner.invoke(app, list(args))


def test_list_and_logout(pbx: Pbx) -> None:
    objects = Objects(pbx, SYSTEM)
    objects.create(Kind.EXTENSION, {
        "number": "900", "first_name": "Desk 1", "features": {"hot_desking": True},
        "phones": [{"vendor": "Yealink", "model": "T54W", "mac": MAC}],
    })  # fmt: skip
    objects.create(Kind.EXTENSION, {
        "number": "102", "first_name": "Jana", "last_name": "Nováková",
        "voicemail": {"pin": "4711"},
    })  # fmt: skip
    assert klapka("hotdesk", "list").stdout == "Nobody is logged in at a hot desk.\n"

    desk = HotDesk(pbx, check_sync=lambda number, mac: None, wrong_pins=WrongPins())
    at = datetime(2027, 3, 1, 8, 12, tzinfo=UTC)
    assert desk.login("900", "102", "4711", at=at).sip_code == 200
    shown = klapka("hotdesk", "list")
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["MAC", "Guest", "User", "Since", "Until"]
    assert lines[1].startswith(f"{MAC}  900    102 (Jana Nováková)")
    [item] = json.loads(klapka("hotdesk", "list", "--json").stdout)
    assert (item["mac"], item["guest"], item["extension"]) == (MAC, "900", "102")
    assert item["since"] == "2027-03-01T08:12:00Z"

    done = klapka("hotdesk", "logout", "80:5E:C0:90:00:01")
    assert (done.exit_code, done.stdout) == (0, f"Logged out 102 at {MAC}.\n")
    assert klapka("hotdesk", "list").stdout == "Nobody is logged in at a hot desk.\n"

    for bad in (MAC, "not-a-mac"):
        refused = klapka("hotdesk", "logout", bad)
        assert refused.exit_code == 2
        assert len(refused.stderr.splitlines()) == 1
        assert refused.stderr.startswith("error: ")
