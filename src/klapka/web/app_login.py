"""The page of the app login link (``<portal_url>/app-login#token=...``, in the welcome
email and its QR code, and on an extension's Clients tab).

The token is in the fragment, which the browser never sends to a server: the page reads it
once the browser is connected, and only looks at it (``app_login_offer``) to offer Linphone
its one-time provisioning URL ("Open in Linphone", its QR code, the address to paste). The
account details for another SIP app are shown only when the person asks, by exchanging the
token (``app_login``, once, audited); until then the page holds no secret.
"""

from __future__ import annotations

import base64

from nicegui import ui
from nicegui.client import ClientConnectionTimeout
from starlette.requests import Request

from klapka.domain.problems import KlapkaError
from klapka.services.welcome import app_login, app_login_offer
from klapka.web.frame import language_menu, the_pbx, translator_for
from klapka.web.i18n import Translator
from klapka.web.session import Visitor

# How long the page waits for the browser's connection before it gives up on it.
CONNECT_TIMEOUT = 30.0


@ui.page("/app-login")
async def app_login_page(request: Request) -> None:
    t = translator_for(request)
    ip = Visitor.of(request, the_pbx()).source_ip
    ui.page_title(f"{t('Set up your phone app')} · klapka")
    with ui.card().classes("mx-auto my-6 w-[34rem] max-w-[96vw]"):
        with ui.row().classes("w-full items-center justify-between"):
            ui.label(t("Set up your phone app")).classes("text-xl")
            language_menu(t, "flat dense round")
        ui.label(
            t(
                "This link signs a phone app in to your extension: Linphone (free for "
                "Android, iPhone, Windows, macOS and Linux) or another SIP app. It works once."
            )
        )
        holder = ui.column().classes("w-full").props('data-testid="app-login"')
    try:
        await ui.context.client.connected(timeout=CONNECT_TIMEOUT)
    except ClientConnectionTimeout:
        return
    fragment = str(await ui.run_javascript("location.hash") or "")
    token = fragment.removeprefix("#").removeprefix("token=")
    offer = app_login_offer(the_pbx(), token)
    with holder:
        if offer is None:
            _not_valid(t)
            return
        linphone = ui.column().classes("w-full")
        with linphone:
            ui.label(t("On the phone or computer that has Linphone:")).classes("font-medium")
            ui.link(t("Open in Linphone"), offer["linphone_link"]).classes(
                "q-btn q-btn--standard bg-primary text-white rounded px-4 py-2 no-underline"
            ).props('data-testid="open-linphone"')
            ui.label(
                t(
                    "Or, in Linphone: Assistant, Fetch remote configuration; scan this QR code or "
                    "paste the address below."
                )
            ).classes("text-sm")
            qr = base64.b64encode(offer["qr_png"]).decode()
            ui.image(f"data:image/png;base64,{qr}").classes("w-48 h-48").props(
                f'alt="{t("QR code for Linphone")}"'
            )
            ui.label(offer["provisioning_url"]).classes("font-mono text-xs break-all").props(
                'data-testid="provisioning-url"'
            )
        separator = ui.separator()
        ui.label(t("Another SIP app")).classes("font-medium")
        ui.label(
            t(
                "Show the account details to type into it. They are shown once: the link "
                "then stops working, also for Linphone."
            )
        ).classes("text-sm")
        details = ui.column().classes("w-full")
        problem = ui.label("").classes("text-negative").props('role="alert"')

        def show() -> None:
            problem.text = ""
            try:
                login = app_login(the_pbx(), token, ip)
            except KlapkaError as e:
                problem.text = str(e)
                return
            button.delete()
            linphone.delete()  # spent: Linphone would be refused now
            separator.delete()
            sip = login["sip"]
            rows = [
                (t("Server"), sip["server"]),
                (t("Port"), str(sip["port"])),
                (t("Transport"), sip["transport"].upper()),
                (t("Domain"), sip["domain"]),
                (t("Username"), sip["username"]),
                (t("Password"), sip["password"]),
                (t("Extension"), login["extension"]),
            ]
            with details, ui.grid(columns=2).classes("gap-x-4 gap-y-1"):
                for name, value in rows:
                    ui.label(name)
                    ui.label(value).classes("font-mono select-all")
            with details:
                ui.label(t("Keep the password to yourself; this page will not show it again."))

        button = ui.button(t("Show my account details"), on_click=show).props(
            'outline data-testid="show-account"'
        )


def _not_valid(t: Translator) -> None:
    ui.label(
        t("This link is unknown, already used or expired: ask your administrator for a new one.")
    ).classes("text-negative").props('role="alert" data-testid="link-not-valid"')
