"""Which dialled strings are feature codes (what they do is the control plane's business).

The SIP core asks this before routing a call: a feature code never rings anyone.
"""

from __future__ import annotations

SIMPLE = frozenset({"*78", "*79", "*73", "*91", "*93"})  # DND on/off, forwards off
WITH_NUMBER = frozenset({"*72", "*90", "*92"})  # forward always / busy / no answer + number
PRESENCE = "*80"  # + one digit
HOT_DESK_LOGIN = "*62"  # + extension + "*" + PIN (a malformed one is answered too)
HOT_DESK_LOGOUT = "*63"


def is_feature_code(dialled: str) -> bool:
    if dialled in SIMPLE or dialled == HOT_DESK_LOGOUT:
        return True
    if dialled.startswith(HOT_DESK_LOGIN):
        return True
    if dialled.startswith(PRESENCE):
        return len(dialled) == len(PRESENCE) + 1
    return dialled[:3] in WITH_NUMBER
