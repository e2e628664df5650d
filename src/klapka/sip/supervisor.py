"""Kamailio under klapka's supervision: configuration written, process started in the
foreground, restarted when it dies, stopped with klapka; and the directory snapshot kept
fresh (rewritten within a fraction of a second of any change, from any process)."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import klapka
from klapka.kemi import load
from klapka.kemi.control import ControlServer
from klapka.kemi.registration_rules import rules_of
from klapka.kemi.snapshot import SnapshotWriter
from klapka.services.call_history import CallRecorder
from klapka.services.pbx import Pbx
from klapka.services.principal import phone_user
from klapka.services.telephony.feature_codes import FeatureCodes, loggable
from klapka.services.telephony.registrations import Registrations, SipCoreUnavailable
from klapka.services.telephony.sip_directory import (
    build_snapshot,
    extension_stamps,
    facts_stamp,
)
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.telephony.sip_rpc import KamailioFifoRpc, KamailioRpc, RpcError
from klapka.sip import call_journal, presence_feed, registration_feed, state_db, uacreg
from klapka.sip.addresses import listen_addresses, sip_host, toward
from klapka.sip.blocked import POLL_SECONDS as BLOCKED_POLL_SECONDS
from klapka.sip.blocked import BlockedSources
from klapka.sip.kamailio_cfg import entry_script, presence_available, render
from klapka.sip.media_relay import MediaRelay, rtpengine_binary
from klapka.sip.subscription_rights import SubscriptionGuard
from klapka.sip.tls import TlsFiles, tls_cfg, tls_module_available, websocket_module_available

log = logging.getLogger("klapka.sip")

POLL_SECONDS = 0.2
STABLE_SECONDS = 60  # a Kamailio that ran this long before it died is restarted at once


def kamailio_binary() -> str | None:
    return shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None
    )


def _by_extension(snapshot: dict[str, Any]) -> dict[str, tuple[Any, list[Any]]]:
    """Each extension of a snapshot with its SIP accounts, to tell what changed."""
    accounts: dict[str, list[Any]] = {}
    for username, account in sorted(snapshot["accounts"].items()):
        accounts.setdefault(account["extension"], []).append((username, account))
    return {n: (v, accounts.get(n, [])) for n, v in snapshot["extensions"].items()}


class SnapshotRefresher:
    """Keeps the SIP core's snapshot current, writing only the extensions that changed.

    A change of an extension (its row's stamp moved) rebuilds that extension alone. A
    change of anything else (groups, ring groups, queues, trunks, routes, system) may
    change any extension's view, so every view is rebuilt, and compared with what the
    file holds: only those that differ are written (a group change rewrites its members,
    not 10,000 rows)."""

    def __init__(self, pbx: Pbx, paths: SipPaths) -> None:
        self.pbx = pbx
        self.paths = paths
        self.writer = SnapshotWriter(str(paths.snapshot))
        self.stamps: dict[str, Any] | None = None
        self.fingerprint: tuple[Any, ...] = ()
        # What the file holds of each extension: (its view, its accounts), as written.
        self.written: dict[str, tuple[Any, list[Any]]] = {}
        # extension -> what restricts its registrations (clients off, addresses, User-Agent,
        # transport), for those restricted
        self.registration_rules: dict[str, tuple[Any, ...]] = {}
        # A register trunk's Contact ("address:port"), by its proxy URI; set by the SipCore.
        self.contact_addr: Callable[[str], str] = lambda _proxy: ""
        # Ends the subscriptions a change no longer allows (the SipCore sets where).
        self.subscription_guard = SubscriptionGuard(paths.rpc_socket)

    def refresh(self) -> int:
        """Bring the snapshot up to date; returns the directory version it holds."""
        version, stamps, fingerprint = extension_stamps(self.pbx)
        if self.stamps is None:
            snapshot = build_snapshot(self.pbx)
            self.writer.write({**snapshot, "version": version}, full=True)
            self.written = _by_extension(snapshot)
            self.subscription_guard.update(snapshot["accounts"].values())
        else:
            if fingerprint != self.fingerprint:
                snapshot = build_snapshot(self.pbx)
                changed = set(snapshot["extensions"])
            else:
                known = self.stamps
                changed = {n for n, stamp in stamps.items() if known.get(n) != stamp}
                snapshot = build_snapshot(self.pbx, changed)
            fresh = _by_extension(snapshot)
            # Gone, or no longer readable (left out of the snapshot, with an error logged).
            unreadable = changed - fresh.keys()
            removed = [n for n in self.written if n not in stamps or n in unreadable]
            differ = {n for n in changed if self.written.get(n) != fresh.get(n)}
            if fingerprint != self.fingerprint and len(differ) > len(stamps) // 2:
                # Most of the extensions changed: writing all of them is quicker.
                self.writer.write({**snapshot, "version": version}, full=True)
                self.written = fresh
            else:
                self._write_part(snapshot, version, differ, removed, fresh)
            every = fingerprint != self.fingerprint  # the snapshot holds every extension
            self.subscription_guard.update(
                snapshot["accounts"].values(), None if every else changed, removed
            )
        self._unregister_clients_turned_off(snapshot, first=self.stamps is None)
        self.stamps, self.fingerprint = stamps, fingerprint
        if uacreg.write(self.paths.uacreg, snapshot["trunks"], self.contact_addr):
            _reload_trunk_registrations(self.paths)
        return version

    def _write_part(
        self,
        snapshot: dict[str, Any],
        version: int,
        differ: set[str],
        removed: list[str],
        fresh: dict[str, tuple[Any, list[Any]]],
    ) -> None:
        """Write the extensions in ``differ`` (and the rest of ``snapshot``), drop ``removed``."""
        part = {
            **snapshot,
            "extensions": {n: v for n, v in snapshot["extensions"].items() if n in differ},
            "accounts": {u: a for u, a in snapshot["accounts"].items() if a["extension"] in differ},
        }
        self.writer.write({**part, "version": version}, full=False, removed=removed)
        for n in removed:
            self.written.pop(n, None)
        self.written.update((n, fresh[n]) for n in differ if n in fresh)

    def _unregister_clients_turned_off(self, snapshot: dict[str, Any], first: bool) -> None:
        """An extension whose registration rules changed (a client turned off, the allowed
        addresses, User-Agent prefix or transport tightened) loses the registrations they no
        longer allow now (its next REGISTER is refused by the KEMI adapter). At the first
        refresh Kamailio has no registrations yet."""
        registrations = Registrations(self.pbx, self.paths)
        for account in snapshot["accounts"].values():
            number, rules = account["extension"], rules_of(account)
            if rules != self.registration_rules.get(number, ()) and not first:
                try:
                    removed = registrations.unregister_not_allowed(number, account, snapshot["sip"])
                except (SipCoreUnavailable, RpcError, OSError, ValueError) as e:
                    # Not remembered: a later refresh tries again.
                    log.warning(
                        "could not remove the registrations %s no longer allows: %s", number, e
                    )
                    continue
                if removed:
                    log.info(
                        "%s: %d registration(s) its rules no longer allow removed", number, removed
                    )
            if rules:
                self.registration_rules[number] = rules
            else:
                self.registration_rules.pop(number, None)


def _tcp_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Kamailio binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def kamailio_processes(cfg: Path) -> set[int]:
    """The Kamailio processes running with ``cfg``: the main process and every worker it
    forked (they share its command line), whoever their parent is now."""
    wanted = f"\0-f\0{cfg}\0".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if b"kamailio" in cmdline.split(b"\0", 1)[0] and wanted in cmdline + b"\0":
            found.add(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no port; its parent reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reload_trunk_registrations(paths: SipPaths) -> None:
    """Ask a running Kamailio to re-read the register trunks (at start it reads them itself)."""
    if not paths.rpc_socket.exists():
        return
    try:
        KamailioRpc(paths.rpc_socket, timeout=2).call("uac.reg_reload")
    except (OSError, RpcError) as e:
        log.warning("could not reload the trunk registrations: %s", e)


class SipCore:
    """Runs Kamailio and the snapshot poller until ``stop``."""

    def __init__(
        self,
        pbx: Pbx,
        data_dir: Path,
        listen: str,
        udp_port: int,
        tcp_port: int,
        tls_port: int | None = None,
        natping_interval: int = 30,
        trace: bool = False,
        ws_port: int | None = None,
        wss_port: int | None = None,
        public_address: str = "",
        dialog_keepalive: int = 120,
        rtp_ports: tuple[int, int] = (20000, 30000),
    ) -> None:
        """``listen``: an address, or 0.0.0.0 / :: for every address of the machine's
        interfaces (found at each start); ``public_address``: what phones and providers
        outside a NAT reach, advertised instead of every address but loopback;
        ``dialog_keepalive``: how often each call's parties are asked whether it goes on;
        ``rtp_ports``: the media relay's port range (``system.media``)."""
        self.pbx = pbx
        self.trace = trace  # the engine's reasons for each call in Kamailio's log
        self.paths = SipPaths(data_dir / "sip")
        self.tls_files = TlsFiles(data_dir / "tls")
        self.listen = listen
        self.public_address = public_address
        self.dialog_keepalive = dialog_keepalive  # seconds between "still in this call?"
        self.addresses: tuple[str, ...] = ()  # the listen address, a wildcard expanded
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.tls_port = tls_port or None  # None: no TLS (also when it cannot be offered)
        # SIP over WebSocket (browsers); None: off (also without Kamailio's websocket module)
        self.ws_port = ws_port or None
        self.wss_port = wss_port or None
        self.natping_interval = natping_interval
        self.warnings: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.control: ControlServer | None = None
        self.snapshots = SnapshotRefresher(pbx, self.paths)
        self.snapshots.contact_addr = self._trunk_contact
        self.snapshots.subscription_guard.db = lambda: self.subscriptions
        self.snapshots.subscription_guard.own_socket = self._own_socket
        self.version = -1
        self.facts: tuple[int, tuple[Any, ...]] | None = None  # what the snapshot holds
        self.restarts = 0
        self.quick_restarts = 0  # in a row, each soon after its start: restarted less often
        self.started_at = 0.0
        self.subscriptions: Path | None = None  # the presence modules' file, when loaded
        # The media relay (rtpengine), when installed: started before Kamailio.
        self.relay = MediaRelay(self.paths.root, *rtp_ports) if rtpengine_binary() else None

    def prepare(self) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.paths.root, 0o700)
        src = Path(klapka.__file__).resolve().parent.parent
        self._stop_stale()  # before the port checks: a Kamailio of ours may still hold them
        self._prepare_tls()
        self._prepare_websocket()
        self._drop_busy_ports()
        self.addresses = listen_addresses(self.listen)
        self._write_cfg()
        ws_ports = tuple(p for p in (self.ws_port, self.wss_port) if p)
        self.paths.websocket.write_text(json.dumps({"ws": self.ws_port, "wss": self.wss_port}))
        self.paths.script.write_text(
            entry_script(src, self.paths.snapshot, self.trace, ws_ports, relay=bool(self.relay))
        )
        self._refresh()

    def _refresh(self) -> None:
        """Rewrite the snapshot (what changed) and remember what it holds."""
        facts = facts_stamp(self.pbx)  # read before: a change meanwhile is seen next time
        self.version = self.snapshots.refresh()
        self.facts = facts

    def _write_cfg(self) -> None:
        persist = state_db.prepare(self.paths.registrations_db, "usrloc") and state_db.prepare(
            self.paths.calls_db, "dialog"
        )
        subscriptions = self.subscriptions = self._prepare_subscriptions()
        self.paths.cfg.write_text(
            render(self.paths, self.addresses, self.udp_port, self.tcp_port,
                   tls_port=self.tls_port, ws_port=self.ws_port, wss_port=self.wss_port,
                   natping_interval=self.natping_interval, persist=persist,
                   public_address=self.public_address, dialog_keepalive=self.dialog_keepalive,
                   subscriptions=subscriptions,
                   relay_port=self.relay.choose_port() if self.relay else None)
        )  # fmt: skip

    def _own_socket(self) -> str:
        """Kamailio's UDP socket on loopback (where klapka's own parts talk to it; else its
        first address), as tm names a socket; "" before the addresses are known."""
        loopback = [a for a in self.addresses if ipaddress.ip_address(a).is_loopback]
        address = (loopback or list(self.addresses) or [""])[0]
        return f"udp:{sip_host(address)}:{self.udp_port}" if address else ""

    def _watch_journal(self, _binary: str) -> None:
        """The call history follows the SIP core's call journal."""
        reader = call_journal.JournalReader(CallRecorder(self.pbx), self.paths.root)
        rpc = KamailioFifoRpc(self.paths.rpc_fifo, timeout=2)
        process = lambda: self.process.pid if self.process is not None else -1  # noqa: E731
        call_journal.run(reader, rpc, self.stopping, process)

    def _watch_relay(self, _binary: str) -> None:
        """The media relay is started again whenever it dies."""
        if self.relay is not None:
            self.relay.watch(self.stopping)

    def _watch_registrations(self, _binary: str) -> None:
        """Registration changes go to the event stream."""
        feed = registration_feed.RegistrationFeed(self.pbx, Registrations(self.pbx, self.paths))
        registration_feed.run(feed, self.stopping)

    def _watch_presence(self, _binary: str) -> None:
        """Presence subscribers follow each extension's presence and note (PIDF); the event
        stream gets its changes (also without Kamailio's presence modules)."""
        feed = presence_feed.PresenceFeed(
            self.pbx, KamailioRpc(self.paths.rpc_socket, timeout=1),
            publishing=self.subscriptions is not None,
        )  # fmt: skip
        process = lambda: self.process.pid if self.process is not None else -1  # noqa: E731
        presence_feed.run(feed, self.stopping, process)

    def _prepare_subscriptions(self) -> Path | None:
        """The presence modules' file, or None (and a warning once): SUBSCRIBE is then 501."""
        db = self.paths.root / "presence.sqlite"
        if not presence_available():
            problem = ("SIP subscriptions (BLF, presence, message waiting) are off: Kamailio's "
                       "presence modules are not installed (kamailio-presence-modules)")  # fmt: skip
            if problem not in self.warnings:
                self.warnings.append(problem)
                log.warning("%s", problem)
            return None
        return db if state_db.prepare(db, "presence") else None

    def _readdress(self) -> None:
        """Before a restart: the machine's addresses may have changed since the last start
        (an address gone would keep Kamailio from starting, a new one be missed), and the
        state files may be what made it die (they are checked and made again)."""
        addresses = listen_addresses(self.listen)
        if addresses != self.addresses:
            log.warning("SIP addresses changed: %s (were %s)", " ".join(addresses),
                        " ".join(self.addresses))  # fmt: skip
            self.addresses = addresses
        self._write_cfg()

    def _trunk_contact(self, proxy: str) -> str:
        """The Contact address of a register trunk: the public address, else the address
        of ours that reaches the provider (its proxy URI's host)."""
        host = proxy.split(":", 1)[1] if proxy.startswith("sip:") else proxy
        host = host.split(";", 1)[0]
        host = host[: host.index("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
        address = self.public_address or toward(host, self.addresses or ("127.0.0.1",))
        return f"{sip_host(address)}:{self.udp_port}"

    def _prepare_tls(self) -> None:
        """TLS is offered only with a certificate and Kamailio's tls module; else a warning."""
        if self.tls_port is None:
            return
        problem = None
        if not self.tls_files.present():
            problem = f"no certificate in {self.tls_files.root} (`klapka init` makes one)"
        elif not tls_module_available():
            problem = "Kamailio's tls module is not installed (package kamailio-tls-modules)"
        else:
            problem = self.tls_files.unusable()  # Kamailio would not start with them
        if problem is not None:
            self.warnings.append(f"SIP over TLS is off: {problem}")
            log.warning("SIP over TLS is off: %s", problem)
            self.tls_port = None
            return
        self.paths.tls_cfg.write_text(tls_cfg(self.tls_files))

    def _prepare_websocket(self) -> None:
        """WebSocket needs Kamailio's websocket module; WSS needs TLS too; else a warning."""
        if self.wss_port is not None and self.tls_port is None:
            self.wss_port = None  # TLS is off, and said so
        if (self.ws_port or self.wss_port) and not websocket_module_available():
            problem = "Kamailio's websocket module is not installed (kamailio-websocket-modules)"
            self.warnings.append(f"SIP over WebSocket is off: {problem}")
            log.warning("SIP over WebSocket is off: %s", problem)
            self.ws_port = self.wss_port = None

    def _drop_busy_ports(self) -> None:
        """TLS and WebSocket are extras: one whose port another program holds is turned off
        with a warning, rather than Kamailio failing to start and taking UDP and TCP along
        (another klapka on this machine with another --sip-port, say)."""
        for name, attribute in (("TLS", "tls_port"), ("WebSocket", "ws_port"),
                                ("secure WebSocket", "wss_port")):  # fmt: skip
            port = getattr(self, attribute)
            if port is None or _tcp_port_free(self.listen, port):
                continue
            problem = f"port {port} is in use on {self.listen}"
            self.warnings.append(f"SIP over {name} is off: {problem}")
            log.warning("SIP over %s is off: %s", name, problem)
            setattr(self, attribute, None)
        if self.tls_port is None:
            self.wss_port = None  # secure WebSocket is TLS
        # Two listeners on one TCP port would keep Kamailio from starting.
        taken = {self.tcp_port}
        for name, attribute in (("TLS", "tls_port"), ("WebSocket", "ws_port"),
                                ("secure WebSocket", "wss_port")):  # fmt: skip
            port = getattr(self, attribute)
            if port is not None and port in taken:
                problem = f"port {port} is already the SIP core's for another transport"
                self.warnings.append(f"SIP over {name} is off: {problem}")
                log.warning("SIP over %s is off: %s", name, problem)
                setattr(self, attribute, None)
            elif port is not None:
                taken.add(port)

    def start(self) -> None:
        binary = kamailio_binary()
        if binary is None:
            raise RuntimeError(
                "kamailio is not installed (./scripts/install-and-run.sh installs it)"
            )
        self.prepare()
        self.control = ControlServer(str(self.paths.control), self._control_request)
        self.control.start()
        if self.relay is not None and not self.relay.start(self.addresses, self.public_address):
            self.warnings.append(
                f"the media relay (rtpengine) did not start: calls go unanchored; see "
                f"{self.relay.log_file}"
            )
        self._spawn(binary)
        watchers = (self._watch_process, self._watch_directory, self._watch_blocked,
                    self._watch_load, self._watch_presence, self._watch_journal,
                    self._watch_registrations, self._watch_relay)  # fmt: skip
        for target in watchers:
            thread = threading.Thread(target=target, args=(binary,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _stop_stale(self) -> None:
        """Kamailio processes of this data directory still running: a Kamailio left by a
        klapka that was killed, or the workers of a main process that died (kill -9 leaves
        them as orphans holding the ports). All of them are stopped, so a new one can bind."""
        pids = kamailio_processes(self.paths.cfg)
        if not pids:
            return
        log.warning("stopping %d Kamailio process(es) left running (pids %s)", len(pids),
                    " ".join(map(str, sorted(pids))))  # fmt: skip
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
                except PermissionError:  # another user's Kamailio on our files: say so
                    log.error("cannot stop Kamailio process %d (another user's)", pid)
            deadline = time.monotonic() + wait
            while pids and time.monotonic() < deadline:
                pids = {p for p in pids if is_running(p)}
                time.sleep(0.05)
            if not pids:
                return
        log.error("Kamailio processes %s did not stop", sorted(pids))

    def _spawn(self, binary: str) -> None:
        self._stop_stale()
        self.started_at = time.monotonic()
        self.paths.rpc_socket.unlink(missing_ok=True)
        logfile = open(self.paths.log, "ab")  # noqa: SIM115 (kept open for the child)
        self.process = subprocess.Popen(
            [binary, "-DD", "-E", "-f", str(self.paths.cfg), "-m", str(load.SHARED_MEMORY_MB), "-M", "16", "-x", "tlsf",
             "-P", str(self.paths.pid), "-Y", str(self.paths.root)],
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        logfile.close()
        log.info("kamailio started (pid %s), SIP on %s udp/%s tcp/%s tls/%s", self.process.pid,
                 self.listen, self.udp_port, self.tcp_port, self.tls_port or "off")  # fmt: skip

    def wait_ready(self, timeout: float = 15.0) -> bool:
        """True once Kamailio's control socket answers (it is up and routing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                KamailioRpc(self.paths.rpc_socket).call("core.version")
                return True
            except (OSError, RpcError):
                time.sleep(0.1)
        return False

    def _watch_process(self, binary: str) -> None:
        while not self.stopping.is_set():
            process = self.process
            if process is not None and process.poll() is not None and not self.stopping.is_set():
                self.restarts += 1
                log.error("kamailio exited with %s; restarting (restart %d)", process.returncode,
                          self.restarts)  # fmt: skip
                ran = time.monotonic() - self.started_at
                self.quick_restarts = self.quick_restarts + 1 if ran < STABLE_SECONDS else 1
                time.sleep(min(5.0, 0.5 * self.quick_restarts))
                if not self.stopping.is_set():
                    try:
                        self._readdress()
                    except Exception:
                        log.exception("could not rewrite Kamailio's configuration")
                    self._spawn(binary)
            self.stopping.wait(0.5)

    def _watch_directory(self, _binary: str) -> None:
        while not self.stopping.is_set():
            try:
                if facts_stamp(self.pbx) != self.facts:
                    self._refresh()
                    log.info("directory version %d: snapshot rewritten", self.version)
                self.snapshots.subscription_guard.run_due()
            except Exception:
                log.exception("could not refresh the SIP directory snapshot")
            self.stopping.wait(POLL_SECONDS)

    def _control_request(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("op") == "feature_code":
            extension = str(request["extension"])  # Kamailio checked the phone's credentials
            result = FeatureCodes(self.pbx).dial(
                extension, str(request["dialled"]), phone_user(extension)
            )
            log.info("feature code %s by %s: %s", loggable(str(request["dialled"])),
                     request["extension"], result.message)  # fmt: skip
            return {"sip_code": result.sip_code, "message": result.message}
        return {"sip_code": 400, "message": "Unknown request"}

    def _watch_blocked(self, _binary: str) -> None:
        """Sources blocked after failed authentications go to the audit log (klapka.sip.blocked)."""
        # Over the FIFO: the dump of many blocked sources does not fit in a datagram.
        watcher = BlockedSources(self.pbx, KamailioFifoRpc(self.paths.rpc_fifo, timeout=2))
        while not self.stopping.wait(BLOCKED_POLL_SECONDS):
            try:
                watcher.poll()
            except (OSError, RpcError):
                pass  # Kamailio is starting or restarting: the next poll catches up
            except Exception:
                log.exception("could not log the blocked SIP sources")

    def _watch_load(self, _binary: str) -> None:
        """Tell Kamailio to shed new requests while its UDP receive queue is too long."""
        shedding = load.Shedding(load.receive_buffer())
        told: tuple[bool, int] | None = None  # what Kamailio was told, and in which life
        rpc = KamailioRpc(self.paths.rpc_socket, timeout=1)
        while not self.stopping.wait(load.POLL_SECONDS):
            backlog = load.udp_backlog(self.udp_port)
            try:
                shm = rpc.call("core.shmmem")
                memory = shm["real_used"] / shm["total"]
            except (OSError, RpcError, KeyError, TypeError, ZeroDivisionError):
                memory = 0.0  # starting or restarting
            if shedding.update(backlog, memory):
                level = logging.WARNING if shedding.on else logging.INFO
                log.log(level, "SIP core %s: %d KiB of requests waiting, %d%% of its memory "
                        "in use", "overloaded, new requests get 503" if shedding.on else
                        "keeps up again", backlog // 1024, 100 * memory)  # fmt: skip
            if told != (shedding.on, self.restarts):
                try:
                    rpc.call("htable.seti", "load", "shed", int(shedding.on))
                    told = (shedding.on, self.restarts)
                except (OSError, RpcError):
                    pass  # starting or restarting: told at the next poll

    def stop(self) -> None:
        self.stopping.set()
        if self.control is not None:
            self.control.stop()
        process = self.process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self.relay is not None:
            self.relay.stop()
        for thread in self.threads:
            thread.join(2)
