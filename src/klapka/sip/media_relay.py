"""The media relay: rtpengine, which anchors a call's audio when the call needs it
(``klapka.kemi.anchor`` decides; Kamailio's rtpengine module talks to it over its control
protocol, "ng", on loopback).

``MediaRelay`` runs Debian's ``rtpengine`` (forwarding in userspace: no kernel module) in
the foreground under the SIP core's supervision: started before Kamailio, restarted when it
dies, stopped with it. Without it calls still work, unanchored: the phones send their audio
to each other (a warning, not an outage). Its files live beside Kamailio's (``<data
dir>/sip/rtpengine.*``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from klapka.kemi.anchor import interface_name

log = logging.getLogger("klapka.sip")

START_SECONDS = 5.0
QUIET_SECONDS = 60  # a relay that ran this long before it died is restarted at once


def rtpengine_binary() -> str | None:
    return shutil.which("rtpengine") or (
        "/usr/bin/rtpengine" if Path("/usr/bin/rtpengine").exists() else None
    )


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether rtpengine answers its control protocol's ``ping`` on 127.0.0.1:``port``."""
    cookie = secrets.token_hex(4).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(cookie + b" d7:command4:pinge", ("127.0.0.1", port))
            answer = s.recv(4096)
        except OSError:
            return False
    return answer.startswith(cookie + b" ") and b"pong" in answer


def _processes_with(marker: str) -> set[int]:
    """rtpengine processes whose command line names ``marker`` (our pid file)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"rtpengine") and marker.encode() in cmdline:
            found.add(int(entry.name))
    return found


class MediaRelay:
    def __init__(self, root: Path, port_min: int, port_max: int) -> None:
        self.root = root
        self.port_min = port_min
        self.port_max = port_max
        self.ng_port = 0  # chosen at the first start, kept across restarts
        self.process: subprocess.Popen[bytes] | None = None
        self.addresses: tuple[str, ...] = ()
        self.public_address = ""
        self.restarts = 0
        self.started_at = 0.0
        self.lock = threading.Lock()

    @property
    def pid_file(self) -> Path:
        return self.root / "rtpengine.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "rtpengine.log"

    def command(self, binary: str) -> list[str]:
        """rtpengine's command line: one interface per SIP address (named by
        ``interface_name``; behind NAT each outside one advertises the public address)."""
        interfaces = []
        public = ipaddress.ip_address(self.public_address) if self.public_address else None
        for address in self.addresses:
            spec = f"{interface_name(address)}/{address}"
            ip = ipaddress.ip_address(address)
            if public is not None and not ip.is_loopback and ip.version == public.version:
                spec += f"!{self.public_address}"
            interfaces.append(f"--interface={spec}")
        return [
            binary, "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
            "--no-log-timestamps",
            f"--listen-ng=127.0.0.1:{self.ng_port}", f"--pidfile={self.pid_file}",
            f"--port-min={self.port_min}", f"--port-max={self.port_max}",
            "--delete-delay=0", "--timeout=60", "--silent-timeout=3600", "--log-level=5",
            *interfaces,
        ]  # fmt: skip

    def choose_port(self) -> int:
        """Its control port on loopback: chosen once, kept across restarts (Kamailio's
        configuration names it)."""
        if not self.ng_port:
            self.ng_port = free_udp_port()
        return self.ng_port

    def start(self, addresses: Sequence[str], public_address: str = "") -> bool:
        """Start rtpengine on ``addresses``; False (and a warning in the log) when it is
        not installed or does not answer: calls then go unanchored."""
        binary = rtpengine_binary()
        if binary is None:
            log.warning("media relay off: rtpengine is not installed (rtpengine-daemon)")
            return False
        with self.lock:
            self.addresses, self.public_address = tuple(addresses), public_address
            self.choose_port()
            self._stop_stale()
            self._spawn(binary)
        return self.wait_ready()

    def _spawn(self, binary: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        with self.log_file.open("ab") as logfile:  # the child keeps its own handle
            self.process = subprocess.Popen(
                self.command(binary), stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        log.info("rtpengine started (pid %s), control on 127.0.0.1 udp/%d, RTP %d-%d",
                 self.process.pid, self.ng_port, self.port_min, self.port_max)  # fmt: skip

    def wait_ready(self, timeout: float = START_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                break
            if ping(self.ng_port):
                return True
            time.sleep(0.05)
        log.warning("media relay not answering: see %s; calls go unanchored", self.log_file)
        return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def watch(self, stopping: threading.Event) -> None:
        """Until ``stopping``: start rtpengine again whenever it exits."""
        binary = rtpengine_binary()
        quick = 0
        while not stopping.wait(0.5):
            process = self.process
            if binary is None or process is None or process.poll() is None:
                continue
            self.restarts += 1
            ran = time.monotonic() - self.started_at
            quick = quick + 1 if ran < QUIET_SECONDS else 1
            log.error("rtpengine exited with %s; restarting (restart %d); calls meanwhile "
                      "go unanchored", process.returncode, self.restarts)  # fmt: skip
            if stopping.wait(min(5.0, 0.5 * quick)):
                return
            with self.lock:
                self._stop_stale()
                self._spawn(binary)

    def _stop_stale(self) -> None:
        """rtpengine processes of this data directory still running (a klapka killed with
        -9 leaves its relay holding the ports): stopped, so a new one can bind."""
        for pid in _processes_with(f"--pidfile={self.pid_file}"):
            if self.process is not None and pid == self.process.pid:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                log.warning("stopped rtpengine %d left running", pid)
            except OSError:
                pass

    def stop(self) -> None:
        with self.lock:
            process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
