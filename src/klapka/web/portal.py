"""The user portal: my status, my forwarding, voicemail, notifications, colleagues,
contacts and password.

Every page acts on the signed-in user's own extension through the same services as
``/api/v1/me/...``; the client permissions decide which menus show (a hidden menu's page
says it is not available) and which settings the user may change (the others are shown
read-only; the service refuses them anyway).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import Response

from klapka.domain.extension import UrlPopupCallType, UrlPopupTrigger
from klapka.domain.problems import Forbidden
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services import url_popup
from klapka.services.accounts.user_passwords import UserPasswords
from klapka.services.directory import contacts
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import dump_yaml, load_yaml
from klapka.services.live import LiveEvent
from klapka.services.principal import Principal
from klapka.services.telephony.mailbox_access import MailboxAccess
from klapka.services.telephony.mwi import notify_mailbox
from klapka.services.telephony.voicemail import NEW, OLD, VoicemailStore
from klapka.store.database import data_dir
from klapka.web import extension_tabs
from klapka.web.forms import Field, Form
from klapka.web.frame import PageContext, not_available, open_page
from klapka.web.live import of_kinds, on_events
from klapka.web.live_status import registration_status

KIND = Kind.EXTENSION
PAGE_SIZE = 50


def own(p: Principal) -> str:
    if p.extension is None:
        raise Forbidden("this page belongs to an extension's user")
    return p.extension


def portal_page(request: Request, title: str, menu: str | None) -> PageContext | Response | None:
    """The frame, or None when the user's menus hide this page (it says so)."""
    ctx = open_page(request, title)
    if not isinstance(ctx, PageContext):
        return ctx
    if ctx.principal.extension is None or not ctx.menu_allowed(menu):
        not_available(ctx)
        return None
    open_url_popups(ctx)
    return ctx


def open_url_popups(ctx: PageContext) -> None:
    """While a portal page is open: the URL popup of the user's extension
    (``features.url_popup``) opens each call's URL in a new tab at its trigger, as the event
    comes, and the page keeps a link to the last one (a browser that blocks the new tab:
    click it)."""
    number = url_popup.opens_for(ctx.pbx, ctx.principal)
    if number is None:
        return
    link = ui.link("", "#", new_tab=True).props('data-testid="url-popup-link"').classes("text-sm")
    link.set_visibility(False)

    def show(events: list[LiveEvent]) -> None:
        for event in events:
            url = event.data["url"]
            ui.navigate.to(url, new_tab=True)
            link.text = ctx.t("Call: {url}", url=url)
            link._props["href"] = url
            link.update()
            link.set_visibility(True)

    mine = lambda e: e.event == "url_popup" and e.data.get("extension") == number  # noqa: E731
    on_events(ctx, mine, show)


def read_only_note(ctx: PageContext) -> None:
    ui.label(ctx.t("You may not change this; ask your administrator.")).classes(
        "text-sm text-orange-9"
    ).props('data-testid="read-only"')


def save_button(ctx: PageContext, form: Form, action: Callable[[Principal], Any]) -> None:
    def save() -> None:
        form.clear_problems()
        if ctx.attempt(action, form.show_problems) is not None:
            ui.notify(ctx.t("Saved"), type="positive")

    ui.button(ctx.t("Save"), icon="save", on_click=save).props('data-testid="save"').classes("mt-3")


def _mine(ctx: PageContext) -> dict[str, Any] | None:
    return ctx.attempt(lambda p: Objects(ctx.pbx, p).get(KIND, own(p)), None)


@ui.page("/me")
def my_status(request: Request) -> Response | None:
    ctx = portal_page(request, "My status", None)
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    ext = _mine(ctx)
    if ext is None:
        return None
    name = " ".join(x for x in (ext["first_name"], ext["last_name"]) if x)
    with ui.card().classes("w-full max-w-[40rem]"):
        ui.label(f"{ext['number']} · {name}").classes("text-xl font-bold")
        ui.label(t("My status")).classes("text-base")
        current = (
            ui.label(t(ext["presence"]))
            .classes("text-lg text-primary")
            .props('data-testid="current-status"')
        )
        form = Form(t)
        with ui.row().classes("w-full gap-2"):
            for status in PresenceStatus:
                ui.button(t(status.value), on_click=lambda s=status.value: set_status(s)).props(
                    f'outline data-testid="status-{status.value}"'
                )
        note = form.text("presence_note", "Note", ext["presence_note"])
        note.classes("w-full")
        ui.button(t("Set status"), on_click=lambda: set_status(None)).props(
            'data-testid="set-note"'
        )
        if not ctx.preferences.get("presence_forwarding", True):
            read_only_note(ctx)

    def set_status(status: str | None) -> None:
        form.clear_problems()

        def change(p: Principal) -> dict[str, Any]:
            objects = Objects(ctx.pbx, p)
            wanted = status or objects.get(KIND, own(p))["presence"]
            return objects.set_presence(own(p), PresenceStatus(wanted), note.value or "")

        state = ctx.attempt(change, form.show_problems)
        if state is not None:
            current.text = t(state["presence"])
            ui.notify(t("Status set"), type="positive")

    return None


@ui.page("/me/forwarding")
def my_forwarding(request: Request) -> Response | None:
    ctx = portal_page(request, "Forwarding", "settings")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    ext = _mine(ctx)
    if ext is None:
        return None
    forward = ctx.preferences.get("presence_forwarding", True)
    ring = ctx.preferences.get("ring_strategy", True)
    chooser = extension_tabs.status_chooser(t, ext["presence"])
    holder = ui.column().classes("w-full max-w-[48rem]")

    def draw() -> None:
        holder.clear()
        status = chooser.value
        fresh = _mine(ctx) or ext
        with holder:
            if not (forward or ring):
                read_only_note(ctx)
                return
            form = Form(t)
            extension_tabs.presence_fields(form, fresh, status, ring=ring, forward=forward)
            path = f"presence_settings.{status}"
            save_button(
                ctx,
                form,
                lambda p: Objects(ctx.pbx, p).patch_part(KIND, own(p), path, form.values(path)),
            )

    chooser.on_value_change(lambda _e: draw())
    draw()
    return None


@ui.page("/me/voicemail")
def my_voicemail(request: Request) -> Response | None:
    ctx = portal_page(request, "Voicemail", "voicemail")
    if not isinstance(ctx, PageContext):
        return ctx
    ext = _mine(ctx)
    if ext is None:
        return None
    voicemail_messages(ctx)
    editable = ctx.preferences.get("voicemail", True)
    with ui.card().classes("w-full max-w-[48rem]"):
        box = ui.column().classes("w-full")
        with box:
            form = Form(ctx.t)
            extension_tabs.voicemail_fields(form, ext, limits=False)
        if editable:
            save_button(
                ctx,
                form,
                lambda p: Objects(ctx.pbx, p).patch_part(
                    KIND, own(p), "voicemail", form.values("voicemail")
                ),
            )
        else:
            box.classes("pointer-events-none opacity-60")
            read_only_note(ctx)
    return None


def voicemail_messages(ctx: PageContext, mailbox: str | None = None) -> None:
    """The messages of my mailbox (or, for an admin, of ``mailbox``), newest first: listen
    (the API's audio URL, with this browser's session cookie), mark heard or new, delete.
    The phones' message light follows."""
    t = ctx.t
    store = VoicemailStore(ctx.pbx, data_dir())
    with ui.card().classes("w-full max-w-[48rem]"):
        ui.label(t("Messages")).classes("text-lg font-bold")
        box = ui.column().classes("w-full gap-2").props('data-testid="voicemail-messages"')

    def mine(p: Principal) -> MailboxAccess:
        return MailboxAccess(store, p, mailbox)

    audio_base = (
        f"/api/v1/extensions/{mailbox}/voicemail/messages"
        if mailbox
        else "/api/v1/me/voicemail/messages"
    )

    def changed(box: MailboxAccess) -> None:
        with contextlib.suppress(OSError):  # no SIP core: nothing to tell the phones
            notify_mailbox(store.data_dir, box.number, *box.counts())

    def zone_of(p: Principal) -> str:
        mailbox = store.mailbox(mine(p).number)
        return mailbox.timezone if mailbox is not None else "UTC"

    zone = ZoneInfo(ctx.attempt(zone_of, None) or "UTC")

    def refresh() -> None:
        found = ctx.attempt(lambda p: mine(p).messages(), None) or []
        box.clear()
        with box:
            if not found:
                ui.label(t("No messages.")).classes("text-grey-7")
            for m in reversed(found):
                with (
                    ui.row()
                    .classes("items-center gap-2 w-full")
                    .props('data-testid="voicemail-message"')
                ):
                    if m.state == NEW:
                        ui.badge(t("new"), color="orange")
                    ui.label(f"{m.caller_name} {m.caller_number}".strip()).classes("font-bold")
                    ui.label(
                        f"{m.received_at.astimezone(zone):%Y-%m-%d %H:%M %Z} · "
                        f"{round(m.duration_ms / 1000)} s"
                    ).classes("text-sm text-grey-8")
                    # A plain element: NiceGUI's ui.audio would put /ui in front of the path.
                    ui.element("audio").props(
                        f'controls preload=none src="{audio_base}/{m.id}/audio"'
                    ).classes("h-8")
                    other = OLD if m.state == NEW else NEW
                    ui.button(
                        t("Mark heard") if other == OLD else t("Mark new"),
                        on_click=lambda m=m, other=other: act(lambda p: mine(p).mark(m.id, other)),
                    ).props("flat dense")
                    ui.button(
                        icon="delete",
                        on_click=lambda m=m: act(lambda p: mine(p).delete(m.id)),
                    ).props(f'flat dense color=negative aria-label="{t("Delete")}"')

    def act(action: Callable[[Principal], Any]) -> None:
        def run(p: Principal) -> bool:
            action(p)
            changed(mine(p))
            return True

        if ctx.attempt(run, None):
            refresh()

    refresh()


@ui.page("/me/notifications")
def my_notifications(request: Request) -> Response | None:
    ctx = portal_page(request, "Notifications", "settings")
    if not isinstance(ctx, PageContext):
        return ctx
    ext = _mine(ctx)
    if ext is None:
        return None
    editable = ctx.preferences.get("notifications", True)
    with ui.card().classes("w-full max-w-[40rem]"):
        box = ui.column()
        with box:
            form = Form(ctx.t)
            extension_tabs.notification_fields(form, ext)
        if editable:
            save_button(
                ctx,
                form,
                lambda p: Objects(ctx.pbx, p).patch_part(
                    KIND, own(p), "features", form.values("features")
                ),
            )
        else:
            box.classes("pointer-events-none opacity-60")
            read_only_note(ctx)
    return None


@ui.page("/me/colleagues")
def my_colleagues(request: Request) -> Response | None:
    """The extensions the user may see (extension visibility), with their presence."""
    ctx = portal_page(request, "Colleagues", "extensions")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    state: dict[str, Any] = {"q": "", "offset": 0}
    search = ui.input(t("Search"), placeholder=t("Number, name or email")).props(
        'clearable debounce=300 type=search data-testid="colleague-search"'
    )
    columns = [
        {"name": "number", "label": t("Number"), "field": "number", "align": "left"},
        {"name": "name", "label": t("Name"), "field": "name", "align": "left"},
        {"name": "presence", "label": t("Presence"), "field": "presence", "align": "left"},
        {"name": "note", "label": t("Note"), "field": "note", "align": "left"},
        {"name": "phone", "label": t("Registration"), "field": "phone", "align": "left"},
    ]
    table = (
        ui.table(columns=columns, rows=[], row_key="number")
        .props('flat bordered dense data-testid="colleague-table"')
        .classes("w-full")
    )
    with ui.row().classes("items-center gap-2"):
        previous = ui.button(t("Previous"), on_click=lambda: move(-PAGE_SIZE)).props("flat")
        counter = ui.label("").props('data-testid="colleague-count"')
        following = ui.button(t("Next"), on_click=lambda: move(PAGE_SIZE)).props("flat")

    def refresh() -> None:
        page = ctx.attempt(
            lambda p: Objects(ctx.pbx, p).list(
                KIND, q=state["q"] or None, limit=PAGE_SIZE, offset=state["offset"]
            ),
            None,
        )
        if page is None:
            return
        # Live, as the API's list shows it: the page's (visible) extensions only.
        live = registration_status(ctx, [e["number"] for e in page.items])
        table.rows = [
            {
                "number": e["number"],
                "name": " ".join(x for x in (e["first_name"], e["last_name"]) if x),
                "presence": t(e["presence"]),
                "note": e["presence_note"],
                "phone": t(live.get(e["number"], "unknown")),
            }
            for e in page.items
        ]
        table.update()
        first = page.offset + 1 if page.total else 0
        last = min(page.offset + PAGE_SIZE, page.total)
        counter.text = t("{first}–{last} of {total}", first=first, last=last, total=page.total)
        previous.set_enabled(page.offset > 0)
        following.set_enabled(last < page.total)

    def move(delta: int) -> None:
        state["offset"] = max(0, state["offset"] + delta)
        refresh()

    def searched(e: Any) -> None:
        state["q"] = (e.value or "").strip()
        state["offset"] = 0
        refresh()

    search.on_value_change(searched)
    refresh()
    # Redrawn as presence, registrations and calls change (at most once a second), and every
    # half minute (without a SIP core there are no events).
    on_events(ctx, of_kinds("presence.", "registration.", "call."), lambda _e: refresh(), 1.0)
    ui.timer(30.0, refresh)
    return None


def _contact_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": c["id"],
            "name": " ".join(x for x in (c.get("first_name"), c.get("last_name")) if x),
            "company": c.get("company", ""),
            "email": c.get("email") or "",
            "numbers": ", ".join(n["number"] for n in c.get("numbers", [])),
        }
        for c in items
    ]


@ui.page("/me/contacts")
def my_contacts(request: Request) -> Response | None:
    ctx = portal_page(request, "Contacts", "contacts")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    columns = [
        {"name": "name", "label": t("Name"), "field": "name", "align": "left"},
        {"name": "company", "label": t("Company"), "field": "company", "align": "left"},
        {"name": "email", "label": t("Email"), "field": "email", "align": "left"},
        {"name": "numbers", "label": t("Phone numbers"), "field": "numbers", "align": "left"},
    ]
    if ctx.contacts != "none":
        ui.label(t("Company contacts")).classes("text-lg font-bold")
        company = ctx.attempt(lambda p: contacts.list_company(ctx.pbx, p, limit=200), None)
        ui.table(
            columns=columns, rows=_contact_rows(company.items) if company else [], row_key="id"
        ).props('flat bordered dense data-testid="company-contacts"').classes("w-full")
    ui.label(t("Personal contacts")).classes("text-lg font-bold mt-4")
    personal_table = (
        ui.table(columns=columns, rows=[], row_key="id")
        .props('flat bordered dense data-testid="personal-contacts"')
        .classes("w-full")
    )

    def refresh() -> None:
        page = ctx.attempt(lambda p: contacts.list_personal(ctx.pbx, p, limit=200), None)
        personal_table.rows = _contact_rows(page.items) if page else []
        personal_table.update()

    with ui.card().classes("w-full max-w-[40rem] mt-2"):
        form = Form(t)
        with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
            form.text("first_name", "First name", "")
            form.text("last_name", "Last name", "")
            form.text("company", "Company", "")
            form.text("email", "Email", "", empty=None)
            number = form.text("numbers", "Number", "")
        field = form.fields["numbers"]
        field.read = lambda: (
            [{"number": number.value.strip()}] if (number.value or "").strip() else []
        )

        def add() -> None:
            form.clear_problems()
            data = {k: v for k, v in form.values().items() if v is not None}
            if ctx.attempt(
                lambda p: contacts.create_personal(ctx.pbx, p, data), form.show_problems
            ):
                ui.notify(t("Saved"), type="positive")
                refresh()

        ui.button(t("Add"), icon="person_add", on_click=add).props('data-testid="add-contact"')
    refresh()
    return None


@ui.page("/me/password")
def my_password(request: Request) -> Response | None:
    ctx = portal_page(request, "Change password", None)
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    with ui.card().classes("w-full max-w-[30rem]"):
        form = Form(t)
        form.text("current_password", "Current password", "", password=True)
        form.text("new_password", "New password", "", password=True)

        def change(p: Principal) -> bool:
            found = ctx.visitor.authenticated()
            keep = found.session.id if found is not None and found.session else None
            UserPasswords(ctx.pbx, ctx.visitor.clock).change(p, form.values(), keep)
            return True

        def save() -> None:
            form.clear_problems()
            if ctx.attempt(change, form.show_problems):
                ui.notify(t("Password changed"), type="positive")

        ui.button(t("Change password"), on_click=save).props('data-testid="change-password"')
    return None


@ui.page("/me/integrations")
def my_integrations(request: Request) -> Response | None:
    """Caller rules (ordered, first match wins) and the URL popup."""
    ctx = portal_page(request, "Caller rules and URL popup", "settings")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    ext = _mine(ctx)
    if ext is None:
        return None
    popup = ext["features"]["url_popup"]
    with ui.card().classes("w-full max-w-[48rem]"):
        ui.label(t("URL popup")).classes("text-lg font-bold")
        box = ui.column().classes("w-full")
        with box:
            form = Form(t)
            form.switch("features.url_popup.enabled", "Enabled", popup["enabled"])
            form.text("features.url_popup.url", "URL", popup["url"]).classes("w-full")
            form.select(
                "features.url_popup.call_types",
                "Call types",
                [c.value for c in UrlPopupCallType],
                popup["call_types"],
                multiple=True,
            )
            form.select(
                "features.url_popup.triggers",
                "When",
                [x.value for x in UrlPopupTrigger],
                popup["triggers"],
                multiple=True,
            )
        if ctx.preferences.get("integrations", True):
            save_button(
                ctx,
                form,
                lambda p: Objects(ctx.pbx, p).patch_part(
                    KIND, own(p), "features.url_popup", form.values("features.url_popup")
                ),
            )
        else:
            box.classes("pointer-events-none opacity-60")
            read_only_note(ctx)
    with ui.card().classes("w-full max-w-[48rem]"):
        ui.label(t("Caller rules")).classes("text-lg font-bold")
        ui.label(
            t("Checked in order; the first rule whose pattern matches the caller decides.")
        ).classes("text-sm text-grey-8")
        rules = (
            ui.textarea(
                value=dump_yaml(ext["features"]["caller_rules"])
                if ext["features"]["caller_rules"]
                else "[]\n"
            )
            .props('outlined autogrow spellcheck=false data-testid="caller-rules"')
            .classes("w-full font-mono")
        )
        ui.label('- {pattern: "777*", action: {voicemail: true}}').classes(
            "font-mono text-xs text-grey-7"
        )
        rules_form = Form(t)
        rules_form.fields["features.caller_rules"] = Field(
            lambda: load_yaml(rules.value or "[]") or [], lambda e: setattr(rules, "error", e)
        )
        if ctx.preferences.get("presence_forwarding", True):
            save_button(
                ctx,
                rules_form,
                lambda p: Objects(ctx.pbx, p).put_part(
                    KIND, own(p), "features.caller_rules", load_yaml(rules.value or "[]") or []
                ),
            )
        else:
            rules.props("readonly")
            read_only_note(ctx)
    return None
