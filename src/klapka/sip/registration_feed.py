"""Registration changes as events of the stream: ``registration.changed`` when an extension
becomes registered (its first phone registers) or stops being registered (its last contact
is gone: unregistered, expired, or removed by klapka).

A thread of ``klapka serve`` asks the SIP core which extensions have a contact
(``ul.dump brief``) every ``MIN_SECONDS``, or ten times as long as the last answer took
(10,000 registered extensions answer in about 0.2 s: every 2 s, a tenth of a core at most).
The first answer after klapka starts is where the stream starts: it tells nothing. A
contact that expires is seen once usrloc's timer removes it (within 10 s).
"""

from __future__ import annotations

import logging
import time
from threading import Event

from klapka.services import webhooks
from klapka.services.pbx import Pbx
from klapka.services.telephony.registrations import Registrations, SipCoreUnavailable

log = logging.getLogger("klapka.sip")

MIN_SECONDS = 1.0
TIMEOUT_SECONDS = 5.0


class RegistrationFeed:
    def __init__(self, pbx: Pbx, registrations: Registrations) -> None:
        self.pbx = pbx
        self.registrations = registrations
        self.known: set[str] | None = None  # the registered extensions last told

    def update(self) -> int:
        """Ask the SIP core and tell what changed; the number of events (SipCoreUnavailable
        while Kamailio does not answer)."""
        now = self.registrations.registered(timeout=TIMEOUT_SECONDS)
        if self.known is None:
            self.known = now
            return 0
        came, went = sorted(now - self.known), sorted(self.known - now)
        if came or went:
            with self.pbx.tx() as repo:
                for number, registered in [(n, True) for n in came] + [(n, False) for n in went]:
                    webhooks.emit(repo.conn, "registration.changed",
                                  {"extension": number, "registered": registered})  # fmt: skip
        self.known = now
        return len(came) + len(went)


def run(feed: RegistrationFeed, stopping: Event) -> None:
    """Until ``stopping``: tell the changes, as often as the SIP core's answers allow."""
    wait = MIN_SECONDS
    while not stopping.wait(wait):
        started = time.monotonic()
        try:
            feed.update()
            wait = max(MIN_SECONDS, 10 * (time.monotonic() - started))
        except SipCoreUnavailable:
            wait = MIN_SECONDS  # Kamailio (re)starting: the next answer tells what changed
        except Exception:
            log.exception("could not tell the registration changes")
            wait = 5.0
