"""Benchmark: desk-phone provisioning requests at 10,000 extensions through HTTP (target:
a configuration file p95 < 20 ms).

Starts ``klapka serve --no-sip`` on a free port against a fresh SQLite database with
10,000 extensions (``bench_config_apply.document``), each with a desk phone of one of the
four vendors, function keys and a voicemail PIN, then times real HTTP requests (httpx,
Basic authentication with the extension's number and PIN, as the phone sends it once
challenged): configuration files of random phones, and remote phonebooks (every
colleague: 5,000 entries, the most a phone holds).
Run: .venv/bin/python bench/bench_provisioning.py [--extensions N] [--requests N]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_config_apply import document

from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.services.provisioning.server import Asked, ProvisioningServer
from klapka.store.migrate import upgrade

VENDORS = (("Yealink", "{mac}.cfg"), ("Fanvil", "{mac}.cfg"), ("Grandstream", "cfg{mac}.xml"),
           ("snom", "{mac}.xml"))  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_phones(doc: dict, n: int) -> dict:
    for i, ext in enumerate(doc["extensions"]):
        vendor = VENDORS[i % 4][0]
        ext["phones"] = [{"vendor": vendor, "model": "desk", "mac": f"0015{i:08x}"}]
        ext["voicemail"] = {"pin": f"{1000 + i % 9000}"}
        ext["function_keys"] = [
            {"key": 1, "type": "blf", "extension": str(10000 + (i + 1) % n)},
            {"key": 2, "type": "speed_dial", "number": "+420601111222"},
            {"key": 3, "type": "dnd"},
        ]
    return doc


def report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(f"{name:<40} p50 {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   (n={len(ms)})")


def timed(client: httpx.Client, requests: list[tuple[str, tuple[str, str]]]) -> list[float]:
    out = []
    for url, auth in requests:
        t0 = time.perf_counter()
        r = client.get(url, auth=auth)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url}: {r.status_code} {r.text[:200]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extensions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    n = args.extensions
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'klapka.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        t0 = time.perf_counter()
        ConfigService(pbx).apply(with_phones(document(n), n))
        print(f"{n} extensions with phones applied in {time.perf_counter() - t0:.1f} s")
        pbx.close()
        port = free_port()
        env = dict(os.environ, KLAPKA_DATABASE_URL=url, KLAPKA_DATA_DIR=tmp)
        server = subprocess.Popen(
            [sys.executable, "-m", "klapka.cli", "serve", "--no-sip", "--port", str(port),
             "--provisioning-https-port", "0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(200):
                    try:
                        if client.get("/api/v1/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                rng = random.Random(7)
                files: list[tuple[str, tuple[str, str]]] = []

                def request(i: int, phonebook: bool = False) -> tuple[str, tuple[str, str]]:
                    mac = f"0015{i:08x}"
                    path = (
                        f"phonebook/{mac}.xml" if phonebook else VENDORS[i % 4][1].format(mac=mac)
                    )
                    return f"/provisioning/{path}", (str(10000 + i), f"{1000 + i % 9000}")

                timed(client, [request(rng.randrange(n)) for _ in range(20)])  # warm up
                health = [("/api/v1/health", ("", ""))] * 200
                report("baseline: GET /api/v1/health (HTTP alone)", timed(client, health))
                files += [request(rng.randrange(n)) for _ in range(args.requests)]
                report(f"configuration file ({n} extensions)", timed(client, files))
                for vendor_index, (vendor, _) in enumerate(VENDORS):
                    some = [request(rng.randrange(n // 4) * 4 + vendor_index) for _ in range(100)]
                    report(f"  {vendor}", timed(client, some))
                books = [request(rng.randrange(n), phonebook=True) for _ in range(30)]
                report("phonebook (all colleagues, <= 5,000)", timed(client, books))
        finally:
            server.terminate()
            server.wait()
        # The same requests without HTTP: what the provisioning service itself takes.
        pbx = Pbx.from_url(url)
        service = ProvisioningServer(pbx, Path(tmp))
        asked = [
            Asked(path=path.removeprefix("/provisioning/"), source_ip="192.0.2.1",
                  authorization="Basic " + base64.b64encode(":".join(auth).encode()).decode())
            for path, auth in files
        ]  # fmt: skip
        ms = []
        for a in asked:
            t0 = time.perf_counter()
            assert service.fetch(a).status == 200
            ms.append((time.perf_counter() - t0) * 1000)
        report("configuration file, service alone", ms)
        pbx.close()


if __name__ == "__main__":
    main()
