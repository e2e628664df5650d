"""The data directory holds secrets (the SQLite database with SIP passwords and password
hashes, voicemail audio, the TLS key): only klapka's own user may read it, whatever the
umask of the shell that started klapka. Run as the installed `klapka` program."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from test_cli_entry_point import installed_klapka


def klapka(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAPKA_")}
    env["KLAPKA_DATA_DIR"] = str(data)
    return subprocess.run(
        [installed_klapka(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),  # the usual shell umask: files 0644
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose(root: Path) -> list[str]:
    """Everything under ``root`` that someone other than the owner may use."""
    return [
        f"{p.relative_to(root)} {oct(mode(p))}"
        for p in [root, *root.rglob("*")]
        if not p.is_symlink() and mode(p) & 0o077
    ]


def test_init_makes_the_data_directory_and_everything_in_it_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    init = klapka(data, "init", "--demo")
    assert init.returncode == 0, init.stderr
    assert mode(data) == 0o700
    assert mode(data / "klapka.db") == 0o600
    assert mode(data / "tls") == 0o700
    assert loose(data) == []
    # The server's first use of the database (WAL journal files included) stays private.
    listed = klapka(data, "extensions", "list")
    assert listed.returncode == 0, listed.stderr
    for journal in ("klapka.db-wal", "klapka.db-shm"):
        if (data / journal).exists():
            assert mode(data / journal) == 0o600
    assert loose(data) == []


def test_a_data_directory_left_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert klapka(data, "init").returncode == 0
    message = data / "voicemail" / "101" / "inbox" / "1.wav"
    message.parent.mkdir(parents=True)
    message.write_bytes(b"RIFF")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    upgrade = klapka(data, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert loose(data) == []
    assert mode(data) == 0o700
    assert mode(data / "klapka.db") == 0o600
    assert mode(message) == 0o600
    assert mode(message.parent) == 0o700
