"""Field-level changes between two JSON values: what the configuration document's dry run
lists and what the audit log records (``path: before -> after``, ``None`` = not set)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MISSING: Any = object()


@dataclass
class FieldChange:
    path: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


def diff(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Field-level differences of two JSON values; lists compare whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[FieldChange] = []
        for k in list(before) + [k for k in after if k not in before]:
            b, a = before.get(k, _MISSING), after.get(k, _MISSING)
            if b != a:
                out += diff(
                    None if b is _MISSING else b,
                    None if a is _MISSING else a,
                    f"{path}.{k}" if path else k,
                )
        return out
    return [] if before == after else [FieldChange(path, before, after)]
