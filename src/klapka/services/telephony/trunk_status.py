"""Trunk status, live: register trunks from Kamailio's uac registrations, peer trunks by
an OPTIONS ping (qualify).

Statuses: ``disabled``, ``registering``, ``registered``, ``registration_failed``,
``auth_failed`` (register trunks); ``reachable``, ``unreachable``, ``not_monitored`` (peer
trunks without qualify).
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from typing import Any

from klapka.domain.directory import Trunk, TrunkType
from klapka.domain.problems import NotFound
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.services.telephony.sip_directory import load_trunks_checked, resolve, trunk_uuid
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioRpc, RpcError
from klapka.store.database import data_dir

log = logging.getLogger(__name__)

_ONLINE = 1 << 2
_ONGOING = 1 << 1
_AUTH_CODES = (401, 403, 407)


class TrunkStatus:
    def __init__(
        self, pbx: Pbx, paths: SipPaths | None = None, principal: Principal = SYSTEM
    ) -> None:
        self.pbx = pbx
        self.principal = principal
        self.paths = paths or SipPaths(data_dir() / "sip")

    def _rpc(self, method: str, *params: Any) -> Any:
        try:
            return KamailioRpc(self.paths.rpc_socket, timeout=2).call(method, *params)
        except (OSError, RpcError) as e:
            raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None

    def _trunks(self, name: str | None) -> list[tuple[str, Trunk | None, str]]:
        with self.pbx.tx() as repo:
            trunks = load_trunks_checked(repo.conn, name)
        if name is not None and not trunks:
            raise NotFound("trunk", name)
        return trunks

    @admin_only
    def all(self, name: str | None = None) -> list[dict[str, Any]]:
        checked = self._trunks(name)
        trunks = [trunk for _name, trunk, _problem in checked if trunk is not None]
        registrations: dict[str, dict[str, Any]] = {}
        replies: dict[str, int] = {}
        if any(tr.type is TrunkType.REGISTER and tr.enabled for tr in trunks):
            dump = self._rpc("uac.reg_dump")
            for rec in dump if isinstance(dump, list) else [dump]:
                if isinstance(rec, dict) and "l_uuid" in rec:
                    registrations[rec["l_uuid"]] = rec
            table = self._rpc("htable.dump", "trunkreg")
            for slot in table if isinstance(table, list) else []:
                for item in slot.get("slot", []):
                    replies[item["name"]] = int(item["value"])
        out = []
        for trunk_name, trunk, problem in checked:
            if trunk is None:  # stored settings klapka cannot use: say so, the others stand
                out.append({"name": trunk_name, "status": "error", "detail": problem})
                continue
            try:
                out.append(self._status(trunk, registrations, replies))
            except Exception as e:
                log.error("trunk %s: status not available: %r", trunk_name, e)
                out.append(
                    {
                        "name": trunk_name,
                        "type": trunk.type.value,
                        "status": "error",
                        "detail": f"status not available: {e}",
                    }
                )
        return out

    def _status(
        self, trunk: Trunk, registrations: dict[str, dict[str, Any]], replies: dict[str, int]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"name": trunk.name, "type": trunk.type.value}
        if not trunk.enabled:
            return {**out, "status": "disabled"}
        if trunk.type is TrunkType.PEER:
            if not trunk.qualify:
                return {**out, "status": "not_monitored"}
            rtt = qualify(trunk.host, trunk.port)
            if rtt is None:
                return {**out, "status": "unreachable"}
            return {**out, "status": "reachable", "round_trip_ms": round(rtt * 1000, 1)}
        if not trunk.password:
            return {**out, "status": "registration_failed", "detail": "no password set"}
        rec = registrations.get(trunk_uuid(trunk.name))
        last = replies.get(f"{trunk.username}@{trunk.domain or trunk.host}")
        if last is not None:
            out["last_reply"] = last
        if rec is None:
            return {**out, "status": "registering"}
        flags = int(rec.get("flags", 0))
        if flags & _ONLINE:
            expires = int(rec.get("timer_expires", 0)) - int(time.time())
            return {**out, "status": "registered", "expires": max(expires, 0)}
        if flags & _ONGOING or last is None:
            return {**out, "status": "registering"}
        if last in _AUTH_CODES:
            return {**out, "status": "auth_failed"}
        return {**out, "status": "registration_failed"}


def qualify(host: str, port: int, timeout: float = 1.0) -> float | None:
    """Round trip of an OPTIONS request to ``host:port`` over UDP; None if nothing answers."""
    addresses = resolve(host)
    if not addresses:
        return None
    address = addresses[0]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((address, port))
        local, local_port = sock.getsockname()[:2]
        branch = "z9hG4bK" + secrets.token_hex(8)
        call_id = secrets.token_hex(12)
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local}:{local_port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:qualify@klapka>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 OPTIONS\r\n"
            f"User-Agent: klapka\r\n"
            f"Content-Length: 0\r\n\r\n"
        ).encode()
        started = time.monotonic()
        try:
            sock.send(request)
            while True:
                data = sock.recv(65535)
                if call_id.encode() in data and data.startswith(b"SIP/2.0 "):
                    code = int(data[8:11])
                    if code >= 200:
                        return time.monotonic() - started
        except (OSError, ValueError):
            return None
