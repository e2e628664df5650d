"""Feature codes: what a user dials on the phone to change their own settings.

Each code acts as the extension's own user (so the preference rules hold exactly as in the
portal) on the settings of the extension's current presence status, for internal and
external calls alike. The list (``CODES``) is documented in docs/feature-codes.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from klapka.domain.destinations import DestinationType
from klapka.domain.problems import Forbidden, InvalidInput, KlapkaError, NotFound
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal, phone_user
from klapka.services.telephony.hot_desk import LOGIN_CODE, LOGOUT_CODE, HotDesk

DND = "do_not_disturb"
# The presence switch: *80 + the status's digit.
STATUS_DIGITS = {
    "1": "available",
    "2": "away",
    "3": "business_trip",
    "4": "do_not_disturb",
    "5": "lunch_break",
    "6": "off_work",
}
# Forwarding codes: on (+ number) and off, per rule.
FORWARD_CODES = {"*72": "always", "*90": "busy", "*92": "no_answer"}
FORWARD_OFF_CODES = {"*73": "always", "*91": "busy", "*93": "no_answer"}
# What "off" restores: the defaults of docs/settings.md.
RULE_DEFAULTS: dict[str, Any] = {
    "always": False,
    "busy": {"voicemail": True},
    "no_answer": {"voicemail": True},
}

CODES = {
    "*78": "do not disturb on",
    "*79": "do not disturb off (back to available)",
    "*80N": "presence: N = 1 available, 2 away, 3 business trip, 4 do not disturb, "
    "5 lunch break, 6 off work",
    "*72NUMBER": "forward always to NUMBER (an extension, ring group, queue or outside number)",
    "*73": "forward always off",
    "*90NUMBER": "forward on busy to NUMBER",
    "*91": "forward on busy off (back to voicemail)",
    "*92NUMBER": "forward on no answer to NUMBER",
    "*93": "forward on no answer off (back to voicemail)",
    "*62EXT*PIN": "hot desking: log in at this hot-desk phone as EXT with its voicemail PIN",
    "*63": "hot desking: log out (the phone goes back to its guest account)",
}


@dataclass(frozen=True)
class Result:
    """What the phone is told: a SIP status and a reason phrase naming the new state."""

    sip_code: int
    message: str


def loggable(dialled: str) -> str:
    """``dialled`` as it may be logged: a hot-desk login's PIN (``*62EXT*PIN``) masked."""
    if dialled.startswith(LOGIN_CODE) and "*" in dialled[len(LOGIN_CODE) :]:
        head, _star, pin = dialled.rpartition("*")
        return f"{head}*{'*' * len(pin)}"
    return dialled


class FeatureCodes:
    def __init__(self, pbx: Pbx, hot_desk: HotDesk | None = None) -> None:
        self.pbx = pbx
        self.hot_desk = hot_desk

    def dial(self, extension: str, dialled: str, principal: Principal | None = None) -> Result:
        """Apply ``dialled`` for ``extension``'s user; never raises for a user's mistake.
        ``principal``: who dials (the control socket passes ``phone_user(extension)``, also
        the default); the service checks it as for any caller."""
        principal = principal or phone_user(extension)
        if dialled.startswith((LOGIN_CODE, LOGOUT_CODE)):
            return self._hot_desk(extension, dialled)
        objects = Objects(self.pbx, principal)
        try:
            return self._apply(objects, extension, dialled)
        except Forbidden:
            return Result(403, "Not permitted for this extension")
        except NotFound as e:
            return Result(404, str(e)[:100])
        except InvalidInput as e:
            return Result(400, str(e)[:100])
        except KlapkaError as e:
            return Result(500, str(e)[:100])

    def _hot_desk(self, extension: str, dialled: str) -> Result:
        """Log in (``*62EXT*PIN``) or out (``*63``) at a hot-desk phone: the phone's own
        account dials, so no permission rule of the user applies; the PIN proves who."""
        desk = self.hot_desk or HotDesk(self.pbx)
        if dialled == LOGOUT_CODE:
            answer = desk.logout(extension)
        else:
            number, star, pin = dialled[len(LOGIN_CODE) :].partition("*")
            if not (star and number.isdigit() and pin.isdigit()):
                return Result(484, "Dial *62, your extension, * and your PIN")
            answer = desk.login(extension, number, pin)
        return Result(answer.sip_code, answer.message)

    def _apply(self, objects: Objects, extension: str, dialled: str) -> Result:
        if dialled == "*78":
            objects.set_presence(extension, PresenceStatus(DND))
            return Result(200, "Do not disturb on")
        if dialled == "*79":
            objects.set_presence(extension, PresenceStatus("available"))
            return Result(200, "Do not disturb off: available")
        if dialled.startswith("*80") and len(dialled) == 4:
            status = STATUS_DIGITS.get(dialled[3])
            if status is None:
                return Result(404, "No such presence status (1 to 6)")
            objects.set_presence(extension, PresenceStatus(status))
            return Result(200, f"Presence: {status.replace('_', ' ')}")
        if dialled in FORWARD_OFF_CODES:
            rule = FORWARD_OFF_CODES[dialled]
            return self._forward(objects, extension, rule, RULE_DEFAULTS[rule], "off")
        forward = FORWARD_CODES.get(dialled[:3])
        number = dialled[3:]
        if forward is None:
            return Result(404, "Unknown feature code")
        if not number or not all(c.isdigit() or c == "+" for c in number):
            return Result(484, "Dial the code and then the number")
        return self._forward(objects, extension, forward, self._destination(number), f"to {number}")

    def _destination(self, number: str) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            for kind, key in (
                (Kind.EXTENSION, DestinationType.EXTENSION),
                (Kind.RING_GROUP, DestinationType.RING_GROUP),
                (Kind.QUEUE, DestinationType.QUEUE),
            ):
                if repo.id_of(kind, number) is not None:
                    return {key.value: number}
        return {DestinationType.EXTERNAL_NUMBER.value: number}

    def _forward(self, objects: Objects, extension: str, rule: str, dest: Any, what: str) -> Result:
        status = objects.get(Kind.EXTENSION, extension)["presence"]
        if status == DND and rule != "always":
            return Result(403, "Do not disturb has only the always rule")
        patch = {kind: {rule: dest} for kind in ("internal", "external")}
        objects.patch_part(Kind.EXTENSION, extension, f"presence_settings.{status}", patch)
        label = {"always": "Forward always", "busy": "Forward on busy"}.get(
            rule, "Forward on no answer"
        )
        return Result(200, f"{label} {what} ({status.replace('_', ' ')})")
