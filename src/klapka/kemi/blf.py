"""The lamps (BLF, RFC 4235 dialog-info) of the extensions a call involves, as the call goes.

An extension's lamp follows its phones: ``early`` (ringing, with the caller's number and
name, for pickup) while a ring step rings them, ``confirmed`` while one of them is in the
call, back to idle when the step ends, another phone answers, or the call ends. The calling
extension's lamp is ``confirmed`` (the initiator) from its INVITE to the end of the call.
An extension the call was dialled to but whose phones it never rang (forwarded always, to
voicemail, ...) keeps its lamp as it was: nothing of it is busy.

klapka publishes each state itself, per call and extension, straight into the presence
module's table (``pua_json``: no PUBLISH on the wire), and the presence module notifies the
watchers; it aggregates an extension's calls into one document (presence_dialoginfo). Only
watched extensions are published (one lookup in the presence module's memory); what was
published for a call is kept in its dialog (``$dlg_var(kl_blf)``), so that the end of the
call (the dialog module's event, whatever ended it: BYE, CANCEL, failure, timeout, a party
gone) switches off exactly those lamps.

Standard library only (runs inside Kamailio).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

AOR_DOMAIN = "klapka"  # as klapka.kemi.subscriptions: every presentity is sip:<number>@klapka
# {"l": {extension: "initiator" | "early" | "confirmed"}, "p": [caller number, name],
#  "d": the number dialled}
STATE_VAR = "$dlg_var(kl_blf)"
PARTY_AVP = "$avp(kl_blf_party)"  # the caller [number, name], for the ring steps
# A state lives this long unless replaced (the call's end replaces it): a day, longer than
# any call klapka lets last; the presence module keeps states in memory only.
LIFETIME = 86400
_QUOTE = {'"': "&quot;"}


def _uri(number: str) -> str:
    return f"sip:{number}@{AOR_DOMAIN}"


def _watched(number: str) -> bool:
    return bool(KSR.presence.pres_has_subscribers(_uri(number), "dialog") > 0)


def _load() -> dict[str, Any]:
    text = KSR.pv.get(STATE_VAR)
    return json.loads(text) if text else {}


def _publish(
    number: str,
    state: str,
    direction: str,
    party: list[str],
    tags: tuple[str, str],
    call_id: str = "",
) -> None:
    """One state of this call on ``number``'s lamp (pua_json writes the dialog-info
    document; values go in as they are, so they are escaped here). ``tags``: this
    extension's side's and the other side's."""
    other, name = party
    own_tag, other_tag = tags
    doc = {
        "Event-Name": "update",
        "Event-Package": "dialog",
        "Presentity": _uri(number),
        "Presentity-User": number,
        "Presentity-Realm": AOR_DOMAIN,
        "From": _uri(number),
        "From-User": escape(number, _QUOTE),
        "From-Realm": AOR_DOMAIN,
        "To": escape(_uri(other) if other.isdigit() else other or "anonymous", _QUOTE),
        "To-User": escape(name or other, _QUOTE),
        "Call-ID": escape(call_id or KSR.pv.get("$ci") or "", _QUOTE),
        "From-Tag": escape(own_tag, _QUOTE),
        "To-Tag": escape(other_tag, _QUOTE),
        "Direction": direction,
        "State": state,
        "Expires": 0 if state == "terminated" else LIFETIME,
    }
    KSR.pua_json.publish(json.dumps(doc, ensure_ascii=False))


def begin(caller: str, name: str, extension: str | None, dialled: str) -> None:
    """A new call, its dialog made: ``caller`` (number) and ``name`` for the lamps of the
    phones it rings; the calling ``extension`` (an internal call) is in a call from now."""
    KSR.pv.sets(PARTY_AVP, json.dumps([caller, name]))
    if extension and _watched(extension):
        from_tag = KSR.pv.get("$ft") or ""
        _publish(extension, "confirmed", "initiator", [dialled, ""], (from_tag, ""))
        party = [caller, name]
        KSR.pv.sets(
            STATE_VAR, json.dumps({"l": {extension: "initiator"}, "p": party, "d": dialled})
        )


def ringing(extensions: Iterable[str]) -> None:
    """A ring step rings the phones of ``extensions`` (none: the call went on elsewhere,
    to voicemail or a number outside): the lamps of those it rang before and rings no
    more go back to idle, the newly rung ones blink with the caller."""
    state = _load()
    lamps: dict[str, str] = state.get("l", {})
    rung = set(extensions)
    changed = False
    party = state.get("p") or json.loads(KSR.pv.get(PARTY_AVP) or '["", ""]')
    from_tag = KSR.pv.get("$ft") or ""
    for number, lamp in list(lamps.items()):
        if lamp == "early" and number not in rung:
            _publish(number, "terminated", "recipient", party, ("", from_tag))
            del lamps[number]
            changed = True
    for number in sorted(rung):
        if number not in lamps and _watched(number):
            _publish(number, "early", "recipient", party, ("", from_tag))
            lamps[number] = "early"
            changed = True
    if changed:
        KSR.pv.sets(STATE_VAR, json.dumps({**state, "l": lamps, "p": party}))


def answered(extension: str | None) -> None:
    """The call is answered: by a phone of ``extension`` (in the call from now), or by
    something else (None: voicemail, a number outside); the other lamps go back to idle."""
    state = _load()
    lamps: dict[str, str] = state.get("l", {})
    if not lamps and not (extension and _watched(extension)):
        return
    party = state.get("p") or json.loads(KSR.pv.get(PARTY_AVP) or '["", ""]')
    from_tag = KSR.pv.get("$ft") or ""
    to_tag = KSR.pv.get("$tt") or ""
    for number, lamp in list(lamps.items()):
        if lamp == "early" and number != extension:
            _publish(number, "terminated", "recipient", party, ("", from_tag))
            del lamps[number]
    now = lamps.get(extension or "")
    if extension and now != "initiator" and (now or _watched(extension)):
        _publish(extension, "confirmed", "recipient", party, (to_tag, from_tag))
        lamps[extension] = "confirmed"
    KSR.pv.sets(STATE_VAR, json.dumps({**state, "l": lamps, "p": party}))


def ended() -> None:
    """The call's dialog ended (or failed): every lamp it lit goes back to idle."""
    state = _load()
    lamps: dict[str, str] = state.get("l", {})
    if not lamps:
        return
    party = state.get("p") or ["", ""]
    call_id = KSR.pv.get("$dlg(callid)") or ""
    from_tag = KSR.pv.get("$dlg(from_tag)") or ""
    to_tag = KSR.pv.get("$dlg(to_tag)") or ""
    for number, lamp in lamps.items():
        if lamp == "initiator":
            dialled = [state.get("d") or "", ""]
            _publish(number, "terminated", "initiator", dialled, (from_tag, to_tag), call_id)
        else:
            _publish(number, "terminated", "recipient", party, (to_tag, from_tag), call_id)
    KSR.pv.sets(STATE_VAR, "")
