"""Who may watch whom (BLF, presence), for the KEMI adapter at SUBSCRIBE and its refreshes,
and for ``klapka serve`` ending the subscriptions a change no longer allows
(``klapka.sip.subscription_rights``). Standard library only: it runs inside Kamailio too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The request URI user of the MESSAGE by which klapka serve has Kamailio end subscriptions
# (sent by Kamailio to itself: accepted only from its own socket).
CONTROL_USER = "klapka-subscriptions"


def sees(account: Mapping[str, Any], number: str) -> bool:
    """Whether the account's extension may see ``number`` (its own always): its ``sees`` is
    ``[true, [hidden...]]`` or ``[false, [visible...]]`` (the client permission rules)."""
    if number == account["extension"]:
        return True
    everything, numbers = account.get("sees") or (True, ())
    return (number not in numbers) if everything else (number in numbers)
