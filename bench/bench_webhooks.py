"""Benchmark: webhook delivery latency, from the event's commit to the endpoint's receipt.

A local HTTP endpoint (127.0.0.1) and klapka's ``WebhookSender`` (as ``klapka serve`` runs
it); --calls calls at --rate calls/s are applied as the SIP core's journal would (each a
ring, an answer and an end: three events). Latency = the transaction that wrote the event
committed -> the endpoint got its POST. Prints p50/p95/max.

  .venv/bin/python bench/bench_webhooks.py [--calls 300] [--rate 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from klapka.services.call_history import CallRecorder
from klapka.services.pbx import Pbx
from klapka.services.webhooks import Webhooks, WebhookSender
from klapka.store.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20)
    args = parser.parse_args()
    received: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received[f"{body['data']['call_id']}/{body['event']}"] = time.perf_counter()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="klapka-bench-") as tmp:
        url = f"sqlite:///{tmp}/hooks.db"
        upgrade(url)
        pbx = Pbx.from_url(url)
        Webhooks(pbx).create(
            {"name": "bench", "url": f"http://127.0.0.1:{server.server_address[1]}/"}
        )
        sender = WebhookSender(pbx)
        sender.start()
        recorder = CallRecorder(pbx)
        committed: dict[str, float] = {}
        start = time.perf_counter()
        for i in range(args.calls):
            delay = start + i / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            ci, t = f"c{i}", time.time()
            steps = [
                ("call.ringing", [
                    {"e": "start", "ci": ci, "t": t, "from": "101", "name": "", "ext": "101",
                     "to": "102", "path": "direct"},
                    {"e": "ring", "ci": ci, "t": t, "owner": "102", "rung": ["102"],
                     "numbers": []},
                ]),
                ("call.answered", [{"e": "answer", "ci": ci, "t": t + 1, "ext": "102"}]),
                ("call.ended", [{"e": "end", "ci": ci, "t": t + 2, "how": "bye", "by": "caller"}]),
            ]  # fmt: skip
            for event, batch in steps:
                recorder.apply(batch, (1, i))
                committed[f"{ci}/{event}"] = time.perf_counter()
        deadline = time.monotonic() + 30
        while len(received) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.05)
        sender.stop()
        pbx.close()
    server.shutdown()
    ms = sorted((received[k] - at) * 1000 for k, at in committed.items() if k in received)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    print(f"{len(ms)} of {len(committed)} events delivered ({args.calls} calls at "
          f"{args.rate:g}/s): p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  max {ms[-1]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
