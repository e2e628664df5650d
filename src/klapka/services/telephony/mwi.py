"""Message-waiting indication: an unsolicited NOTIFY (Event: message-summary, RFC 3842) to
every registered contact of an extension, sent by Kamailio (``tm.t_uac_start`` over its
control socket), so it leaves from the PBX's SIP port and reaches phones behind NAT through
their ``received`` address. Nothing happens when the SIP core is not running."""

from __future__ import annotations

import logging
from pathlib import Path

from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioRpc, RpcError

log = logging.getLogger("klapka.sip")

AOR_DOMAIN = "klapka"


def summary(number: str, new: int, old: int) -> str:
    waiting = "yes" if new else "no"
    return (
        f"Messages-Waiting: {waiting}\r\nMessage-Account: sip:{number}@{AOR_DOMAIN}\r\n"
        f"Voice-Message: {new}/{old} (0/0)\r\n"
    )


def notify_mailbox(data_dir: Path, number: str, new: int, old: int) -> int:
    """Send the mailbox's counts to its registered phones; returns how many were sent to."""
    socket = SipPaths(data_dir / "sip").rpc_socket
    if not socket.exists():
        return 0
    rpc = KamailioRpc(socket, timeout=2.0)
    try:
        found = rpc.call("ul.lookup", "location", number)
    except (OSError, RpcError):
        return 0  # not registered (or the SIP core is not up)
    headers = (
        f"From: <sip:voicemail@{AOR_DOMAIN}>\r\nTo: <sip:{number}@{AOR_DOMAIN}>\r\n"
        "Event: message-summary\r\nSubscription-State: active\r\n"
        "Content-Type: application/simple-message-summary\r\n"
    )
    sent = 0
    for item in (found or {}).get("Contacts", []):
        contact = item.get("Contact", {})
        uri = contact.get("Address")
        received = contact.get("Received")
        if not uri:
            continue
        hop = received if received and received.startswith("sip:") else "."
        socket_name = contact.get("Socket") or "."
        try:
            rpc.call("tm.t_uac_start", "NOTIFY", uri, hop, socket_name, headers,
                     summary(number, new, old))  # fmt: skip
            sent += 1
        except (OSError, RpcError) as e:
            log.warning("MWI to %s failed: %s", uri, e)
    return sent
