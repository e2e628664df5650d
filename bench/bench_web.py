"""Benchmark: the web UI with 10,000 extensions, in headless Chromium (issue 7: "loads fast").

Starts ``klapka serve --no-sip`` on a database with N extensions (plus an admin with a
password), signs in with Playwright driving Debian's ``chromium``, and times what an admin
waits for: the extension list's first page, a search by name, the next page, and an
extension's editor. Each timing is from the action to the element on screen.

Run: .venv/bin/python bench/bench_web.py [--extensions 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_config_apply import document

from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade

PASSWORD = "Adm1n-Heslo-2027"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(action, wait) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    wait()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extensions", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/klapka.db"
        upgrade(url)
        pbx = Pbx.from_url(url)
        doc = document(args.extensions)
        doc["extensions"][0].update(
            {"role": "admin", "email": "ada@example.com", "user_password": PASSWORD}
        )
        ConfigService(pbx).apply(doc)
        pbx.close()
        port = free_port()
        env = {
            **os.environ,
            "KLAPKA_DATABASE_URL": url,
            "KLAPKA_DATA_DIR": f"{tmp}/data",
            "KLAPKA_SECURE_COOKIES": "never",
        }
        klapka = str(Path(sys.executable).parent / "klapka")
        server = subprocess.Popen(
            [klapka, "serve", "--no-sip", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{base}/")
                page.get_by_test_id("email").fill("ada@example.com")
                page.get_by_test_id("password").fill(PASSWORD)
                page.get_by_test_id("sign-in").click()
                page.wait_for_url(lambda u: "/sign-in" not in u and "/auth/" not in u)
                count = page.get_by_test_id("extension-count")
                results: dict[str, list[float]] = {
                    "list, first page": [],
                    "search by name": [],
                    "next page": [],
                    "extension editor": [],
                }
                for i in range(args.repeat):
                    results["list, first page"].append(
                        timed(
                            lambda: page.goto(f"{base}/ui/extensions"),
                            lambda: count.filter(has_text=f"1–50 of {args.extensions}").wait_for(),
                        )
                    )
                    name = f"Surname{(i * 37) % 977}"
                    results["search by name"].append(
                        timed(
                            lambda name=name: page.get_by_test_id("extension-search").fill(name),
                            lambda name=name: (
                                page.get_by_test_id("extension-table")
                                .get_by_text(name)
                                .first.wait_for()
                            ),
                        )
                    )
                    page.get_by_test_id("extension-search").fill("")
                    count.filter(has_text=f"of {args.extensions}").wait_for()
                    results["next page"].append(
                        timed(
                            lambda: page.get_by_role("button", name="Next", exact=True).click(),
                            lambda: count.filter(has_text="51–").wait_for(),
                        )
                    )
                    number = str(10000 + (i * 1231) % args.extensions)
                    results["extension editor"].append(
                        timed(
                            lambda number=number: page.goto(f"{base}/ui/extensions/{number}"),
                            lambda: page.get_by_role("tab", name="Presence").wait_for(),
                        )
                    )
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    print(f"web UI with {args.extensions} extensions, {args.repeat} rounds (Chromium, headless):")
    for what, times in results.items():
        print(
            f"  {what:<18} median {statistics.median(times) * 1000:6.0f} ms"
            f"   max {max(times) * 1000:6.0f} ms"
        )


if __name__ == "__main__":
    main()
