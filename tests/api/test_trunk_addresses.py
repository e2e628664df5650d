"""Addresses where SIP (and email) is sent are checked when they are written: a host name
(RFC 1123 labels), an IPv4 address, an IPv6 address bare or in brackets, and where a port may
follow, 1..65535. A trunk that is stored broken anyway (by hand, by an older version) shows
as an error in the trunk status; the others keep theirs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_checks import check, problems
from sqlalchemy import insert

from klapka.services.pbx import Pbx
from klapka.store import tables as t

HOST_RULE = "must be a host name (dot-separated labels of letters, digits and -) or an IP address"
PEER = {"name": "carrier", "type": "peer", "qualify": False}


@pytest.mark.parametrize(
    "host",
    ["a..b", ".example.net", "example.net.", "-sip.example.net", "sip-.example.net",
     "sip_1.example.net", "999.1.1.1", "192.0.2.1:5060", "[192.0.2.1]", "[2001:db8::1",
     "sip.example.net/x", "a" * 64 + ".example.net", "sip example.net"],
)  # fmt: skip
def test_a_trunk_host_that_is_no_host_name_or_ip_address_is_refused(
    client: TestClient, host: str
) -> None:
    found = problems(client.post("/api/v1/trunks", json={**PEER, "host": host}))
    assert found == [f"host: {HOST_RULE} (the port goes in its own setting)"]
    assert check(client.get("/api/v1/trunks"))["total"] == 0


@pytest.mark.parametrize(
    "host", ["sip.example.net", "SIP-1.Example.NET", "localhost", "192.0.2.10", "2001:db8::1",
             "[2001:db8::1]", "1.example.net"],
)  # fmt: skip
def test_host_names_and_ip_addresses_are_accepted(client: TestClient, host: str) -> None:
    check(client.post("/api/v1/trunks", json={**PEER, "host": host}), 201)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("domain", "a..b", f"{HOST_RULE}, optionally with :port"),
        ("domain", "sip.example.net:0", "the port after : must be 1..65535"),
        ("domain", "sip.example.net:65536", "the port after : must be 1..65535"),
        ("domain", "[2001:db8::1]:x", "the port after : must be 1..65535"),
        ("outbound_proxy", "proxy..example.net", f"{HOST_RULE}, optionally with sip: before "
                                                  "it, :port and ;transport=udp|tcp|tls"),
        ("outbound_proxy", "proxy.example.net:99999", "the port after : must be 1..65535"),
        ("outbound_proxy", "sip:proxy.example.net;maddr=x",
         "unknown parameter ;maddr=x (allowed: ;transport=udp|tcp|tls, ;lr)"),
        ("port", 0, "must be 1..65535"),
        ("port", 65536, "must be 1..65535"),
    ],
)  # fmt: skip
def test_trunk_domain_proxy_and_port_are_checked(
    client: TestClient, field: str, value: Any, rule: str
) -> None:
    trunk = {**PEER, "host": "sip.example.net", field: value}
    assert problems(client.post("/api/v1/trunks", json=trunk)) == [f"{field}: {rule}"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "sip.example.net:5080"),
        ("domain", "[2001:db8::1]:5060"),
        ("outbound_proxy", "proxy.example.net"),
        ("outbound_proxy", "192.0.2.1:5070"),
        ("outbound_proxy", "sip:proxy.example.net:5060;transport=tcp;lr"),
        ("outbound_proxy", "[2001:db8::1]:5060"),
    ],
)
def test_trunk_domain_and_proxy_with_a_port(client: TestClient, field: str, value: str) -> None:
    check(
        client.post("/api/v1/trunks", json={**PEER, "host": "sip.example.net", field: value}), 201
    )


def test_a_changed_trunk_host_is_checked_too(client: TestClient) -> None:
    check(client.post("/api/v1/trunks", json={**PEER, "host": "sip.example.net"}), 201)
    assert problems(client.patch("/api/v1/trunks/carrier", json={"host": "a..b"})) == [
        f"host: {HOST_RULE} (the port goes in its own setting)"
    ]
    assert check(client.get("/api/v1/trunks/carrier"))["host"] == "sip.example.net"


def test_the_configuration_document_names_the_trunk_and_field(client: TestClient) -> None:
    document = {
        "version": 1,
        "extensions": [{"number": "101"}],
        "trunks": [
            {**PEER, "host": "sip.example.net"},
            {**PEER, "name": "backup", "host": "a..b", "outbound_proxy": "x:0"},
        ],
        "system": {"smtp": {"host": "smtp..example.com"}, "sip": {"domain": "pbx..example"}},
    }
    assert sorted(problems(client.put("/api/v1/config", json=document))) == [
        f"system.sip.domain: {HOST_RULE} (the port goes in its own setting)",
        f"system.smtp.host: {HOST_RULE} (the port goes in its own setting)",
        f"trunks[1].host: {HOST_RULE} (the port goes in its own setting)",
        "trunks[1].outbound_proxy: the port after : must be 1..65535",
    ]
    assert check(client.get("/api/v1/trunks"))["total"] == 0


def test_system_addresses_are_checked(client: TestClient) -> None:
    assert problems(client.patch("/api/v1/system", json={"smtp": {"host": "mail..x"}})) == [
        f"smtp.host: {HOST_RULE} (the port goes in its own setting)"
    ]
    assert problems(client.patch("/api/v1/system", json={"sip": {"domain": "-pbx.x"}})) == [
        f"sip.domain: {HOST_RULE} (the port goes in its own setting)"
    ]
    check(client.patch("/api/v1/system", json={"sip": {"domain": "pbx.example.com"}}))


def insert_broken_trunk(pbx: Pbx, name: str = "broken") -> None:
    """A trunk the API would refuse, written straight into the database."""
    with pbx.engine.begin() as conn:
        conn.execute(
            insert(t.trunks).values(
                name=name,
                data={"name": name, "type": "register", "host": "a..b", "username": "u1"},
                secrets={"password": "Secret123"},
                updated_at=dt.datetime.now(dt.UTC),
            )
        )


def test_trunk_status_shows_a_broken_trunk_as_an_error_and_the_others(
    client: TestClient, pbx: Pbx
) -> None:
    check(client.post("/api/v1/trunks", json={**PEER, "host": "192.0.2.10"}), 201)
    insert_broken_trunk(pbx)
    found = check(client.get("/api/v1/trunk-status"))
    assert found[0]["name"] == "broken"
    assert found[0]["status"] == "error"
    assert found[0]["detail"].startswith("invalid settings: host: must be a host name")
    assert found[1] == {"name": "carrier", "type": "peer", "status": "not_monitored"}
    one = check(client.get("/api/v1/trunks/broken/status"))
    assert one["status"] == "error"
