"""Live status of extensions from the SIP core, as the admin's extension list and the
portal's colleagues page show it."""

from __future__ import annotations

from klapka.domain.problems import KlapkaError
from klapka.services.telephony.registrations import Registrations
from klapka.web.frame import PageContext


def registration_status(ctx: PageContext, numbers: list[str]) -> dict[str, str]:
    """Live status per extension from the SIP core: ``registered``, ``unregistered`` (and,
    where the SIP core tells, ``ringing`` or ``in_call``); ``unknown`` when it is not running."""
    try:
        return Registrations(ctx.pbx).statuses(numbers)
    except (KlapkaError, OSError):
        return dict.fromkeys(numbers, "unknown")
