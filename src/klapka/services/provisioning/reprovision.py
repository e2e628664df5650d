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
from klapka.services import audit
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import Principal
from klapka.services.provisioning.server import KIND, ProvisioningServer
from klapka.services.telephony.check_sync import send_check_sync

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
        sent = send_check_sync(self.data_dir, sip, number, wanted)
        with self.pbx.tx() as repo:
            audit.record(
                repo.conn, self.principal, "reprovision", KIND, wanted, None,
                {"extension": number, "sent": sent},
            )  # fmt: skip
        return {"extension": number, "mac": wanted, "sent": sent}
