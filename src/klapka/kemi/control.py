"""The SIP core's line to the control plane: a Unix datagram socket under the data dir.

Kamailio's workers (KEMI) send a small JSON request, e.g. a feature code a phone dialled;
``klapka serve`` applies it with the services (database, permissions, audit) and answers.
The client side uses only the standard library (it runs inside Kamailio).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("klapka.sip")

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def ask(path: str, request: dict[str, Any], timeout: float = 3.0) -> dict[str, Any] | None:
    """Send ``request`` and wait for the answer; None if the control plane does not answer."""
    with tempfile.TemporaryDirectory(prefix="klapka-ctl-") as tmp:
        reply_path = os.path.join(tmp, "reply.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(reply_path)
            sock.settimeout(timeout)
            try:
                sock.sendto(json.dumps(request).encode(), path)
                answer: dict[str, Any] = json.loads(sock.recv(65536))
            except (OSError, ValueError):
                return None
    return answer


class ControlServer:
    """Answers the SIP core's requests in a thread until ``stop``."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o600)
        self.thread = threading.Thread(target=self._serve, name="sip-control", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, sender = self.sock.recvfrom(65536)
            except OSError:
                return  # closed by stop()
            if self.stopping.is_set():
                return
            try:
                answer = self.handler(json.loads(data))
            except Exception as e:
                log.exception("SIP control request failed")
                answer = {"sip_code": 500, "message": f"Server error ({type(e).__name__})"}
            with contextlib.suppress(OSError):  # the asker gave up
                self.sock.sendto(json.dumps(answer).encode(), sender)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self.thread is not None:
            self.thread.join(2)
        if os.path.exists(self.path):
            os.unlink(self.path)
