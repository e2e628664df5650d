"""One run of the installed `klapka` program, as an admin would type it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def installed_klapka() -> str:
    beside_python = Path(sys.executable).parent / "klapka"
    found = str(beside_python) if beside_python.exists() else shutil.which("klapka")
    if found is None:
        pytest.fail("the klapka command is not installed (pip install -e .)")
    return found


def test_the_installed_command_initialises_imports_and_exports(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAPKA_")}
    env["KLAPKA_DATA_DIR"] = str(tmp_path / "data")

    def klapka(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [installed_klapka(), *args], env=env, capture_output=True, text=True, timeout=120
        )

    init = klapka("init")
    assert init.returncode == 0, init.stderr
    assert "Admin API token: klp_" in init.stdout
    users = tmp_path / "users.csv"
    users.write_text("number,first_name,last_name\n101,Jana,Nováková\n102,Petr,Svoboda\n")
    imported = klapka("extensions", "import", str(users))
    assert imported.returncode == 0, imported.stderr
    assert "2 created, 0 updated" in imported.stdout
    exported = klapka("extensions", "export")
    assert exported.stdout.splitlines()[1].startswith("101,Jana,Nováková,")
    refused = klapka("init")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
