"""One object the SIP core cannot use (a trunk stored with an impossible host, written by
hand or by an older version) is left out of the snapshot; every other change still reaches
the SIP core: a new SIP password, a disabled extension, the other trunks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from klapka.api.app import create_app
from klapka.kemi.snapshot import Snapshot
from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.services.telephony.sip_directory import build_snapshot
from klapka.services.telephony.sip_paths import SipPaths
from klapka.sip.supervisor import SnapshotRefresher
from klapka.sip.uacreg import registrations
from klapka.store import tables as t

DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": f"Secret{n}ab"} for n in ("101", "102")],
    "trunks": [
        {"name": "provider", "type": "register", "host": "sip.example.net",
         "username": "530335500", "password": "Trunk1pass"},
    ],
}  # fmt: skip


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    ConfigService(pbx).apply(DOC)
    yield pbx
    pbx.close()


@pytest.fixture
def admin(pbx: Pbx) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {Tokens(pbx).create()}"}
    with TestClient(create_app(pbx), headers=headers) as client:
        yield client


def insert_broken_trunk(pbx: Pbx) -> None:
    with pbx.engine.begin() as conn:
        conn.execute(
            insert(t.trunks).values(
                name="broken",
                data={"name": "broken", "type": "register", "host": "a..b", "username": "u1"},
                secrets={"password": "Secret123"},
                updated_at=dt.datetime.now(dt.UTC),
            )
        )


def test_a_broken_trunk_does_not_stop_password_and_enabled_changes(
    pbx: Pbx, admin: TestClient, tmp_path: Path
) -> None:
    paths = SipPaths(tmp_path)
    refresher = SnapshotRefresher(pbx, paths)
    refresher.refresh()
    insert_broken_trunk(pbx)
    refresher.refresh()  # the trunk change: a full refresh
    response = admin.patch("/api/v1/extensions/101", json={"sip_password": "NewSecret1x"})
    assert response.status_code == 200, response.text
    response = admin.patch("/api/v1/extensions/102", json={"enabled": False})
    assert response.status_code == 200, response.text
    refresher.refresh()
    snap = Snapshot(str(paths.snapshot)).fresh()
    assert snap.accounts["101"]["password"] == "NewSecret1x"
    assert snap.accounts["102"]["enabled"] is False
    assert not snap.directory.extensions["102"].enabled

    full = build_snapshot(pbx)
    assert set(full["trunks"]) == {"provider"}
    assert full["accounts"]["101"]["password"] == "NewSecret1x"
    assert [row[1] for row in registrations(full["trunks"])] == ["provider"]
    assert paths.uacreg.exists()  # the register trunks were written, the broken one left out
