"""Ending a call in progress from the admin's side: the SIP core sends both parties a BYE
(``dlg.end_dlg``), the call history then records it as ended by the ``callee``'s or
caller's side as the dialog module reports (``ended_by``)."""

from __future__ import annotations

import logging
from typing import Any

from klapka.domain.problems import Conflict
from klapka.services import audit
from klapka.services.call_history import ActiveCalls
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM, Principal
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioFifoRpc, RpcError
from klapka.store.database import data_dir

log = logging.getLogger(__name__)
CONFIRMED = 4  # the dialog module's state of an answered call


def end_call(
    pbx: Pbx, call: int, principal: Principal = SYSTEM, paths: SipPaths | None = None
) -> dict[str, Any]:
    """End the answered call ``call`` (its call-history id): both phones get a BYE.
    Audited (``end_call``). A call still ringing cannot be ended this way (409)."""
    live = ActiveCalls(pbx, principal).call(call)  # admins only; 404 when not in progress
    if live["state"] != "talking":
        raise Conflict("the call is still ringing: only an answered call can be ended", path="id")
    paths = paths or SipPaths(data_dir() / "sip")
    rpc = KamailioFifoRpc(paths.rpc_fifo, timeout=3)
    try:
        dialogs = rpc.call("dlg.list") or []
        dialog = next(
            (d for d in dialogs
             if d.get("call-id") == live["call_id"] and d.get("state") == CONFIRMED),
            None,
        )  # fmt: skip
        if dialog is None:
            raise Conflict("the SIP core has no such call in progress any more", path="id")
        rpc.call("dlg.end_dlg", int(dialog["h_entry"]), int(dialog["h_id"]))
    except (OSError, RpcError, ValueError) as e:
        raise SipCoreUnavailable(f"the SIP core did not end the call: {e}") from e
    with pbx.tx() as repo:
        audit.record(repo.conn, principal, "end_call", "call", str(call),
                     {"caller": live["caller"], "dialled": live["dialled"]}, None)  # fmt: skip
    log.info("call %s (%s -> %s) ended by %s", call, live["caller"], live["dialled"],
             principal.name)  # fmt: skip
    return live
