"""The extension list's live SIP status when the SIP core is not running."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


def test_without_the_sip_core_the_status_is_unknown_and_the_list_stays_fast(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "no-sip-here"))
    doc = {"version": 1, "extensions": [{"number": str(n)} for n in range(200, 250)]}
    assert client.put("/api/v1/config", json=doc).status_code == 200
    started = time.monotonic()
    page = client.get("/api/v1/extensions", params={"limit": 50}).json()
    elapsed = time.monotonic() - started
    assert [i["status"] for i in page["items"]] == ["unknown"] * 50
    assert elapsed < 1.0
    assert client.get("/api/v1/extensions/201/status").json() == {"status": "unknown"}
    assert client.get("/api/v1/extensions/999/status").status_code == 404


def test_a_stale_control_fifo_is_unknown_too(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kamailio died and left its RPC FIFO: nobody reads it, the list does not wait."""
    import os

    sip_dir = tmp_path / "data" / "sip"
    sip_dir.mkdir(parents=True)
    os.mkfifo(sip_dir / "kamailio_rpc.fifo")
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "data"))
    doc = {"version": 1, "extensions": [{"number": "101"}]}
    assert client.put("/api/v1/config", json=doc).status_code == 200
    started = time.monotonic()
    page = client.get("/api/v1/extensions").json()
    assert page["items"][0]["status"] == "unknown"
    assert time.monotonic() - started < 1.0
