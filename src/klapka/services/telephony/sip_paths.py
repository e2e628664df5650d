"""Where the SIP core (Kamailio) keeps its files: the configuration the supervisor renders
(``klapka.sip``), its control sockets the services talk to, its state databases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SipPaths:
    """Every file Kamailio uses lives under ``<data dir>/sip``."""

    root: Path

    @property
    def cfg(self) -> Path:
        return self.root / "kamailio.cfg"

    @property
    def script(self) -> Path:
        return self.root / "kemi_entry.py"

    @property
    def snapshot(self) -> Path:
        return self.root / "directory.sqlite"

    @property
    def rpc_socket(self) -> Path:
        return self.root / "kamailio_rpc.sock"

    @property
    def rpc_fifo(self) -> Path:
        """The same RPC over a FIFO: for answers too big for one datagram (dumps)."""
        return self.root / "kamailio_rpc.fifo"

    @property
    def control(self) -> Path:
        """Where the SIP core asks the control plane (feature codes)."""
        return self.root / "control.sock"

    @property
    def uacreg(self) -> Path:
        """The register trunks, as the SQLite table Kamailio's uac module registers from."""
        return self.root / "uacreg.sqlite"

    @property
    def registrations_db(self) -> Path:
        """usrloc's registrations, written back so they outlive a restart (``state_db``)."""
        return self.root / "location.sqlite"

    @property
    def calls_db(self) -> Path:
        """The dialog module's calls in progress, written back likewise."""
        return self.root / "dialog.sqlite"

    @property
    def websocket(self) -> Path:
        """The WebSocket ports the SIP core listens on (JSON ``{"ws": .., "wss": ..}``,
        null when off), written at each start: the browser phone connects to them."""
        return self.root / "websocket.json"

    @property
    def pid(self) -> Path:
        return self.root / "kamailio.pid"

    @property
    def log(self) -> Path:
        return self.root / "kamailio.log"

    @property
    def tls_cfg(self) -> Path:
        return self.root / "tls.cfg"
