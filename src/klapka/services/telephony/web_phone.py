"""The portal's browser phone: what the signed-in user's browser needs to register their
own extension over SIP over WebSocket (RFC 7118) and make and take its calls (WebRTC; the
media relay bridges it to phones, ``klapka.kemi.anchor``)."""

from __future__ import annotations

import json
from typing import Any

from klapka.domain.extension import Extension
from klapka.domain.problems import Forbidden
from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.telephony.sip_paths import SipPaths
from klapka.store.database import data_dir


def websocket_ports(sip: SipPaths) -> dict[str, int | None]:
    """The SIP core's WebSocket ports as it was started with them (None: off, or the SIP
    core never started)."""
    try:
        ports = json.loads(sip.websocket.read_text())
    except (OSError, ValueError):
        return {"ws": None, "wss": None}
    return {k: int(ports[k]) if ports.get(k) else None for k in ("ws", "wss")}


def settings_for(pbx: Pbx, principal: Principal, sip: SipPaths | None = None) -> dict[str, Any]:
    """The user's own extension's SIP account for their browser: its SIP user name and
    password, display name and the WebSocket ports. Refused for a principal without an
    extension, a disabled extension, or one whose web client is turned off."""
    number = principal.extension
    if number is None:
        raise Forbidden("the browser phone belongs to an extension's user")
    ext = Objects(pbx).get_model(Kind.EXTENSION, number)
    assert isinstance(ext, Extension)
    if not ext.enabled:
        raise Forbidden(f"extension {number} is disabled")
    if not ext.clients.web_client:
        raise Forbidden(f"the browser phone is turned off for extension {number} "
                        "(clients.web_client)")  # fmt: skip
    with pbx.tx() as repo:
        system = repo.system()[0]
    return {
        "extension": number,
        "display_name": ext.effective_caller_id_name,
        "username": ext.effective_sip_username,
        "password": ext.sip_password or "",
        "domain": system.sip.domain,  # "": the host the browser reached klapka by
        **websocket_ports(sip or SipPaths(data_dir() / "sip")),
    }
