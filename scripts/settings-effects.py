#!/usr/bin/env python3
"""Write the table "Where each setting takes effect" of docs/settings.md from
klapka.domain.effects (tests/domain/test_setting_effects.py checks it is up to date)."""

from __future__ import annotations

from pathlib import Path

from klapka.domain.effects import markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
BEGIN, END = "<!-- effects: begin -->\n", "<!-- effects: end -->"

text = DOC.read_text()
head, rest = text.split(BEGIN, 1)
_old, tail = rest.split(END, 1)
DOC.write_text(head + BEGIN + markdown() + END + tail)
print(f"{DOC}: written")
