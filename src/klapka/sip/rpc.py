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
