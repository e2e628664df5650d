"""Who may fetch a phone's file: its own credentials or the extension's number and
voicemail PIN; unknown MACs and wrong credentials are refused, counted per address,
audited, and never logged with a secret."""

from __future__ import annotations

import base64
import logging

import pytest
from fastapi.testclient import TestClient
from helpers import (
    AGENTS,
    SNOM_MAC,
    UNKNOWN_MAC,
    YEALINK_MAC,
    cfg,
    company,
    credentials,
    digest,
    ok,
)

from klapka.services.provisioning.credentials import MAX_FAILURES

URL = f"/provisioning/{YEALINK_MAC}.cfg"


@pytest.fixture
def phones(client: TestClient, anonymous: TestClient) -> TestClient:
    company(client)
    return anonymous


def audit(client: TestClient, action: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = ok(
        client.get("/api/v1/audit", params={"action": action, "limit": 500})
    ).json()["items"]
    return items


def test_the_extension_number_and_voicemail_pin_sign_a_phone_in(phones: TestClient) -> None:
    c = cfg(ok(phones.get(URL, auth=("101", "4711"))).text)
    assert c["account.1.user_name"] == "101"
    # Digest too.
    challenge = phones.get(URL).headers.get_list("www-authenticate")[0]
    response = phones.get(URL, headers={"Authorization": digest("101", "4711", challenge, URL)})
    assert response.status_code == 200


def test_another_extensions_pin_does_not(phones: TestClient, client: TestClient) -> None:
    ok(client.patch("/api/v1/extensions/102", json={"voicemail": {"pin": "1234"}}))
    assert phones.get(URL, auth=("102", "1234")).status_code == 401
    # Nor another phone's own credentials.
    other = credentials(client, SNOM_MAC)
    assert phones.get(URL, auth=(other["username"], other["password"])).status_code == 401


def test_a_stale_or_forged_digest_nonce_is_refused(phones: TestClient, client: TestClient) -> None:
    creds = credentials(client, YEALINK_MAC)
    forged = 'Digest realm="klapka provisioning", nonce="5f5e100.000000000000000000000000"'
    auth = digest(creds["username"], creds["password"], forged, URL)
    assert phones.get(URL, headers={"Authorization": auth}).status_code == 401


def test_an_unknown_mac_is_a_404_and_in_the_audit_log(
    phones: TestClient, client: TestClient
) -> None:
    response = phones.get(f"/provisioning/{UNKNOWN_MAC}.cfg", auth=("101", "4711"))
    assert response.status_code == 404
    [entry] = audit(client, "provisioning_failed")
    assert entry["kind"] == "phone" and entry["key"] == UNKNOWN_MAC
    assert entry["source_ip"] == "testclient"
    assert {"path": "reason", "before": None, "after": "unknown MAC address"} in entry["changes"]  # type: ignore[operator]


def test_a_request_without_credentials_is_challenged_not_counted(
    phones: TestClient, client: TestClient
) -> None:
    for _ in range(MAX_FAILURES + 2):
        assert phones.get(URL, headers={"User-Agent": AGENTS["yealink"]}).status_code == 401
    assert audit(client, "provisioning_failed") == []
    assert phones.get(URL, auth=("101", "4711")).status_code == 200


def test_failed_attempts_are_rate_limited_per_address_and_audited(
    phones: TestClient, client: TestClient
) -> None:
    for i in range(MAX_FAILURES):
        assert phones.get(URL, auth=("101", f"99{i:02d}")).status_code == 401
    blocked = phones.get(URL, auth=("101", "4711"))  # right, but too late
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    failed = audit(client, "provisioning_failed")
    assert len(failed) == MAX_FAILURES
    assert {"path": "user", "before": None, "after": "101"} in failed[0]["changes"]  # type: ignore[operator]
    blocks = audit(client, "provisioning_blocked")
    assert sorted((b["kind"], b["key"]) for b in blocks) == [
        ("phone", YEALINK_MAC), ("provisioning_source", "testclient"),
    ]  # fmt: skip
    # Another address is not blocked for another phone (KLAPKA_TRUST_PROXY: the
    # X-Forwarded-For hop) ...
    with pytest.MonkeyPatch.context() as m:
        m.setenv("KLAPKA_TRUST_PROXY", "1")
        hop = {"X-Forwarded-For": "192.0.2.7"}
        snom = credentials(client, SNOM_MAC)
        other = phones.get(
            f"/provisioning/{SNOM_MAC}.xml", auth=(snom["username"], snom["password"]), headers=hop
        )
        assert other.status_code == 200
        # ... but the phone whose PIN was being guessed is, from every address: guesses
        # spread over many addresses get no further than from one.
        assert phones.get(URL, auth=("101", "4711"), headers=hop).status_code == 429


def test_no_secret_reaches_the_log_or_the_audit_log(
    phones: TestClient, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = credentials(client, YEALINK_MAC)
    wrong = "Wrong-Pass-1"
    basic = base64.b64encode(f"101:{wrong}".encode()).decode()
    assert phones.get(URL, headers={"Authorization": f"Basic {basic}"}).status_code == 401
    assert phones.get(URL, auth=("101", "4711")).status_code == 200
    assert phones.get(URL, auth=(creds["username"], creds["password"])).status_code == 200
    logged = caplog.text
    entries = str(audit(client, "provisioning_failed"))
    for secret in (wrong, basic, "4711", creds["password"], "Sip-Secret-101x"):
        assert secret not in logged
        assert secret not in entries
    assert "wrong credentials" in logged


def test_phone_credentials_are_for_admins_only(client: TestClient, anonymous: TestClient) -> None:
    company(client)
    url = f"/api/v1/extensions/101/phones/{YEALINK_MAC}/provisioning"
    assert anonymous.get(url).status_code == 401
    assert (
        client.get(f"/api/v1/extensions/101/phones/{UNKNOWN_MAC}/provisioning").status_code == 404
    )
    assert (
        client.get(f"/api/v1/extensions/102/phones/{YEALINK_MAC}/provisioning").status_code == 404
    )
    creds = credentials(client, "80-5E-C0-12-34-01")
    assert creds["username"] == YEALINK_MAC and len(creds["password"]) == 20
    # The extension's settings hold no provisioning secret.
    assert creds["password"] not in client.get("/api/v1/extensions/101").text


def test_unknown_file_names_are_404_and_not_counted(phones: TestClient, client: TestClient) -> None:
    for name in ("boot.cfg", f"{YEALINK_MAC}-local.cfg", "../klapka.db", "cfg.xml"):
        assert phones.get(f"/provisioning/{name}").status_code == 404
    assert audit(client, "provisioning_failed") == []


def test_an_unknown_phone_that_retries_counts_once_a_scan_of_macs_blocks(
    phones: TestClient, client: TestClient
) -> None:
    # A phone not yet in the directory retries: one failure, one audit entry per window,
    # and the phones behind the same address are not blocked.
    for _ in range(MAX_FAILURES + 5):
        assert phones.get(f"/provisioning/{UNKNOWN_MAC}.cfg").status_code == 404
    assert len(audit(client, "provisioning_failed")) == 1
    assert phones.get(URL, auth=("101", "4711")).status_code == 200
    # Many different MACs from one address: a scan, blocked.
    for i in range(MAX_FAILURES):
        phones.get(f"/provisioning/0011223344{i:02x}.cfg")
    assert phones.get(URL, auth=("101", "4711")).status_code == 429


def test_a_digest_answer_for_one_file_does_not_open_another(
    phones: TestClient, client: TestClient
) -> None:
    creds = credentials(client, YEALINK_MAC)
    challenge = phones.get(URL).headers.get_list("www-authenticate")[0]
    auth = digest(creds["username"], creds["password"], challenge, URL)
    assert phones.get(URL, headers={"Authorization": auth}).status_code == 200
    book = f"/provisioning/phonebook/{YEALINK_MAC}.xml"
    assert phones.get(book, headers={"Authorization": auth}).status_code == 401
