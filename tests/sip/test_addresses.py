"""What the SIP core binds and advertises: a wildcard is every address of the machine (never
0.0.0.0 on the wire); a public address is advertised on the addresses of its own family
only, never on loopback."""

from __future__ import annotations

from pathlib import Path

from klapka.services.telephony.sip_paths import SipPaths
from klapka.sip.addresses import listen_addresses, toward
from klapka.sip.kamailio_cfg import render


def test_the_wildcard_is_every_address_of_the_machine_loopback_last() -> None:
    addresses = listen_addresses("0.0.0.0")
    assert "0.0.0.0" not in addresses
    assert addresses[-1] == "127.0.0.1"
    assert all(":" not in a for a in addresses)  # 0.0.0.0 is IPv4 only
    assert listen_addresses("127.0.0.1") == ("127.0.0.1",)


def test_the_address_toward_a_destination_is_the_one_the_kernel_would_send_from() -> None:
    assert toward("127.0.0.1", ("192.0.2.2", "127.0.0.1")) == "127.0.0.1"
    assert toward("sip.provider.test", ("192.0.2.2", "127.0.0.1")) == "192.0.2.2"


def test_a_public_address_is_advertised_on_its_family_only_and_never_on_loopback() -> None:
    cfg = render(SipPaths(Path("/tmp/x")), ("192.0.2.2", "fd00::2", "127.0.0.1"), 5060, 5060,
                 public_address="203.0.113.7")  # fmt: skip
    listens = [line for line in cfg.splitlines() if line.startswith("listen=udp")]
    assert listens == [
        "listen=udp:192.0.2.2:5060 advertise 203.0.113.7:5060",
        "listen=udp:[fd00::2]:5060",
        "listen=udp:127.0.0.1:5060",
    ]
    assert "mhomed=1" in cfg
    assert "0.0.0.0" not in cfg
