"""Message-waiting indication (Event: message-summary, RFC 3842), sent by Kamailio over its
control socket, so it leaves from the PBX's SIP port and reaches phones behind NAT through
their ``received`` address. Nothing happens when the SIP core is not running.

- Phones that subscribe to their mailbox get a NOTIFY within their subscription: the counts
  are PUBLISHed to the SIP core's presence module (``pua.send_publish``), which notifies
  every subscriber.
- Every registered contact also gets an unsolicited NOTIFY (``tm.t_uac_start``), for the
  phones that never subscribe."""

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


MWI_EXPIRES = 86400  # the published counts; pua refreshes them before they run out


def publish(
    rpc: KamailioRpc, number: str, event: str, content_type: str, body: str, expires: int
) -> None:
    """Publish a state of extension ``number`` (``sip:<number>@klapka``) to the SIP core's
    presence module, which NOTIFYs its subscribers. Raises RpcError when Kamailio runs
    without the presence modules (or refuses), OSError when it does not answer."""
    rpc.call("pua.send_publish", f"sip:{number}@{AOR_DOMAIN}", str(expires), event,
             content_type, ".", ".", ".", ".", body)  # fmt: skip


def notify_mailbox(data_dir: Path, number: str, new: int, old: int) -> int:
    """Send the mailbox's counts to its subscribers and its registered phones; returns how
    many contacts the unsolicited NOTIFY was sent to."""
    socket = SipPaths(data_dir / "sip").rpc_socket
    if not socket.exists():
        return 0
    rpc = KamailioRpc(socket, timeout=2.0)
    try:
        publish(rpc, number, "message-summary", "application/simple-message-summary",
                summary(number, new, old), MWI_EXPIRES)  # fmt: skip
    except (OSError, RpcError) as e:
        log.debug("MWI of %s not published: %s", number, e)  # no presence modules
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
