"""The user portal's browser phone ("Phone"): the signed-in user's own extension in the
browser, registered over SIP over WebSocket, with calls, hold, transfer, mute, a keypad,
incoming-call notifications and a choice of audio devices. The phone itself is JavaScript
(``static/phone.js`` on JsSIP, ``static/jssip.min.js``, shipped with klapka); this page
lays it out and hands it the user's SIP account (``services.telephony.web_phone``)."""

from __future__ import annotations

import json
from html import escape

from nicegui import ui
from starlette.requests import Request
from starlette.responses import Response

from klapka.services.telephony import web_phone
from klapka.web.frame import PageContext
from klapka.web.portal import portal_page

STATIC = "/ui/static"  # klapka.web.mount serves static/ there

# What phone.js shows, translated for the page's language.
WORDS = (
    "Registered", "Not registered", "Registration failed", "Disconnected", "Connecting",
    "SIP over WebSocket is off", "Incoming call", "Calling", "Ringing", "In call", "On hold",
    "Call ended", "Hold", "Resume", "Mute", "Unmute", "Default",
)  # fmt: skip
KEYS = "123456789*0#"


def _key_id(key: str) -> str:
    return {"*": "star", "#": "hash"}.get(key, key)


def _layout(ctx: PageContext) -> str:
    t = ctx.t
    button = "px-4 py-2 rounded text-white font-medium"
    keys = "".join(
        f'<button type="button" id="phone-key-{_key_id(k)}" data-testid="phone-key-{_key_id(k)}" '
        f'class="w-14 h-12 rounded border border-gray-400 text-lg" aria-label="{k}">{k}</button>'
        for k in KEYS
    )
    return f"""
<div class="flex flex-col gap-4 max-w-md">
  <p><span class="font-medium">{escape(t("Status"))}:</span>
     <span id="phone-status" data-testid="phone-status" data-state="connecting" role="status"></span></p>
  <label class="flex flex-col gap-1" for="phone-number">{escape(t("Number"))}
    <input id="phone-number" data-testid="phone-number" type="tel" autocomplete="off"
           class="border border-gray-500 rounded px-3 py-2 text-lg"></label>
  <div class="flex flex-wrap gap-2">
    <button type="button" id="phone-call" data-testid="phone-call" class="{button} bg-green-800">{escape(t("Call"))}</button>
    <button type="button" id="phone-answer" data-testid="phone-answer" class="{button} bg-green-800" hidden>{escape(t("Answer"))}</button>
    <button type="button" id="phone-decline" data-testid="phone-decline" class="{button} bg-red-800" hidden>{escape(t("Decline"))}</button>
    <button type="button" id="phone-hangup" data-testid="phone-hangup" class="{button} bg-red-800" hidden>{escape(t("Hang up"))}</button>
    <button type="button" id="phone-hold" data-testid="phone-hold" class="{button} bg-gray-700" hidden></button>
    <button type="button" id="phone-mute" data-testid="phone-mute" class="{button} bg-gray-700" hidden></button>
    <button type="button" id="phone-transfer" data-testid="phone-transfer" class="{button} bg-gray-700" hidden>{escape(t("Transfer to the number"))}</button>
  </div>
  <p id="phone-call-state" data-testid="phone-call-state" data-state="idle" role="status" aria-live="polite" class="text-lg"></p>
  <div aria-label="{escape(t("Received audio"))}" class="h-2 w-full bg-gray-200 rounded">
    <div id="phone-meter" data-testid="phone-meter" data-level="0" class="h-2 bg-green-700 rounded" style="width:0%"></div></div>
  <p id="phone-last" data-testid="phone-last" class="text-sm text-gray-700"></p>
  <div role="group" aria-label="{escape(t("Keypad"))}" class="grid grid-cols-3 gap-2 w-48">{keys}</div>
  <label class="flex flex-col gap-1" for="phone-mic">{escape(t("Microphone"))}
    <select id="phone-mic" data-testid="phone-mic" class="border border-gray-500 rounded px-2 py-1"></select></label>
  <label class="flex flex-col gap-1" for="phone-speaker">{escape(t("Speaker"))}
    <select id="phone-speaker" data-testid="phone-speaker" class="border border-gray-500 rounded px-2 py-1"></select></label>
</div>"""


@ui.page("/me/phone")
def my_phone(request: Request) -> Response | None:
    ctx = portal_page(request, "Phone", None)
    if not isinstance(ctx, PageContext):
        return ctx
    settings = ctx.attempt(lambda p: web_phone.settings_for(ctx.pbx, p), None)
    if settings is None:
        ui.label(ctx.t("The browser phone is not available for your extension.")).classes(
            "text-negative"
        ).props('role="alert" data-testid="phone-unavailable"')
        return None
    config = {
        "username": settings["username"],
        "password": settings["password"],
        "display_name": settings["display_name"],
        "domain": settings["domain"],
        "ws": settings["ws"],
        "wss": settings["wss"],
        "words": {w: ctx.t(w) for w in WORDS},
    }
    ui.html(_layout(ctx), sanitize=False)
    # The account, then the library and the phone (which waits for the layout to be drawn).
    data = json.dumps(config).replace("<", "\\u003c")  # no "</script>" nor "<!--" in it
    ui.add_body_html(
        f"<script>window.klapkaPhone = {data};</script>"
        f'<script src="{STATIC}/jssip.min.js"></script><script src="{STATIC}/phone.js"></script>'
    )
    return None
