"""The KEMI adapter's voicemail part: calls that the media service takes.

- a ``voicemail`` outcome: the call goes to ``sip:vm-<mailbox>@<media>`` (deposit);
- a ``greeting`` outcome: to ``sip:greet-<mailbox>@<media>`` (greeting, then hang-up);
- the access codes ``*2`` (own mailbox) and ``*3`` + mailbox number (any mailbox, or ``*3``
  alone to be asked for it): to ``sip:vmr-<mailbox>@<media>`` (retrieval, PIN).

Headers tell the media service what Kamailio knows: ``X-Klapka-Mailbox``,
``X-Klapka-Status`` (the extension's effective presence, for its greeting),
``X-Klapka-Caller`` and ``X-Klapka-Caller-Name`` (any such header from outside is removed).
Where the media service listens is in ``media.json`` next to the directory snapshot, written
by the service when it starts. Standard library and ``klapka.routing`` only.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime

import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

from klapka.routing.decision import Outcome
from klapka.routing.model import Call, Directory
from klapka.routing.schedule import effective_presence

OWN_MAILBOX_CODE = "*2"
ANY_MAILBOX_CODE = "*3"
HEADERS = (
    "X-Klapka-Mailbox",
    "X-Klapka-Status",
    "X-Klapka-Caller",
    "X-Klapka-Caller-Name",
    "X-Klapka-Local",
)


class MediaAddress:
    """``host:port`` of the media service, re-read when ``media.json`` changes."""

    def __init__(self, snapshot_path: str) -> None:
        self.path = os.path.join(os.path.dirname(snapshot_path), "media.json")
        self.mtime = -1.0
        self.address: str | None = None

    def get(self) -> str | None:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            self.address = None
            return None
        if mtime != self.mtime:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            self.address = f"{data['host']}:{int(data['port'])}"
            self.mtime = mtime
        return self.address


def access(call: Call, media: MediaAddress, directory: Directory) -> bool:
    """A retrieval access code: the call goes to the media service (True), or is refused."""
    if call.kind != "internal" or not call.dialled.startswith(("*2", "*3")):
        return False
    if call.dialled == OWN_MAILBOX_CODE:
        target = f"vmr-{call.caller}"
    elif call.dialled.startswith(ANY_MAILBOX_CODE) and call.dialled[2:].isdigit():
        target = f"vmr-{call.dialled[2:]}"
    elif call.dialled == ANY_MAILBOX_CODE:
        target = "vmr"
    else:
        return False
    KSR.info(f"klapka: voicemail access {call.dialled} by {call.caller}\n")
    _relay(target, call, directory, media, None, in_failure=False)
    return True


def relay(outcome: Outcome, call: Call, directory: Directory, media: MediaAddress,
          in_failure: bool) -> bool:  # fmt: skip
    """A voicemail or greeting outcome sent to the media service; False when it is not
    running (the caller then gets the adapter's plain answer)."""
    if outcome.result not in ("voicemail", "greeting") or not outcome.mailbox:
        return False
    kind = "vm" if outcome.result == "voicemail" else "greet"
    return _relay(f"{kind}-{outcome.mailbox}", call, directory, media, outcome.mailbox,
                  in_failure)  # fmt: skip


def _relay(target: str, call: Call, directory: Directory, media: MediaAddress,
           mailbox: str | None, in_failure: bool) -> bool:  # fmt: skip
    address = media.get()
    if address is None:
        return False
    for name in HEADERS:
        KSR.hdr.remove(name)
    # The PBX's own address the call came in on: the media service answers audio there.
    headers = {"X-Klapka-Caller": call.caller, "X-Klapka-Local": KSR.pv.get("$Ri") or ""}
    caller_ext = directory.extensions.get(call.caller) if call.kind == "internal" else None
    name = caller_ext.name if caller_ext is not None else (KSR.pv.get("$fn") or "")
    if name:
        headers["X-Klapka-Caller-Name"] = name.replace("\r", " ").replace("\n", " ")[:100]
    ext = directory.extensions.get(mailbox) if mailbox else None
    if mailbox:
        headers["X-Klapka-Mailbox"] = mailbox
    if ext is not None:
        status, _why = effective_presence(ext, directory, datetime.now(UTC))
        headers["X-Klapka-Status"] = status
    for key, value in headers.items():
        KSR.hdr.append(f"{key}: {value}\r\n")
    KSR.pv.sets("$ru", f"sip:{target}@{address}")
    KSR.pv.sets("$du", f"sip:{address}")
    KSR.pv.unset("$avp(kl_cursor)")
    KSR.info(f"klapka: to the media service: {target}\n")
    # A caller the media service cannot hear as it is (a browser, SRTP, behind NAT): the
    # branch route anchors the call in the media relay, the reply route takes its answer.
    KSR.tm.t_on_branch("ksr_branch_route")
    KSR.tm.t_on_reply("ksr_onreply_route")
    if KSR.tm.t_relay() < 0:
        if in_failure:
            KSR.tm.t_reply(500, "Media service unreachable")
        else:
            KSR.sl.send_reply(500, "Media service unreachable")
    return True


_events: socket.socket | None = None  # one per Kamailio worker process


def missed(media: MediaAddress, directory: Directory, reason: str) -> None:
    """A call to an extension ended unanswered and not in voicemail: tell the media service
    (it sends the missed-call email when the extension wants one). One loopback datagram,
    never waited for."""
    address = media.get()
    text = KSR.pv.get("$avp(kl_call)")
    if address is None or not text:
        return
    caller, dialled, at, kind, _path = json.loads(text)
    if dialled not in directory.extensions:
        return  # a ring group, a queue, a route: no one extension missed it
    caller_ext = directory.extensions.get(caller) if kind == "internal" else None
    name = caller_ext.name if caller_ext is not None else (KSR.pv.get("$fn") or "")
    event = {"event": "missed_call", "extension": dialled, "caller": caller,
             "caller_name": name, "at": at, "reason": reason}  # fmt: skip
    _send(address, event)


def registered(media: MediaAddress, extension: str) -> None:
    """A phone of ``extension`` registered: the media service sends it the mailbox's
    message-waiting state (NOTIFY), so its lamp is right from the start."""
    address = media.get()
    if address is not None:
        _send(address, {"event": "registered", "extension": extension})


def _send(address: str, event: dict[str, str]) -> None:
    global _events
    host, _, port = address.rpartition(":")
    try:
        if _events is None:
            _events = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            _events.setblocking(False)
        _events.sendto(json.dumps(event).encode(), (host, int(port)))
    except OSError as e:
        KSR.warn(f"klapka: {event['event']} event not sent: {e}\n")
