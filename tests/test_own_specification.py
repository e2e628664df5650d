"""The repository owns its specification: the call-routing rules, the settings reference and
the configuration format are in docs/, and no tracked file points at design documents
outside the repository (docs/call-routing.md, docs/settings.md, docs/configuration.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Written in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\b(?:SETTINGS|CALL-ROUTING|CONFIG-FORMAT|ARCHITECTURE|STYLE)\." + "md",
            r"\.\./" + "shared",
            r"\bshared/" + "(?:design|seed)",
        ]
    )
)


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / p for p in out.split("\0") if p]


def test_no_tracked_file_points_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        if not path.is_file():
            continue  # deleted in the working tree
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found, "cite the repository's docs/ instead:\n" + "\n".join(found)


def test_the_pattern_catches_what_it_should() -> None:
    for text in (
        "see CALL-ROUTING" + ".md rule 3",
        "SETTINGS" + ".md's policy",
        "../" + "shared" + "/design/x",
        "shared/" + "seed/guide.txt",
    ):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("docs/settings.md and docs/call-routing.md")


def test_the_specification_is_here() -> None:
    routing = (ROOT / "docs" / "call-routing.md").read_text()
    for heading in (
        "## 1. Words",
        "## 3. Effective presence at a moment",
        "## 4. Routing a call to extension E",
        "## 5. Destinations and forward chains",
        "## 6. Ring groups and queues",
        "## 7. Outbound calls from extension E to number N",
        "## 8. Inbound calls",
        "## 10. The simulator",
        "### The answer as JSON",
    ):
        assert heading in routing, heading
    assert (ROOT / "docs" / "settings.md").exists()
    assert "## The document" in (ROOT / "docs" / "configuration.md").read_text()
