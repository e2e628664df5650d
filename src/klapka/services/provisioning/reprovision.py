"""What an admin does with a provisioned phone: read its credentials, and "re-provision"
it: a SIP NOTIFY with ``Event: check-sync`` (Yealink, Grandstream, Fanvil and Snom all
fetch their file again on it), sent by Kamailio (``tm.t_uac_start`` over its control
socket, as for message-waiting) to the extension's registered desk phones. A desk phone
whose User-Agent or contact names the MAC gets it alone; otherwise every desk phone of
the extension does (most phones do not say their MAC)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from klapka.domain.problems import NotFound
from klapka.domain.references import Kind
from klapka.kemi.classify import classify
from klapka.services import audit
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import Principal
from klapka.services.provisioning.server import KIND, ProvisioningServer
from klapka.services.telephony.mwi import AOR_DOMAIN
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioRpc, RpcError

log = logging.getLogger("klapka.sip")


class PhoneProvisioning:
    """An admin's actions on the phones of an extension."""

    def __init__(
        self,
        pbx: Pbx,
        principal: Principal,
        data_dir: Path,
        server: ProvisioningServer | None = None,
    ) -> None:
        self.pbx = pbx
        self.principal = principal
        self.data_dir = data_dir
        self.server = server or ProvisioningServer(pbx, data_dir)

    def _phone(self, number: str, mac: str) -> str:
        require_admin(self.principal)
        wanted = re.sub(r"[:\-. ]", "", mac).lower()
        if not re.fullmatch(r"[0-9a-f]{12}", wanted):
            raise NotFound("phone", mac)
        with self.pbx.tx() as repo:
            row = repo.row(Kind.EXTENSION, number)
            if row is None:
                raise NotFound("extension", number)
            macs = [p.get("mac") for p in row.data.get("phones") or [] if isinstance(p, dict)]
            if wanted not in macs:
                raise NotFound("phone", mac)
        return wanted

    def credentials(self, number: str, mac: str) -> dict[str, Any]:
        """How the phone signs in to the provisioning server, and its admin password."""
        wanted = self._phone(number, mac)
        return {"extension": number, "mac": wanted, **self.server.credentials(wanted)}

    def reprovision(self, number: str, mac: str) -> dict[str, Any]:
        """Ask the phone to fetch its file again; returns to how many contacts it was sent.
        Raises ``SipCoreUnavailable`` when the SIP core is not running."""
        wanted = self._phone(number, mac)
        with self.pbx.tx() as repo:
            sip = repo.system()[0].sip.model_dump()
        socket = SipPaths(self.data_dir / "sip").rpc_socket
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
        own = [c for c in desks if _names_mac(c, wanted)]
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
        with self.pbx.tx() as repo:
            audit.record(
                repo.conn, self.principal, "reprovision", KIND, wanted, None,
                {"extension": number, "sent": sent},
            )  # fmt: skip
        return {"extension": number, "mac": wanted, "sent": sent}


def _names_mac(contact: dict[str, Any], mac: str) -> bool:
    text = f"{contact.get('User-Agent', '')} {contact.get('Address', '')}".lower()
    return mac in text.replace(":", "").replace("-", "")
