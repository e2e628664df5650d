"""Live registrations from the SIP core (Kamailio's usrloc), per extension."""

from __future__ import annotations

from typing import Any

from klapka.domain.problems import KlapkaError, NotFound
from klapka.domain.references import Kind
from klapka.services.pbx import Pbx
from klapka.sip.kamailio_cfg import SipPaths
from klapka.sip.kemi_classify import classify
from klapka.sip.rpc import KamailioRpc, RpcError
from klapka.store.database import data_dir


class SipCoreUnavailable(KlapkaError):
    """The SIP core is not running (``klapka serve --no-sip``, or Kamailio is down)."""


class Registrations:
    def __init__(self, pbx: Pbx, paths: SipPaths | None = None) -> None:
        self.pbx = pbx
        self.paths = paths or SipPaths(data_dir() / "sip")

    def _dump(self) -> dict[str, list[dict[str, Any]]]:
        try:
            dump = KamailioRpc(self.paths.rpc_socket, timeout=2).call("ul.dump")
        except (OSError, RpcError) as e:
            raise SipCoreUnavailable(f"the SIP core is not running ({e})") from None
        aors: dict[str, list[dict[str, Any]]] = {}
        for domain in dump.get("Domains", []):
            for aor in domain["Domain"]["AoRs"]:
                aors[aor["Info"]["AoR"]] = [c["Contact"] for c in aor["Info"]["Contacts"]]
        return aors

    def of(self, number: str) -> list[dict[str, Any]]:
        """The extension's registered contacts: contact, class, user agent, source, expiry."""
        with self.pbx.tx() as repo:
            if repo.id_of(Kind.EXTENSION, number) is None:
                raise NotFound("extension", number)
            system = repo.system()[0]
        sip = system.sip.model_dump()
        out = []
        for c in self._dump().get(number, []):
            socket = c.get("Socket", "")
            received = c.get("Received", "")
            address = c.get("Address", "")
            out.append(
                {
                    "contact": address,
                    "endpoint": classify(address, c.get("User-Agent", ""), socket, sip),
                    "user_agent": c.get("User-Agent", ""),
                    "source": received if received and received != "[not set]" else address,
                    "transport": socket.split(":", 1)[0] if socket else "udp",
                    "expires": c.get("Expires"),
                }
            )
        return out

    def status(self) -> dict[str, str]:
        """``registered`` per extension with a contact (the others are unregistered)."""
        return dict.fromkeys(self._dump(), "registered")
