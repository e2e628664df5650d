"""The configuration the voicemail tests start from: extensions 101-103 with SIP passwords
(``doc`` adds settings per extension), and a data directory with the session's prompts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103")}


def doc(*extensions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    by_number = {e["number"]: e for e in extensions}
    exts = [
        {"number": n, "sip_password": pw, **by_number.get(n, {})} for n, pw in PASSWORDS.items()
    ]
    return {"version": 1, "extensions": exts, **extra}


def data_dir(tmp_path: Path, prompt_cache: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(prompt_cache, data / "voicemail" / "prompts")
    return data
