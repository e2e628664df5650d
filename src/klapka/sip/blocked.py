"""Sources that the SIP core blocked after repeated failed authentications, in the audit log.

The KEMI adapter counts failed digest authentications per source address (htable
``authfail``) and blocks a source that reaches the limit (htable ``blocked``, expiring after
``BLOCK_SECONDS``). ``klapka serve`` reads the ``blocked`` table over RPC every few seconds
and writes one audit entry per block: action ``sip.source_blocked``, kind ``sip_source``,
the address as key and source IP, and the failures counted. A block that expires and comes
back is logged again.
"""

from __future__ import annotations

import logging
from typing import Any

from klapka.services import audit
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.telephony.sip_rpc import KamailioFifoRpc, KamailioRpc, RpcError

log = logging.getLogger("klapka.sip")

BLOCK_SECONDS = 600  # the ``blocked`` htable's autoexpire (kamailio_cfg)
POLL_SECONDS = 2.0
ACTION = "sip.source_blocked"
KIND = "sip_source"


Rpc = KamailioRpc | KamailioFifoRpc


def blocked_addresses(rpc: Rpc) -> set[str]:
    """The source addresses blocked right now."""
    slots = rpc.call("htable.dump", "blocked") or []
    return {item["name"] for slot in slots for item in slot.get("slot") or []}


def failures_of(rpc: Rpc, address: str) -> int | None:
    """Failed authentications counted for ``address`` (None once the count expired)."""
    try:
        item: dict[str, Any] = (rpc.call("htable.get", "authfail", address) or {})["item"]
    except (RpcError, KeyError, TypeError):
        return None
    value = item.get("value")
    return int(value) if isinstance(value, int) else None


class BlockedSources:
    """Remembers the blocks already logged; ``poll`` logs the new ones."""

    def __init__(self, pbx: Pbx, rpc: Rpc) -> None:
        self.pbx = pbx
        self.rpc = rpc
        self.logged: set[str] = set()

    def poll(self) -> list[str]:
        """Log the blocks that appeared since the last poll; returns their addresses."""
        current = blocked_addresses(self.rpc)
        new = sorted(current - self.logged)
        for address in new:
            failures = failures_of(self.rpc, address)
            principal = Principal(role="system", name="sip", source_ip=address[:45])
            with self.pbx.tx() as repo:
                audit.record(
                    repo.conn,
                    principal,
                    ACTION,
                    KIND,
                    address,
                    None,
                    {"failures": failures, "blocked_seconds": BLOCK_SECONDS},
                )
            log.warning("SIP source %s blocked after %s failed authentications", address, failures)
        # A block that expired is forgotten, so that the next one is logged again.
        self.logged = current
        return new
