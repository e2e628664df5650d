"""The addresses the SIP core puts on the wire.

Kamailio bound to the wildcard address (0.0.0.0) writes that address into Via and
Record-Route, where a phone on another machine can send nothing back. So a wildcard listen
address is expanded here into every address of the machine's interfaces, one Kamailio socket
each: a request is answered and record-routed from the address it arrived on, and Kamailio
asks the kernel which of its addresses reaches each destination (``mhomed``). Behind NAT, the
public address (``sip.public_address``) is advertised on every address but loopback.
"""

from __future__ import annotations

import ipaddress
import socket

import ifaddr

WILDCARDS = ("0.0.0.0", "::")


def listen_addresses(listen: str) -> tuple[str, ...]:
    """The addresses to bind: ``listen`` itself, or for a wildcard every interface address
    that can be bound now (IPv4 for 0.0.0.0; IPv6 too for ::, without link-local ones),
    loopback last."""
    if listen not in WILDCARDS:
        return (listen,)
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ipaddress.ip_address(ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip)
            if address.version == 6 and (listen == "0.0.0.0" or address.is_link_local):
                continue
            if address not in found and _bindable(address):
                found.append(address)
    found.sort(key=lambda a: (a.is_loopback, a.version))
    return tuple(str(a) for a in found) or ("127.0.0.1",)


def _bindable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address Kamailio can bind (not one going away, nor an IPv6 one still tentative):
    Kamailio would not start with one it cannot."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


def reachable(addresses: tuple[str, ...]) -> str:
    """The address to give a party we know nothing about: the first one not loopback."""
    return next((a for a in addresses if not ipaddress.ip_address(a).is_loopback), addresses[0])


def toward(host: str, addresses: tuple[str, ...]) -> str:
    """Which of ``addresses`` the kernel sends from to reach ``host`` (an IP address; for a
    name, the first address not loopback). Nothing is sent: a UDP socket is only connected."""
    try:
        target = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return reachable(addresses)
    family = socket.AF_INET6 if target.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(target), 9))
            source = str(probe.getsockname()[0])
    except OSError:
        return reachable(addresses)
    return source if source in addresses else reachable(addresses)


def sip_host(address: str) -> str:
    """An address as the host part of a SIP URI or a Kamailio socket: IPv6 in brackets."""
    return f"[{address}]" if ":" in address else address
