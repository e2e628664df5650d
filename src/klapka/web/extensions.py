"""Admin console: the extension list and the extension editor.

The list pages on the server (``Objects.list``: search by number, name and email, a group
filter, 50 a page), so it stays fast with 10,000 extensions; the status column comes from
the SIP core's registrations when it runs, and refreshes every few seconds. The editor has a
tab per settings section, each saved through ``Objects`` as a merge patch of its section,
and the "where do calls go" panel from the call-paths service.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import run, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from klapka.domain.extension import FunctionKeyType
from klapka.domain.problems import Forbidden, InvalidInput
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services import permissions
from klapka.services.accounts.sessions import Sessions
from klapka.services.directory.extension_csv import ExtensionCsv
from klapka.services.directory.objects import Objects
from klapka.services.principal import Principal
from klapka.services.provisioning.fetches import PhoneOverview
from klapka.services.provisioning.reprovision import PhoneProvisioning
from klapka.services.provisioning.vendors import MODELS, VENDOR_NAME, Vendor, vendor_named
from klapka.services.telephony.hot_desk import HotDeskLogins
from klapka.services.telephony.simulator import Simulator
from klapka.services.welcome import Welcome
from klapka.store.database import data_dir
from klapka.web import call_views, extension_tabs
from klapka.web.forms import Field, Form, not_active_note
from klapka.web.frame import PageContext, open_page, url
from klapka.web.live import of_kinds, on_events
from klapka.web.live_status import registration_status
from klapka.web.portal import voicemail_messages

PAGE_SIZE = 50
KIND = Kind.EXTENSION


@ui.page("/extensions")
def extensions_page(request: Request) -> Response | None:
    ctx = open_page(request, "Extensions", admin=True)
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    state: dict[str, Any] = {"q": "", "group": None, "presence": None, "offset": 0, "total": 0}
    groups = ctx.attempt(lambda p: Objects(ctx.pbx, p).list(Kind.GROUP, limit=1000), None)
    group_names = [g["name"] for g in groups.items] if groups else []

    with ui.row().classes("items-end gap-3 w-full"):
        search = ui.input(t("Search"), placeholder=t("Number, name or email")).props(
            'clearable debounce=300 data-testid="extension-search" type=search'
        )
        presence = (
            ui.select(
                {"": t("All"), **{s: t(s) for s in extension_tabs.STATUSES}},
                label=t("Presence"),
                value="",
            )
            .props('data-testid="extension-presence"')
            .classes("min-w-[10rem]")
        )
        group = (
            ui.select({"": t("All"), **{g: g for g in group_names}}, label=t("Group"), value="")
            .props('data-testid="extension-group"')
            .classes("min-w-[10rem]")
        )
        ui.space()
        ui.button(t("Export CSV"), icon="download", on_click=lambda: export_csv(ctx)).props(
            'flat data-testid="export-csv"'
        )
        ui.button(t("Import CSV"), icon="upload", on_click=lambda: import_csv(ctx, refresh)).props(
            'flat data-testid="import-csv"'
        )
        ui.button(t("New extension"), icon="add", on_click=lambda: new_extension(ctx)).props(
            'data-testid="new-extension"'
        )
    columns = [
        {"name": "number", "label": t("Number"), "field": "number", "align": "left"},
        {"name": "name", "label": t("Name"), "field": "name", "align": "left"},
        {"name": "email", "label": t("Email"), "field": "email", "align": "left"},
        {"name": "presence", "label": t("Presence"), "field": "presence", "align": "left"},
        {
            "name": "registration",
            "label": t("Registration"),
            "field": "registration",
            "align": "left",
        },
        {"name": "role", "label": t("Role"), "field": "role", "align": "left"},
    ]
    with ui.row().classes("items-center gap-2") as bulk:
        selected_label = ui.label("")
        ui.button(
            t("Send welcome email"), icon="mail", on_click=lambda: bulk_welcome(ctx, chosen())
        ).props('flat dense data-testid="bulk-welcome"')
        bulk_group = (
            ui.select(group_names, label=t("Add to group"))
            .props('dense data-testid="bulk-group"')
            .classes("min-w-[10rem]")
        )
        ui.button(
            t("Add"), on_click=lambda: bulk_add_to_group(ctx, chosen(), bulk_group.value, refresh)
        ).props('flat dense data-testid="bulk-add"')
        ui.button(
            t("Delete"),
            icon="delete",
            on_click=lambda: bulk_delete(ctx, chosen(), refresh),
        ).props('flat dense color=negative data-testid="bulk-delete"')
    bulk.set_visibility(False)
    table = (
        ui.table(columns=columns, rows=[], row_key="number", selection="multiple")
        .props('flat bordered dense data-testid="extension-table"')
        .classes("w-full")
    )
    table.add_slot(
        "body-cell-number",
        f'<q-td :props="props"><a :href="\'{url("/extensions/")}\' + props.value" '
        'class="text-primary font-bold">{{ props.value }}</a></q-td>',
    )
    with ui.row().classes("items-center gap-2"):
        previous = ui.button(t("Previous"), on_click=lambda: move(-PAGE_SIZE)).props("flat")
        counter = ui.label("").props('data-testid="extension-count"')
        following = ui.button(t("Next"), on_click=lambda: move(PAGE_SIZE)).props("flat")

    def refresh() -> None:
        page = ctx.attempt(
            lambda p: Objects(ctx.pbx, p).list(
                KIND,
                q=state["q"] or None,
                limit=PAGE_SIZE,
                offset=state["offset"],
                group=state["group"] or None,
                presence=state["presence"] or None,
            ),
            None,
        )
        if page is None:
            return
        # The list service may already carry the live status; else ask the SIP core here.
        status = {e["number"]: e["status"] for e in page.items if "status" in e}
        if len(status) < len(page.items):
            status = registration_status(ctx, [e["number"] for e in page.items])
        table.rows = [
            {
                "number": e["number"],
                "name": " ".join(x for x in (e["first_name"], e["last_name"]) if x),
                "email": e["email"] or "",
                "presence": t(e["presence"])
                + (f" · {e['presence_note']}" if e["presence_note"] else ""),
                "registration": t(status.get(e["number"], "unknown")),
                "role": t(e["role"]),
            }
            for e in page.items
        ]
        shown = {r["number"] for r in table.rows}
        table.selected = [r for r in table.selected if r["number"] in shown]
        table.update()
        selection_changed()
        state["total"] = page.total
        first = page.offset + 1 if page.total else 0
        last = min(page.offset + PAGE_SIZE, page.total)
        counter.text = t("{first}–{last} of {total}", first=first, last=last, total=page.total)
        previous.set_enabled(page.offset > 0)
        following.set_enabled(last < page.total)

    def chosen() -> list[str]:
        return [row["number"] for row in table.selected]

    def selection_changed(_e: Any = None) -> None:
        numbers = chosen()
        bulk.set_visibility(bool(numbers))
        selected_label.text = t("{count} selected", count=len(numbers))

    table.on_select(selection_changed)

    def move(delta: int) -> None:
        state["offset"] = max(0, state["offset"] + delta)
        refresh()

    def searched(e: Any) -> None:
        state["q"] = (e.value or "").strip()
        state["offset"] = 0
        refresh()

    def grouped(e: Any) -> None:
        state["group"] = e.value or None
        state["offset"] = 0
        refresh()

    def by_presence(e: Any) -> None:
        state["presence"] = e.value or None
        state["offset"] = 0
        refresh()

    search.on_value_change(searched)
    group.on_value_change(grouped)
    presence.on_value_change(by_presence)
    refresh()
    # Presence, registrations and calls change without a reload: redrawn as the events come
    # (at most once a second), and every half minute (without a SIP core there are none).
    on_events(ctx, of_kinds("presence.", "registration.", "call."), lambda _e: refresh(), 1.0)
    ui.timer(30.0, refresh)
    return None


def bulk_welcome(ctx: PageContext, numbers: list[str]) -> None:
    """Welcome emails to the chosen extensions; each one's result."""

    def send(p: Principal) -> list[Any]:
        return Welcome(ctx.pbx, p).send_many(numbers)

    results = ctx.attempt(send, None)
    if results is None:
        return
    sent = [r.number for r in results if r.sent]
    failed = [f"{r.number}: {r.error}" for r in results if not r.sent]
    ui.notify(
        ctx.t("Sent: {sent}", sent=", ".join(sent) or "—")
        + (f"; {'; '.join(failed)}" if failed else ""),
        type="positive" if not failed else "warning",
        multi_line=True,
    )


def bulk_add_to_group(ctx: PageContext, numbers: list[str], group: str | None, done: Any) -> None:
    if not group:
        return

    def add(p: Principal) -> Any:
        objects = Objects(ctx.pbx, p)
        members = objects.get(Kind.GROUP, group)["members"]
        wanted = members + [n for n in numbers if n not in members]
        return objects.patch(Kind.GROUP, group, {"members": wanted})

    if ctx.attempt(add, None) is not None:
        ui.notify(ctx.t("Saved"), type="positive")
        done()


def bulk_delete(ctx: PageContext, numbers: list[str], done: Any) -> None:
    t = ctx.t
    with ui.dialog() as dialog, ui.card():
        ui.label(t("Delete {count} extensions?", count=len(numbers))).classes("text-lg")
        ui.label(", ".join(numbers))

        def delete() -> None:
            for number in numbers:

                def remove(p: Principal, n: str = number) -> Any:
                    return Objects(ctx.pbx, p).delete(KIND, n)

                if ctx.attempt(remove, None):
                    ui.notify(t("Deleted") + f": {number}")
            dialog.close()
            done()

        with ui.row():
            ui.button(t("Delete"), color="negative", on_click=delete).props(
                'data-testid="confirm-delete"'
            )
            ui.button(t("Cancel"), on_click=dialog.close).props("flat")
    dialog.open()


def export_csv(ctx: PageContext) -> None:
    def export(p: Principal) -> str:
        return ExtensionCsv(ctx.pbx, p).export_csv()

    text = ctx.attempt(export, None)
    if text is not None:
        ui.download.content(text.encode(), "extensions.csv", "text/csv")


def import_csv(ctx: PageContext, done: Any) -> None:
    """Upload a CSV: a progress bar while it is checked and written, then every row error."""
    t = ctx.t
    progress: dict[str, float] = {"done": 0, "total": 1}
    with ui.dialog() as dialog, ui.card().classes("w-[40rem] max-w-[96vw]"):
        ui.label(t("Import CSV")).classes("text-lg font-bold")
        ui.label(t("All rows or none: a row that breaks a rule refuses the whole file."))
        bar = ui.linear_progress(value=0, show_value=False).props('data-testid="import-progress"')
        outcome = ui.column().classes("w-full")

        async def uploaded(e: Any) -> None:
            text = await e.file.text("utf-8-sig")
            uploader.reset()  # ready for the corrected file

            def report(done_now: int, total: int) -> None:
                progress.update(done=done_now, total=max(total, 1))

            principal = ctx.attempt(lambda p: p, None)  # the session checked again
            if principal is None:
                return
            failure = None
            try:
                result = await run.io_bound(
                    ExtensionCsv(ctx.pbx, principal).import_csv, text, report
                )
            except (InvalidInput, Forbidden) as problem:
                result, failure = None, str(problem)
            bar.value = 1
            outcome.clear()
            with outcome:
                if result is None:
                    ui.label(failure or "").classes("text-negative").props('role="alert"')
                    return
                if result.errors:
                    ui.label(t("Nothing was imported.")).classes("text-negative")
                    ui.table(
                        columns=[
                            {"name": "row", "label": t("Row"), "field": "row", "align": "left"},
                            {
                                "name": "field",
                                "label": t("Column"),
                                "field": "field",
                                "align": "left",
                            },
                            {
                                "name": "rule",
                                "label": t("Problem"),
                                "field": "rule",
                                "align": "left",
                            },
                        ],
                        rows=[
                            {"id": i, "row": err.row, "field": err.field, "rule": err.rule}
                            for i, err in enumerate(result.errors)
                        ],
                        row_key="id",
                    ).props('dense flat wrap-cells data-testid="import-errors"').classes("w-full")
                else:
                    ui.label(
                        t(
                            "{created} created, {updated} updated",
                            created=result.created,
                            updated=result.updated,
                        )
                    ).props('data-testid="import-result"')
                    done()

        uploader = (
            ui.upload(on_upload=uploaded, auto_upload=True)
            .props('accept=".csv,text/csv" data-testid="import-file"')
            .classes("w-full")
        )
        ui.timer(0.2, lambda: setattr(bar, "value", progress["done"] / progress["total"]))
        ui.button(t("Close"), on_click=dialog.close).props("flat")
    dialog.open()


def new_extension(ctx: PageContext) -> None:
    t = ctx.t
    with ui.dialog() as dialog, ui.card().classes("min-w-[20rem]"):
        ui.label(t("New extension")).classes("text-lg font-bold")
        form = Form(t)
        form.text("number", "Number", "")
        form.text("first_name", "First name", "")
        form.text("last_name", "Last name", "")
        form.text("email", "Email", "", empty=None)

        def create() -> None:
            data = {k: v for k, v in form.values().items() if v is not None}
            made = ctx.attempt(lambda p: Objects(ctx.pbx, p).create(KIND, data), form.show_problems)
            if made is not None:
                dialog.close()
                ui.navigate.to(f"/extensions/{made['number']}")

        with ui.row():
            ui.button(t("Create"), on_click=create).props('data-testid="create-extension"')
            ui.button(t("Cancel"), on_click=dialog.close).props("flat")
    dialog.open()


def _may_open(ctx: PageContext, number: str) -> bool | None:
    """True: the editor; False: the user's own extension (their portal); None: refused."""

    return ctx.attempt(lambda p: permissions.opens_editor(ctx.pbx, p, number), None)


@ui.page("/extensions/{number}")
def extension_page(request: Request, number: str) -> Response | None:
    ctx = open_page(request, "Extensions")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    allowed = _may_open(ctx, number)
    if allowed is False:
        return RedirectResponse(url("/me"), status_code=303)
    if allowed is None:
        ui.label(t("Only an admin may open another user's settings.")).classes(
            "text-negative text-lg"
        ).props('role="alert" data-testid="refused"')
        return None
    ext = ctx.attempt(lambda p: Objects(ctx.pbx, p).get(KIND, number), None)
    if ext is None:
        return None
    extension_editor(ctx, number, ext)
    return None


def _dirty_guard(t: Any) -> tuple[Any, Any]:
    """The browser asks before leaving a page with unsaved changes."""
    message = t("Leave the page? Your changes are not saved.")
    ui.add_head_html(
        "<script>window.addEventListener('beforeunload', e => {"
        " if (window.klapkaDirty) { e.preventDefault(); e.returnValue = "
        f"{message!r}; }} }});</script>"
    )
    badge = ui.badge(t("Unsaved changes"), color="orange").props('data-testid="unsaved"')
    badge.set_visibility(False)

    def changed() -> None:
        badge.set_visibility(True)
        ui.run_javascript("window.klapkaDirty = true;")

    def saved() -> None:
        badge.set_visibility(False)
        ui.run_javascript("window.klapkaDirty = false;")

    return changed, saved


def extension_editor(ctx: PageContext, number: str, ext: dict[str, Any]) -> None:
    t = ctx.t
    changed, saved = _dirty_guard(t)
    name = " ".join(x for x in (ext["first_name"], ext["last_name"]) if x)
    with ui.row().classes("items-center gap-3"):
        ui.label(t("Extension {number}", number=number)).classes("text-xl font-bold")
        ui.label(name).classes("text-lg text-grey-8")
    tabs_spec = (
        ("user", "User"),
        ("presence", "Presence"),
        ("voicemail", "Voicemail"),
        ("features", "Features"),
        ("advanced", "Advanced"),
        ("security", "Security"),
        ("clients", "Clients"),
        ("phones", "Phones"),
        ("function_keys", "Function keys"),
    )
    with ui.element("div").classes("w-full flex flex-wrap gap-4 items-start"):
        with ui.card().classes("flex-grow min-w-[18rem] max-w-[56rem]"):
            with ui.tabs().props("mobile-arrows outside-arrows").classes("w-full") as tabs:
                tab = {key: ui.tab(key, t(label)) for key, label in tabs_spec}
            with ui.tab_panels(tabs, value=tab["user"]).classes("w-full"):
                with ui.tab_panel(tab["user"]):
                    form = Form(t, changed)
                    extension_tabs.user_fields(form, ext)
                    _save_button(
                        ctx,
                        form,
                        lambda p: Objects(ctx.pbx, p).patch(KIND, number, form.values()),
                        saved,
                    )
                with ui.tab_panel(tab["presence"]):
                    presence_tab(ctx, number, ext, changed, saved)
                for key, draw in (
                    ("voicemail", extension_tabs.voicemail_fields),
                    ("features", extension_tabs.feature_fields),
                    ("advanced", extension_tabs.advanced_fields),
                    ("security", extension_tabs.security_fields),
                    ("clients", extension_tabs.client_fields),
                ):
                    with ui.tab_panel(tab[key]):
                        section_form(ctx, number, ext, key, draw, changed, saved)
                        if key == "clients":
                            signed_in_clients(ctx, number)
                        if key == "voicemail":
                            voicemail_messages(ctx, number)
                with ui.tab_panel(tab["phones"]):
                    phones_editor(ctx, number, ext, changed, saved)
                with ui.tab_panel(tab["function_keys"]):
                    function_keys_editor(ctx, number, ext, changed, saved)
        with ui.card().classes("flex-grow min-w-[18rem]"):
            ui.label(t("Where do calls go")).classes("text-lg font-bold")
            shown = (
                ui.select(
                    {s: t(s) for s in extension_tabs.STATUSES},
                    label=t("Status"),
                    value=ext["presence"],
                )
                .props('data-testid="call-paths-status"')
                .classes("min-w-[12rem]")
            )
            panel = ui.column().classes("w-full")

            async def show_paths() -> None:
                paths = await ctx.attempt_in_thread(lambda p: _call_paths(ctx, p, number), None)
                panel.clear()
                if paths is not None:
                    with panel:
                        call_views.call_paths(t, paths, shown.value)

            shown.on_value_change(show_paths)
            ui.timer(0.01, show_paths, once=True)  # after the page is shown: it takes a while
            ctx.after_save.append(show_paths)


def signed_in_clients(ctx: PageContext, number: str) -> None:
    """The app login link and QR code (made on demand), and the signed-in browsers."""
    t = ctx.t
    ui.separator().classes("my-3")
    link_box = ui.column().classes("w-full")

    def show_link() -> None:
        made = ctx.attempt(lambda p: Welcome(ctx.pbx, p).login_link(number), None)
        if made is None:
            return
        link_box.clear()
        with link_box:
            png = base64.b64encode(made["qr_png"]).decode()
            ui.image(f"data:image/png;base64,{png}").classes("w-40 h-40").props(
                f'alt="{t("App login QR code")}"'
            )
            ui.label(made["link"]).classes("font-mono text-xs break-all").props(
                'data-testid="login-link"'
            )
            ui.label(
                t("Works once, until {when}.", when=made["expires_at"].strftime("%Y-%m-%d %H:%M"))
            ).classes("text-sm text-grey-8")

    ui.button(t("Show app login link and QR code"), icon="qr_code", on_click=show_link).props(
        'flat data-testid="show-login-link"'
    )
    ui.label(t("Signed-in browsers")).classes("text-base font-bold mt-3")
    sessions_box = ui.column().classes("w-full")

    def show_sessions() -> None:
        found = ctx.attempt(lambda p: Sessions(ctx.pbx, ctx.visitor.clock).list(p, number), None)
        sessions_box.clear()
        with sessions_box:
            for s in found or []:
                with ui.row().classes("items-center gap-2").props('data-testid="session"'):
                    ui.label(
                        f"{s['created_at'][:16].replace('T', ' ')} · {s['source_ip'] or ''} · "
                        f"{(s['user_agent'] or '')[:60]}"
                    ).classes("text-sm")
                    ui.button(t("Sign out"), on_click=lambda sid=s["id"]: end(sid)).props(
                        "flat dense color=negative"
                    )
            if not found:
                ui.label(t("Nothing here yet.")).classes("text-grey-7 text-sm")

    def end(session_id: int) -> None:
        ctx.attempt(
            lambda p: Sessions(ctx.pbx, ctx.visitor.clock).revoke(p, session_id, number),
            None,
        )
        show_sessions()

    show_sessions()


def _call_paths(ctx: PageContext, p: Principal, number: str) -> dict[str, Any]:
    return Simulator(ctx.pbx, p).call_paths(number)


def _save_button(ctx: PageContext, form: Form, action: Any, saved: Any) -> None:
    async def save() -> None:
        form.clear_problems()
        result = ctx.attempt(action, form.show_problems)
        if result is not None:
            saved()
            ui.notify(ctx.t("Saved"), type="positive")
            for redraw in ctx.after_save:
                await redraw()

    ui.button(ctx.t("Save"), icon="save", on_click=save).props('data-testid="save"').classes("mt-3")


def section_form(
    ctx: PageContext,
    number: str,
    ext: dict[str, Any],
    section: str,
    draw: Any,
    changed: Any,
    saved: Any,
) -> None:
    form = Form(ctx.t, changed)
    draw(form, ext)
    _save_button(
        ctx,
        form,
        lambda p: Objects(ctx.pbx, p).patch_part(KIND, number, section, form.values(section)),
        saved,
    )


def presence_tab(
    ctx: PageContext, number: str, ext: dict[str, Any], changed: Any, saved: Any
) -> None:
    """The extension's current status and note; a status to edit, then its forwarding and
    ring strategy, saved per status."""
    t = ctx.t
    with ui.row().classes("items-end gap-2 w-full"):
        current = (
            ui.select(
                {s: t(s) for s in extension_tabs.STATUSES},
                label=t("Status"),
                value=ext["presence"],
            )
            .props('data-testid="current-presence"')
            .classes("min-w-[12rem]")
        )
        note = ui.input(t("Note"), value=ext["presence_note"]).classes("flex-grow")

        def set_status() -> None:
            def change(p: Principal) -> Any:
                return Objects(ctx.pbx, p).set_presence(
                    number, PresenceStatus(current.value), note.value or ""
                )

            if ctx.attempt(change, None) is not None:
                ui.notify(t("Status set"), type="positive")

        ui.button(t("Set status"), on_click=set_status).props("flat")
    ui.separator().classes("my-2")
    chooser = extension_tabs.status_chooser(t, ext["presence"])
    holder = ui.column().classes("w-full")

    def draw() -> None:
        holder.clear()
        status = chooser.value
        fresh = ctx.attempt(lambda p: Objects(ctx.pbx, p).get(KIND, number), None) or ext
        with holder:
            form = Form(t, changed)
            extension_tabs.presence_fields(form, fresh, status)
            path = f"presence_settings.{status}"

            _save_button(
                ctx,
                form,
                lambda p: Objects(ctx.pbx, p).patch_part(KIND, number, path, form.values(path)),
                saved,
            )

    chooser.on_value_change(lambda _e: draw())
    draw()


def phones_editor(
    ctx: PageContext, number: str, ext: dict[str, Any], changed: Any, saved: Any
) -> None:
    """One card per phone: vendor and model, MAC address, template; when it last fetched
    its file; Re-provision. Saved as the whole list through ``Objects``, as the API's
    ``PUT .../phones``: a refused value (a bad MAC) is shown at its field."""
    t = ctx.t
    rows: list[dict[str, Any]] = [dict(p) for p in ext["phones"]]
    stored: set[str] = {p["mac"] for p in ext["phones"]}

    def overview(p: Principal) -> PhoneOverview:
        return PhoneOverview(ctx.pbx, p, data_dir())

    templates = ctx.attempt(lambda p: overview(p).template_names(), None) or []
    fetched: dict[str, dict[str, Any]] = {}
    not_active_note(t, "extension.phones")
    hot_desk_panel(ctx, number, ext)
    form = Form(t, changed)
    holder = ui.column().classes("w-full gap-3")

    def load_fetches() -> None:
        fetched.clear()
        fetched.update(ctx.attempt(lambda p: overview(p).last_fetches(number), None) or {})

    def draw() -> None:
        holder.clear()
        form.fields.clear()
        with holder:
            if not rows:
                ui.label(t("No phones yet.")).classes("text-grey-7")
            for i, row in enumerate(rows):
                phone_card(form, i, row)

    def model_options(vendor: Any, current: str) -> list[str]:
        """The vendor's current models (vendors.MODELS), and the phone's own if another."""
        chosen = vendor_named(str(vendor or ""))
        options = list(MODELS[chosen]) if chosen else []
        return options + ([current] if current and current not in options else [])

    def phone_card(form: Form, i: int, row: dict[str, Any]) -> None:
        path = f"phones[{i}]"
        original_vendor = str(row.get("vendor") or "")
        named = vendor_named(original_vendor)
        vendors = {v.value: VENDOR_NAME[v] for v in Vendor}
        if original_vendor and named is None:
            vendors[original_vendor] = original_vendor  # kept as it is, not provisioned
        with ui.card().classes("w-full").props(f'flat bordered data-testid="phone-{i}"'):
            with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
                vendor = (
                    ui.select(
                        vendors,
                        label=t("Vendor"),
                        value=named.value if named else (original_vendor or None),
                        on_change=lambda _e: models_for_vendor(),
                    )
                    .props(f'data-testid="field-{path}.vendor"')
                    .classes("min-w-[12rem]")
                )
                model = (
                    ui.select(
                        model_options(vendor.value, row.get("model") or ""),
                        label=t("Model"),
                        value=row.get("model") or None,
                        new_value_mode="add-unique",
                        clearable=True,
                        on_change=changed,
                    )
                    .props(f'data-testid="field-{path}.model"')
                    .classes("min-w-[12rem]")
                )
                mac = ui.input(t("MAC address"), value=row.get("mac") or "", on_change=changed)
                mac.props(f'data-testid="field-{path}.mac" autocomplete=off spellcheck=false')
                mac.props(f'hint="{t("12 hexadecimal digits, e.g. 80:5E:C0:12:34:01")}"')
                template_options = {"": t("The vendor's own")}
                template_options.update({n: n for n in templates})
                if row.get("template") and row["template"] not in template_options:
                    template_options[row["template"]] = row["template"]
                template = (
                    ui.select(
                        template_options,
                        label=t("Template"),
                        value=row.get("template") or "",
                        on_change=changed,
                    )
                    .props(f'data-testid="field-{path}.template"')
                    .classes("min-w-[12rem]")
                )

            def models_for_vendor() -> None:
                current = model.value or ""
                model.set_options(model_options(vendor.value, current), value=current or None)
                changed()

            def read_vendor() -> Any:
                chosen = str(vendor.value or "")
                picked = vendor_named(chosen)
                if picked is not None and picked is named:
                    return original_vendor  # unchanged: kept as it was written
                return VENDOR_NAME[picked] if picked is not None else chosen

            form.fields[f"{path}.vendor"] = Field(
                read_vendor, lambda e: setattr(vendor, "error", e)
            )
            form.fields[f"{path}.model"] = Field(
                lambda: str(model.value or "").strip(), lambda e: setattr(model, "error", e)
            )
            form.fields[f"{path}.mac"] = Field(
                lambda: (mac.value or "").strip(), lambda e: setattr(mac, "error", e)
            )
            form.fields[f"{path}.template"] = Field(
                lambda: template.value or None, lambda e: setattr(template, "error", e)
            )
            saved_mac = row.get("mac") if row.get("mac") in stored else None
            with ui.row().classes("items-center gap-2 w-full"):
                last = ui.column().classes("gap-0 flex-grow min-w-0")
                with last:
                    fetch_lines(saved_mac)
                if saved_mac:
                    ui.button(
                        t("Re-provision"),
                        icon="sync",
                        on_click=lambda m=saved_mac: reprovision(m),
                    ).props(f'flat dense data-testid="reprovision-{saved_mac}"')
                ui.button(icon="delete", on_click=lambda i=i: remove(i)).props(
                    f'flat dense color=negative aria-label="{t("Remove phone")}" '
                    f'data-testid="remove-phone-{i}"'
                )

    def fetch_lines(mac: str | None) -> None:
        found = fetched.get(mac or "")
        testid = f'data-testid="last-fetch-{mac or "new"}"'
        if mac is None:
            ui.label(t("Not saved yet.")).classes("text-sm text-grey-7").props(testid)
            return
        if found is None:
            ui.label(t("Never fetched its file yet.")).classes("text-sm text-grey-7").props(testid)
            return
        local = found["at"].astimezone(ZoneInfo(found["timezone"]))
        when = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({found['timezone']})"
        ui.label(
            t("Last fetch: {when} from {address}", when=when, address=found["source_ip"] or "?")
        ).classes("text-sm").props(testid)
        if found["user_agent"]:
            ui.label(found["user_agent"][:120]).classes("text-xs text-grey-7 break-all")

    def reprovision(mac: str) -> None:
        done = ctx.attempt(
            lambda p: PhoneProvisioning(ctx.pbx, p, data_dir()).reprovision(number, mac), None
        )
        if done is not None:
            ui.notify(t("Sent to {count} registered desk phones.", count=done["sent"]))

    def collect() -> list[dict[str, Any]]:
        found = form.values()
        phones: list[dict[str, Any]] = []
        for i in range(len(rows)):
            values = found.get(f"phones[{i}]", {})
            phones.append(
                {
                    "vendor": values.get("vendor") or "",
                    "model": values.get("model") or "",
                    "mac": values.get("mac") or "",
                    "template": values.get("template"),
                }
            )
        return phones

    def remove(index: int) -> None:
        rows[:] = collect()
        rows.pop(index)
        changed()
        draw()

    def add() -> None:
        rows[:] = collect()
        rows.append({"vendor": "", "model": "", "mac": "", "template": None})
        changed()
        draw()

    load_fetches()
    draw()
    ui.button(t("Add phone"), icon="add", on_click=add).props('flat data-testid="add-phone"')

    def put(p: Principal) -> Any:
        result = Objects(ctx.pbx, p).put_part(KIND, number, "phones", collect())
        rows[:] = [dict(x) for x in result]
        stored.clear()
        stored.update(x["mac"] for x in result)
        load_fetches()
        draw()
        return result

    _save_button(ctx, form, put, saved)


def hot_desk_panel(ctx: PageContext, number: str, ext: dict[str, Any]) -> None:
    """Hot desking on the Phones tab: at a guest extension (``features.hot_desking``) who is
    logged in at its phone, and a warning when it has not exactly one phone (a login is
    refused then; zero while being set up is normal, so saving is not refused); at a
    user's extension, the hot desk they are logged in at. Each with Log out."""
    t = ctx.t
    guest = bool((ext.get("features") or {}).get("hot_desking"))
    holder = ui.column().classes("w-full gap-1")

    def logins(p: Principal) -> list[dict[str, Any]]:
        desks = HotDeskLogins(ctx.pbx, p)
        return desks.logins(guest=number) if guest else desks.logins(user=number)

    def draw() -> None:
        holder.clear()
        found = ctx.attempt(logins, None) or []
        with holder:
            if guest and len(ext.get("phones") or []) != 1:
                warning = t(
                    "A hot-desk phone's guest extension needs exactly one phone: "
                    "logging in at it is refused until then."
                )
                ui.label(warning).classes("text-sm text-warning").props(
                    'data-testid="hot-desk-phones-warning"'
                )
            if guest and not found:
                ui.label(t("Nobody is logged in at this hot desk.")).classes(
                    "text-sm text-grey-7"
                ).props('data-testid="hot-desk-login"')
            for login in found:
                with ui.row().classes("items-center gap-2 w-full"):
                    ui.label(login_line(login)).classes("text-sm").props(
                        'data-testid="hot-desk-login"'
                    )
                    ui.button(
                        t("Log out"), icon="logout", on_click=lambda m=login["mac"]: logout(m)
                    ).props(f'flat dense data-testid="hot-desk-logout-{login["mac"]}"')

    def login_line(login: dict[str, Any]) -> str:
        zone = ZoneInfo(login["timezone"])
        since = login["since"].astimezone(zone)
        user = f"{login['extension']} ({login['name']})" if login["name"] else login["extension"]
        where = login["guest"] or login["mac"]
        when = f"{since:%H:%M} {since.tzname()}"
        if since.date() != datetime.now(zone).date():
            when = f"{since:%Y-%m-%d} {when}"
        if login["logout_at"] is None:
            if guest:
                return t("Logged in: {user} since {since}", user=user, since=when)
            return t("Logged in at hot desk {desk} since {since}", desk=where, since=when)
        until = f"{login['logout_at'].astimezone(zone):%H:%M}"
        if guest:
            return t("Logged in: {user} since {since}, until {until}",
                     user=user, since=when, until=until)  # fmt: skip
        return t("Logged in at hot desk {desk} since {since}, until {until}",
                 desk=where, since=when, until=until)  # fmt: skip

    def logout(mac: str) -> None:
        done = ctx.attempt(lambda p: HotDeskLogins(ctx.pbx, p).logout(mac), None)
        if done is not None:
            ui.notify(t("Logged out {user}.", user=done["extension"]))
        draw()

    draw()


def function_keys_editor(
    ctx: PageContext, number: str, ext: dict[str, Any], changed: Any, saved: Any
) -> None:
    """One row per key: position, type, label and the field its type needs (an extension
    picker for a BLF, a number for a speed dial, a status for a presence key; nothing for
    the others); saved as the whole list, validated by the service as the API's PUT."""
    t = ctx.t
    types = [k.value for k in FunctionKeyType]
    needs = {"blf": "extension", "speed_dial": "number", "presence": "status"}
    rows: list[dict[str, Any]] = [dict(k) for k in ext["function_keys"]]
    not_active_note(t, "extension.function_keys")
    holder = ui.column().classes("w-full gap-1")
    form = Form(t, changed)

    def extensions_like(text: str, current: str | None) -> dict[str, str]:
        """Extensions matching ``text`` (number, name, email; 20 at most), as options."""
        page = ctx.attempt(lambda p: Objects(ctx.pbx, p).list(KIND, q=text or None, limit=20), None)
        options = {current: current} if current else {}
        for e in page.items if page is not None else []:
            name = " ".join(x for x in (e["first_name"], e["last_name"]) if x)
            options[e["number"]] = f"{e['number']} · {name}" if name else e["number"]
        return options

    first_extensions = extensions_like("", None)

    def value_field(slot: ui.element, path: str, kind: str, row: dict[str, Any]) -> None:
        """The field the key's type needs, in ``slot`` (drawn again when the type changes)."""
        slot.clear()
        for name in needs.values():
            form.fields.pop(f"{path}.{name}", None)
        needed = needs.get(kind)
        if needed is None:
            return
        current = row.get(needed) if row.get("type") == kind else None
        testid = f'data-testid="field-{path}.value"'
        with slot:
            if needed == "extension":
                options = {**first_extensions}
                if current and current not in options:
                    options[current] = current
                element: Any = (
                    ui.select(
                        options,
                        label=t("Extension"),
                        value=current or None,
                        with_input=True,
                        on_change=changed,
                    )
                    .props(testid)
                    .classes("min-w-[12rem]")
                )
                typed = {"text": ""}

                def searched(e: Any, element: Any = element, typed: dict[str, str] = typed) -> None:
                    text = str(e.args or "").strip()
                    if not text:
                        return  # leaving the field empties its text: what was typed stays
                    typed["text"] = text
                    if text != element.value:
                        element.set_options(
                            extensions_like(text, element.value), value=element.value
                        )

                element.on("input-value", searched)

                def read_extension(element: Any = element, typed: dict[str, str] = typed) -> Any:
                    return element.value or typed["text"] or None  # a number typed, not picked

                read: Callable[[], Any] = read_extension

            elif needed == "number":
                element = ui.input(t("Number"), value=current or "", on_change=changed).props(
                    testid + " autocomplete=off"
                )

                def read_number(element: Any = element) -> Any:
                    return (element.value or "").strip() or None

                read = read_number

            else:
                element = (
                    ui.select(
                        {s: t(s) for s in extension_tabs.STATUSES},
                        label=t("Status"),
                        value=current or None,
                        on_change=changed,
                    )
                    .props(testid)
                    .classes("min-w-[12rem]")
                )

                def read_status(element: Any = element) -> Any:
                    return element.value or None

                read = read_status

        form.fields[f"{path}.{needed}"] = Field(read, lambda e: setattr(element, "error", e))

    def draw() -> None:
        holder.clear()
        form.fields.clear()
        with holder:
            if not rows:
                ui.label(t("Nothing here yet.")).classes("text-grey-7")
            for i, row in enumerate(rows):
                path = f"function_keys[{i}]"
                with (
                    ui.row()
                    .classes("items-start gap-2 w-full border-b border-gray-200 pb-2")
                    .props('data-testid="function-key"')
                ):
                    position = form.number(f"{path}.key", "Position", row.get("key"), lo=1, hi=200)
                    position.classes("w-20")
                    kind = form.select(f"{path}.type", "Type", types, row.get("type", "blf"))
                    kind.classes(remove="min-w-[14rem]").classes("min-w-[10rem]")
                    form.text(f"{path}.label", "Label", row.get("label"), empty=None)
                    slot = ui.element("div")
                    value_field(slot, path, kind.value, row)
                    kind.on_value_change(
                        lambda e, slot=slot, path=path, row=row: value_field(
                            slot, path, str(e.value), row
                        )
                    )
                    ui.button(icon="delete", on_click=lambda i=i: remove(i)).props(
                        f'flat dense color=negative aria-label="{t("Delete")}"'
                    )

    def remove(index: int) -> None:
        rows[:] = collect()
        rows.pop(index)
        changed()
        draw()

    def collect() -> list[dict[str, Any]]:
        found = form.values()
        keys: list[dict[str, Any]] = []
        for i in range(len(rows)):
            values = found.get(f"function_keys[{i}]", {})
            key = {"key": values.get("key"), "type": values.get("type")}
            if values.get("label"):
                key["label"] = values["label"]
            needed = needs.get(str(values.get("type")))
            if needed and values.get(needed) is not None:
                key[needed] = values[needed]
            keys.append(key)
        return keys

    def add() -> None:
        rows[:] = collect()
        used = {r.get("key") for r in rows}
        rows.append({"key": next(n for n in range(1, 201) if n not in used), "type": "blf"})
        changed()
        draw()

    draw()
    ui.button(t("Add"), icon="add", on_click=add).props('flat data-testid="add-function-key"')

    def put(p: Principal) -> Any:
        keys = collect()
        result = Objects(ctx.pbx, p).put_part(KIND, number, "function_keys", keys)
        rows[:] = keys
        return result

    _save_button(ctx, form, put, saved)
