"""Fixtures of the web UI tests: klapka served for real, and Debian's Chromium driving it.

``serve`` sets a PBX up from a YAML snippet (the configuration-document format), then runs
``klapka serve --no-sip`` on a free port of 127.0.0.1 over the test's database, in a process
of its own (NiceGUI holds one UI per process). ``browser`` is Debian's ``chromium`` driven by
Playwright (never a downloaded browser); without it the browser tests are skipped.

Page helpers (sign in, screenshots) are in ``browsing.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from smtp_sink import mailbox  # noqa: F401  (the SMTP sink fixture)

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx

# Document sections, in an order where what is referenced exists first.
SECTIONS = (
    ("extensions", Kind.EXTENSION),
    ("groups", Kind.GROUP),
    ("ring_groups", Kind.RING_GROUP),
    ("client_permissions", Kind.CLIENT_PERMISSION),
)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return path


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(pbx: Pbx, database_url: str, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``serve(yaml)`` creates what the snippet describes and answers the server's base URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(document: str) -> str:
        data: dict[str, Any] = load_yaml(document) or {}
        objects = Objects(pbx)
        for section, kind in SECTIONS:
            for obj in data.get(section, []):
                objects.create(kind, obj)
        port = _free_port()
        env = {
            **os.environ,
            "KLAPKA_DATABASE_URL": database_url,
            "KLAPKA_DATA_DIR": str(tmp_path / "data"),
            "KLAPKA_SECURE_COOKIES": "never",
        }
        klapka = str(Path(sys.executable).parent / "klapka")
        with (tmp_path / "serve.log").open("wb") as log:  # the child keeps its own handle
            process = subprocess.Popen(
                [klapka, "serve", "--no-sip", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "serve.log").read_text())
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"klapka serve did not start: {(tmp_path / 'serve.log').read_text()}")

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    log = tmp_path / "serve.log"
    if log.exists():  # pytest shows it when the test failed
        print("--- klapka serve ---\n" + log.read_text(errors="replace")[-8000:])
