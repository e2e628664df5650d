"""SIP NOTIFY ``Event: check-sync``: tell a desk phone to fetch its provisioning file again
(Yealink, Grandstream, Fanvil and snom all do), sent by Kamailio (``tm.t_uac_start`` over
its control socket, as for message waiting) to the registered desk phones of an extension.
A desk phone whose User-Agent or contact names the MAC gets it alone; otherwise every desk
phone of the extension does (most phones do not say their MAC)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from klapka.kemi.classify import classify
from klapka.services.telephony.mwi import AOR_DOMAIN
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioRpc, RpcError

log = logging.getLogger("klapka.sip")


def send_check_sync(data_dir: Path, sip: dict[str, Any], number: str, mac: str) -> int:
    """Send check-sync to ``number``'s registered desk phone ``mac`` (or all its desk phones
    when none names the MAC); returns to how many contacts it was sent. ``sip``: the system's
    SIP settings (which User-Agents are apps). Raises ``SipCoreUnavailable`` when the SIP
    core is not running."""
    socket = SipPaths(data_dir / "sip").rpc_socket
    rpc = KamailioRpc(socket, timeout=2.0)
    try:
        found = rpc.call("ul.lookup", "location", number)
    except RpcError as e:
        if "not found" not in str(e).lower() and "no contacts" not in str(e).lower():
            raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None
        found = None
    except (OSError, ValueError) as e:
        raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None
    desks = []
    for item in (found or {}).get("Contacts") or []:
        c = item.get("Contact", {})
        uri, agent = c.get("Address") or "", c.get("User-Agent") or ""
        if (
            uri
            and c.get("Expires") != "expired"
            and classify(uri, agent, c.get("Socket") or "", sip) == "desk"
        ):
            desks.append(c)
    own = [c for c in desks if names_mac(c, mac)]
    targets = own or desks
    headers = (
        f"From: <sip:provisioning@{AOR_DOMAIN}>\r\nTo: <sip:{number}@{AOR_DOMAIN}>\r\n"
        "Event: check-sync;reboot=false\r\nSubscription-State: terminated\r\n"
    )
    sent = 0
    for c in targets:
        received = c.get("Received") or ""
        hop = received if received.startswith("sip:") else "."
        try:
            rpc.call("tm.t_uac_start", "NOTIFY", c["Address"], hop, c.get("Socket") or ".",
                     headers, "")  # fmt: skip
            sent += 1
        except (OSError, RpcError) as e:
            log.warning("check-sync to %s failed: %s", c["Address"], e)
    return sent


def names_mac(contact: dict[str, Any], mac: str) -> bool:
    text = f"{contact.get('User-Agent', '')} {contact.get('Address', '')}".lower()
    return mac in text.replace(":", "").replace("-", "")
