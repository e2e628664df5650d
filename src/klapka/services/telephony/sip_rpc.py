"""Kamailio's JSON-RPC over its Unix datagram control socket (jsonrpcs)."""

from __future__ import annotations

import itertools
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

_ids = itertools.count(1)


class RpcError(Exception):
    pass


class KamailioRpc:
    def __init__(self, path: Path, timeout: float = 3.0) -> None:
        self.path = path
        self.timeout = timeout

    def call(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(_ids)}
        with tempfile.TemporaryDirectory(prefix="klapka-rpc-") as tmp:
            reply_path = os.path.join(tmp, "reply.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.bind(reply_path)
                sock.settimeout(self.timeout)
                sock.sendto(json.dumps(request).encode(), str(self.path))
                chunks = []
                data = sock.recv(1 << 20)
                chunks.append(data)
        reply = json.loads(b"".join(chunks))
        if "error" in reply:
            raise RpcError(reply["error"].get("message", str(reply["error"])))
        return reply.get("result")


class KamailioFifoRpc:
    """The same JSON-RPC over jsonrpcs' FIFO: the answer is streamed through a reply FIFO,
    so it may be of any size (a datagram answer is cut at the socket's buffer, about
    128 KB: ``ul.dump`` of ~150 contacts, ``dlg.list`` of ~150 calls)."""

    def __init__(self, fifo: Path, timeout: float = 3.0) -> None:
        self.fifo = fifo
        self.timeout = timeout

    def call(self, method: str, *params: Any) -> Any:
        number = next(_ids)
        reply_name = f"klapka_reply_{os.getpid()}_{number}"  # no dot or slash: jsonrpcs rule
        reply_path = self.fifo.parent / reply_name
        os.mkfifo(reply_path, 0o600)
        try:
            # Open our end first (non-blocking): Kamailio gives up if nobody reads.
            reply_fd = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                request = {
                    "jsonrpc": "2.0",
                    "method": method,
                    "params": list(params),
                    "reply_name": reply_name,
                    "id": number,
                }
                # ENXIO when nobody reads the FIFO: Kamailio is not running.
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                try:
                    os.write(fd, json.dumps(request).encode() + b"\n")
                finally:
                    os.close(fd)
                data = _read_until_closed(reply_fd, self.timeout)
            finally:
                os.close(reply_fd)
        finally:
            reply_path.unlink(missing_ok=True)
        reply = json.loads(data)
        if "error" in reply:
            raise RpcError(reply["error"].get("message", str(reply["error"])))
        return reply.get("result")


def _read_until_closed(fd: int, timeout: float) -> bytes:
    """Everything written to the FIFO ``fd`` until the writer closes it."""
    import select
    import time

    deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    chunks: list[bytes] = []
    started = False  # a FIFO reads as closed until its writer has opened it
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the SIP core did not answer over its RPC FIFO")
        if not poller.poll(left * 1000):
            continue
        chunk = os.read(fd, 1 << 20)
        if chunk:
            chunks.append(chunk)
            started = True
        elif started:
            return b"".join(chunks)
        else:
            time.sleep(0.002)  # no writer yet
