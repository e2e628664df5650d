"""Live registrations from the SIP core (Kamailio's usrloc), per extension."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from klapka.domain.problems import KlapkaError, NotFound
from klapka.domain.references import Kind
from klapka.kemi import registration_rules as rules
from klapka.kemi.classify import classify
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioFifoRpc, KamailioRpc, RpcError
from klapka.store.database import data_dir


class SipCoreUnavailable(KlapkaError):
    """The SIP core is not running (``klapka serve --no-sip``, or Kamailio is down)."""


class Registrations:
    def __init__(
        self, pbx: Pbx, paths: SipPaths | None = None, principal: Principal = SYSTEM
    ) -> None:
        self.pbx = pbx
        self.principal = principal
        self.paths = paths or SipPaths(data_dir() / "sip")

    def _contacts(self, number: str) -> list[dict[str, Any]]:
        """The live contacts of one address of record (``ul.lookup``; expired ones, which
        usrloc keeps until its next timer run, and contacts that stopped answering their
        pings left out)."""
        try:
            found = KamailioRpc(self.paths.rpc_socket, timeout=2).call(
                "ul.lookup", "location", number
            )
        except RpcError as e:
            if "not found" in str(e).lower() or "no contacts" in str(e).lower():
                return []
            raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None
        except (OSError, ValueError) as e:
            raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None
        contacts = [c["Contact"] for c in (found or {}).get("Contacts") or []]
        return [c for c in contacts if c.get("Expires") != "expired"]

    def registered(self, timeout: float) -> set[str]:
        """The addresses of record with a contact (``ul.dump brief``: 10,000 of them in
        about 0.2 s, where the full dump takes 1.6 s). A contact that just expired counts
        until usrloc's timer removes it (within 10 s)."""
        try:
            dump = KamailioFifoRpc(self.paths.rpc_fifo, timeout=timeout).call("ul.dump", "brief")
        except (OSError, RpcError, ValueError) as e:
            raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None
        return {
            aor["AoR"]
            for domain in (dump or {}).get("Domains") or []
            for aor in domain["Domain"].get("AoRs") or []
            if aor.get("AoR")
        }

    @admin_only
    def of(self, number: str) -> list[dict[str, Any]]:
        """The extension's registered contacts: contact, class, user agent, source, expiry."""
        with self.pbx.tx() as repo:
            if repo.id_of(Kind.EXTENSION, number) is None:
                raise NotFound("extension", number)
            system = repo.system()[0]
        sip = system.sip.model_dump()
        out = []
        for c in self._contacts(number):
            socket = c.get("Socket", "")
            received = c.get("Received", "")
            address = c.get("Address", "")
            out.append(
                {
                    "contact": address,
                    "endpoint": classify(address, c.get("User-Agent", ""), socket, sip),
                    "user_agent": c.get("User-Agent", ""),
                    "source": received if received and received != "[not set]" else address,
                    "transport": _transport(socket, address),
                    "expires": c.get("Expires"),
                }
            )
        return out

    def unregister_not_allowed(
        self, number: str, account: Mapping[str, Any], sip: dict[str, Any]
    ) -> int:
        """Remove the extension's contacts that its SIP ``account`` (the snapshot's) no
        longer allows: a client turned off, a source outside ``allowed_ips``, a User-Agent
        without ``user_agent_prefix``, a transport below ``transport``. They stop ringing
        now, not when their registration expires (their next REGISTER is refused). Returns
        how many were removed."""
        removed = 0
        for c in self._contacts(number):
            if not contact_allowed(c, account, sip):
                address = c.get("Address", "")
                KamailioRpc(self.paths.rpc_socket, timeout=2).call(
                    "ul.rm_contact", "location", number, address
                )
                removed += 1
        return removed

    def statuses(self, numbers: Iterable[str]) -> dict[str, str]:
        """The live status of each of ``numbers``: ``unregistered``, ``registered``,
        ``ringing`` (a call rings one of its phones), ``in_call`` (it is in a call, calling
        out included), or ``unknown`` when the SIP core is not running.

        Two RPC calls whatever the number of extensions: ``ul.dump brief`` (who has a
        contact) and ``dlg.list`` (the calls: the ``incall`` profile names who is in each,
        the dialog variable ``kl_ringing`` whom a call that is not answered yet rings).
        """
        numbers = list(numbers)
        try:
            registered = self.registered(timeout=STATUS_TIMEOUT)
            rpc = KamailioFifoRpc(self.paths.rpc_fifo, timeout=STATUS_TIMEOUT)
            dialogs = rpc.call("dlg.list")
        except (SipCoreUnavailable, OSError, RpcError, ValueError):
            return dict.fromkeys(numbers, "unknown")
        live = live_statuses(registered, dialogs)
        return {n: live.get(n, "unregistered") for n in numbers}


def contact_allowed(
    contact: Mapping[str, Any], account: Mapping[str, Any], sip: dict[str, Any]
) -> bool:
    """Whether a registered contact (as ``ul.lookup`` gives it) is one the account allows:
    its class not turned off, its source (where it registered from: ``Received``, else the
    Contact's host) in ``allowed_ips``, its User-Agent with ``user_agent_prefix``, its
    transport allowed by ``transport``."""
    address = contact.get("Address", "")
    socket = contact.get("Socket", "")
    agent = contact.get("User-Agent", "")
    if classify(address, agent, socket, sip) in (account.get("clients_off") or ()):
        return False
    if not rules.agent_allowed(agent, account.get("user_agent_prefix")):
        return False
    if rules.transport_refused(account.get("transport"), _transport(socket, address)):
        return False
    received = contact.get("Received", "")
    source = _host(received if received and received != "[not set]" else address)
    return rules.address_allowed(source, account.get("allowed_ips") or ())


def _host(uri: str) -> str:
    """The host of a SIP URI (``sip:101@192.0.2.7:5060;transport=tcp`` -> ``192.0.2.7``)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split(">", 1)[0]
    if rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest[1:]
    return rest.split(":", 1)[0]


def _transport(socket: str, contact: str) -> str:
    """udp, tcp, tls; ws or wss for a browser (its socket is Kamailio's TCP or TLS one)."""
    transport = socket.split(":", 1)[0] if socket else "udp"
    if "transport=ws" in contact.lower():  # browsers put transport=ws (or wss) in the Contact
        return "wss" if transport == "tls" else "ws"
    return transport


STATUS_TIMEOUT = 0.5  # seconds; a hung SIP core must not hold the extension list up

# Dialog states (Kamailio's dialog module): 1 unconfirmed, 2 early, 3 confirmed, 4 confirmed
# and acknowledged, 5 deleted.
_RINGING_STATES = (1, 2)
_LIVE_STATES = (1, 2, 3, 4)


def live_statuses(registered: set[str], dialogs: Any) -> dict[str, str]:
    """Status per extension that is registered or in a call, from Kamailio's RPC answers."""
    status = dict.fromkeys(registered, "registered")
    ringing: set[str] = set()
    in_call: set[str] = set()
    for dialog in dialogs or []:
        state = dialog.get("state")
        if state not in _LIVE_STATES:
            continue
        for profile in dialog.get("profiles") or []:
            if profile.get("incall"):  # "<extension>|<contact>"
                in_call.add(profile["incall"].split("|", 1)[0])
        if state in _RINGING_STATES:
            for variable in dialog.get("variables") or []:
                ringing.update(n for n in (variable.get("kl_ringing") or "").split(",") if n)
    status.update(dict.fromkeys(ringing, "ringing"))
    status.update(dict.fromkeys(in_call, "in_call"))
    return status
