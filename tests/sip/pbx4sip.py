"""The PBX under test in SIP tests: its database, its SIP core and sipp clients against it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sipp import Sipp

from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.services.telephony.sip_directory import facts_stamp
from klapka.services.telephony.sip_rpc import KamailioRpc
from klapka.sip.supervisor import SipCore


class Pbx4Sip:
    """The PBX under test: its database, its SIP core and sipp clients against it."""

    def __init__(self, pbx: Pbx, core: SipCore, workdir: Path) -> None:
        self.pbx = pbx
        self.core = core
        self.port = core.udp_port
        self.sipp = Sipp(self.port, workdir)
        self.rpc = KamailioRpc(core.paths.rpc_socket)

    def apply(self, doc: dict[str, Any]) -> None:
        ConfigService(self.pbx).apply(doc)
        self.wait_snapshot()

    def wait_snapshot(self, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.core.facts == facts_stamp(self.pbx):
                return
            time.sleep(0.05)
        raise AssertionError("the SIP snapshot was not refreshed")

    def contacts(self, number: str) -> list[dict[str, Any]]:
        dump = self.rpc.call("ul.dump")
        for domain in dump["Domains"]:
            for aor in domain["Domain"]["AoRs"]:
                if aor["Info"]["AoR"] == number:
                    return [c["Contact"] for c in aor["Info"]["Contacts"]]
        return []

    def wait_registered(self, number: str, count: int = 1, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.contacts(number)) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{number} did not register")


@contextmanager
def running(pbx: Pbx, core: SipCore, workdir: Path) -> Iterator[Pbx4Sip]:
    """The PBX with its SIP core started; afterwards the core stopped and the database closed.
    ``workdir``: where sipp keeps its scenarios."""
    core.start()
    try:
        assert core.wait_ready(), core.paths.log.read_text() if core.paths.log.exists() else ""
        workdir.mkdir(exist_ok=True)
        yield Pbx4Sip(pbx, core, workdir)
    finally:
        core.stop()
        pbx.close()
