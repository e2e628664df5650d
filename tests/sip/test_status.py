"""The extension list shows each extension's live SIP status from Kamailio."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pbx4sip import Pbx4Sip
from sipp import Result

from klapka.api.app import create_app
from klapka.services.accounts.tokens import Tokens
from klapka.services.telephony.sip_rpc import KamailioFifoRpc, KamailioRpc

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103")}
DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": pw} for n, pw in PASSWORDS.items()],
}


@pytest.fixture
def api(sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(sip.core.paths.root.parent))
    token = Tokens(sip.pbx).create()
    with TestClient(create_app(sip.pbx), headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def statuses(api: TestClient) -> dict[str, str]:
    page = api.get("/api/v1/extensions").json()
    return {item["number"]: item["status"] for item in page["items"]}


def wait_for(api: TestClient, expected: dict[str, str], timeout: float = 10) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        seen = statuses(api)
        if all(seen.get(n) == s for n, s in expected.items()):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {expected}, the list shows {seen}")
        time.sleep(0.1)


def test_status_follows_registration_ringing_and_the_call(sip: Pbx4Sip, api: TestClient) -> None:
    sip.apply(DOC)
    assert statuses(api) == dict.fromkeys(PASSWORDS, "unregistered")

    callee = sip.sipp.phone("102", PASSWORDS["102"], "answer", ring_ms=5000)
    try:
        wait_for(api, {"101": "unregistered", "102": "registered", "103": "unregistered"})
        result: list[Result] = []
        caller = threading.Thread(
            target=lambda: result.append(
                sip.sipp.call("101", PASSWORDS["101"], "102", expect=200, talk_ms=4000)
            )
        )
        caller.start()
        # While 102 rings (it answers after 5 s), the caller is in a call and 102 is ringing.
        seen = wait_for(api, {"102": "ringing"}, timeout=10)
        assert seen == {"101": "in_call", "102": "ringing", "103": "unregistered"}
        assert api.get("/api/v1/extensions/102/status").json() == {"status": "ringing"}
        # Answered: both are in the call (4 s of talk).
        seen = wait_for(api, {"102": "in_call"}, timeout=10)
        assert seen == {"101": "in_call", "102": "in_call", "103": "unregistered"}
        assert api.get("/api/v1/extensions/102/status").json() == {"status": "in_call"}
        caller.join(30)
        assert result and result[0].ok, result[0].output if result else "no result"
        assert callee.finish().ok
        # Hung up: registered again, nobody in a call.
        wait_for(api, {"101": "unregistered", "102": "registered", "103": "unregistered"})
    finally:
        callee.stop()


def test_one_page_asks_the_sip_core_twice_whatever_its_size(
    sip: Pbx4Sip, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = {
        "version": 1,
        "extensions": [{"number": str(n), "sip_password": f"Secret{n}ab"} for n in range(200, 400)],
    }
    sip.apply(many)
    assert sip.sipp.register("250", "Secret250ab").ok
    calls: list[str] = []
    for rpc_class in (KamailioFifoRpc, KamailioRpc):  # counted, and still made
        real_call = rpc_class.call

        def counted(self: object, method: str, *params: object, real: Any = real_call) -> object:
            if "_watch" not in threading.current_thread().name:  # not the SIP core's pollers
                calls.append(method)
            return real(self, method, *params)

        monkeypatch.setattr(rpc_class, "call", counted)
    page = api.get("/api/v1/extensions", params={"limit": 200}).json()
    assert len(page["items"]) == 200
    assert {i["number"]: i["status"] for i in page["items"]}["250"] == "registered"
    assert sum(i["status"] == "registered" for i in page["items"]) == 1
    # Not one per row.
    assert sorted(c for c in calls if c.startswith(("ul.", "dlg."))) == ["dlg.list", "ul.dump"]


def test_the_status_and_registrations_hold_with_many_registered_extensions(
    sip: Pbx4Sip, api: TestClient
) -> None:
    """1,500 registered extensions; the RPC FIFO carries answers no datagram can."""
    sip.apply(
        {
            "version": 1,
            "extensions": [
                {"number": str(n), "sip_password": f"Secret{n}ab"} for n in range(2000, 3500)
            ],
        }
    )
    for n in range(2000, 3500):
        sip.rpc.call(
            "ul.add", "location", str(n), f"sip:{n}@127.0.0.1:5000", 3600, 1.0, "", 0, 0, 0
        )
    page = api.get("/api/v1/extensions", params={"limit": 500, "offset": 1000}).json()
    assert [i["status"] for i in page["items"]] == ["registered"] * 500
    regs = api.get("/api/v1/extensions/3499/registrations").json()
    assert [r["contact"] for r in regs] == ["sip:3499@127.0.0.1:5000"]
    # The full dump is about 1.3 MB: over a datagram's 128 KB, whole over the FIFO.
    fifo = KamailioFifoRpc(sip.core.paths.rpc_fifo, timeout=10)
    assert len(fifo.call("ul.dump")["Domains"][0]["Domain"]["AoRs"]) == 1500
    with pytest.raises(OSError):  # the datagram answer never comes
        KamailioRpc(sip.core.paths.rpc_socket, timeout=3).call("ul.dump")
