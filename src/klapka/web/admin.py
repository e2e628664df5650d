"""Admin console: groups, ring groups, queues, trunks, routes, business hours, company
contacts, system settings (SMTP with a test email) and the audit log.

Directory objects are listed in a table and edited as YAML, the configuration document's
format, through ``Objects`` (the same validation, references, uniqueness and audit as the
API); a refused change shows the service's problems by their setting path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import Response

from klapka.domain.problems import InvalidInput
from klapka.domain.references import Kind
from klapka.services.audit_log import AuditLog
from klapka.services.directory import contacts
from klapka.services.directory.objects import Objects
from klapka.services.directory.system import SystemSettings
from klapka.services.directory.yamlfmt import dump_yaml, load_yaml
from klapka.services.permissions import ClientPermissions
from klapka.services.principal import Principal
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.services.telephony.trunk_status import TrunkStatus
from klapka.web.forms import SKIP, Field, Form, not_active_note
from klapka.web.frame import PageContext, open_page

# path, title, kind, columns shown besides the key: (field, label)
DIRECTORY_PAGES: tuple[tuple[str, str, Kind, tuple[tuple[str, str], ...]], ...] = (
    ("/groups", "Groups", Kind.GROUP, (("members", "Members"),)),
    ("/ring-groups", "Ring groups", Kind.RING_GROUP, (("name", "Name"), ("members", "Members"))),
    ("/queues", "Queues", Kind.QUEUE, (("name", "Name"), ("members", "Members"))),
    (
        "/trunks",
        "Trunks",
        Kind.TRUNK,
        (("type", "Type"), ("host", "Host"), ("enabled", "Enabled")),
    ),
    (
        "/inbound-routes",
        "Inbound routes",
        Kind.INBOUND_ROUTE,
        (("did", "DID"), ("destination", "Destination")),
    ),
    (
        "/outbound-routes",
        "Outbound routes",
        Kind.OUTBOUND_ROUTE,
        (("patterns", "Dial patterns"), ("trunks", "Trunks")),
    ),
)


def system_settings(ctx: PageContext, p: Principal) -> SystemSettings:
    """The system settings service for ``p`` (it checks that ``p`` is an admin)."""
    return SystemSettings(ctx.pbx, p)


def admin_page(request: Request, title: str) -> PageContext | Response | None:
    return open_page(request, title, admin=True)


def _cell(value: Any) -> str:
    if value is True or value is False:
        return "✓" if value else "✗"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def yaml_editor(
    ctx: PageContext,
    title: str,
    text: str,
    save: Callable[[Principal, Any], Any],
    done: Callable[[], None],
) -> None:
    """A dialog with the object as YAML; saved through ``save``, problems shown by path."""
    t = ctx.t
    with ui.dialog() as dialog, ui.card().classes("w-[40rem] max-w-[96vw]"):
        ui.label(title).classes("text-lg font-bold")
        form = Form(t)
        area = (
            ui.textarea(t("Settings (YAML)"), value=text)
            .props('outlined autogrow spellcheck=false data-testid="yaml"')
            .classes("w-full font-mono")
        )
        form.fields[""] = Field(
            lambda: load_yaml(area.value or "{}"), lambda e: setattr(area, "error", e)
        )

        def show(e: InvalidInput) -> None:
            # Every problem of the object is somewhere in this one text: list them all.
            form.clear_problems()
            area.error = "; ".join(str(p) for p in e.problems)

        def submit() -> None:
            def run(p: Principal) -> Any:
                return save(p, load_yaml(area.value or "{}"))

            if ctx.attempt(run, show) is not None:
                ui.notify(t("Saved"), type="positive")
                dialog.close()
                done()

        with ui.row():
            ui.button(t("Save"), icon="save", on_click=submit).props('data-testid="save"')
            ui.button(t("Cancel"), on_click=dialog.close).props("flat")
    dialog.open()


def directory_page(path: str, title: str, kind: Kind, shown: tuple[tuple[str, str], ...]) -> None:
    @ui.page(path)
    def page(request: Request) -> Response | None:
        ctx = admin_page(request, title)
        if not isinstance(ctx, PageContext):
            return ctx
        t = ctx.t
        key = (
            "name"
            if kind in (Kind.GROUP, Kind.TRUNK, Kind.INBOUND_ROUTE, Kind.OUTBOUND_ROUTE)
            else "number"
        )
        columns = [
            {
                "name": key,
                "label": t("Name" if key == "name" else "Number"),
                "field": key,
                "align": "left",
            }
        ]
        columns += [
            {"name": c, "label": t(label), "field": c, "align": "left"}
            for c, label in shown
            if c != key
        ]
        columns.append({"name": "actions", "label": "", "field": key, "align": "right"})
        table = (
            ui.table(columns=columns, rows=[], row_key=key)
            .props(f'flat bordered dense data-testid="{kind.value}-table"')
            .classes("w-full")
        )
        not_active_note(t, kind.value)
        table.add_slot(
            "body-cell-actions",
            '<q-td :props="props">'
            f'<q-btn flat dense icon="edit" :aria-label="\'{t("Open")} \' + props.value" '
            "@click=\"$parent.$emit('open', props.value)\" />"
            f'<q-btn flat dense icon="delete" color="negative" :aria-label="\'{t("Delete")} \' + props.value" '
            "@click=\"$parent.$emit('remove', props.value)\" />"
            "</q-td>",
        )

        def refresh() -> None:
            page = ctx.attempt(lambda p: Objects(ctx.pbx, p).list(kind, limit=500), None)
            rows = []
            for item in page.items if page else []:
                row = {c: _cell(item.get(c, True if c == "enabled" else None)) for c, _ in shown}
                row[key] = str(item[key])
                rows.append(row)
            table.rows = rows
            table.update()

        def open_one(name: str) -> None:
            obj = ctx.attempt(lambda p: Objects(ctx.pbx, p).get(kind, name), None)
            if obj is not None:
                yaml_editor(
                    ctx,
                    f"{t(title)}: {name}",
                    dump_yaml(obj),
                    lambda p, data: Objects(ctx.pbx, p).replace(kind, name, data),
                    refresh,
                )

        def remove(name: str) -> None:
            if ctx.attempt(lambda p: Objects(ctx.pbx, p).delete(kind, name), None) is not None:
                ui.notify(t("Deleted"), type="positive")
                refresh()

        table.on("open", lambda e: open_one(str(e.args)))
        table.on("remove", lambda e: remove(str(e.args)))
        ui.button(
            t("New"),
            icon="add",
            on_click=lambda: yaml_editor(
                ctx,
                t(title),
                f"{key}: \n",
                lambda p, data: Objects(ctx.pbx, p).create(kind, data),
                refresh,
            ),
        ).props(f'data-testid="new-{kind.value}"')
        refresh()
        if kind is Kind.QUEUE:
            queue_agents_panel(ctx)
        if kind is Kind.TRUNK:
            trunk_status_panel(ctx)
        return None


def trunk_status_panel(ctx: PageContext) -> None:
    """Each trunk's live status from the SIP core (registered, auth failed, reachable...)."""
    t = ctx.t
    ui.label(t("Status")).classes("text-lg font-bold mt-4")
    box = ui.column().props('data-testid="trunk-status"')

    def read(p: Principal) -> list[dict[str, Any]]:
        try:
            return TrunkStatus(ctx.pbx, principal=p).all()
        except SipCoreUnavailable as e:
            return [{"name": "", "status": "unknown", "problem": str(e)}]

    async def show() -> None:
        found = await ctx.attempt_in_thread(read, None) or []
        box.clear()
        with box:
            for trunk in found:
                detail = trunk.get("detail") or (
                    f"{trunk['round_trip_ms']} ms" if "round_trip_ms" in trunk else ""
                )
                ui.label(f"{trunk['name']} {t(trunk['status'])} {detail}".strip()).classes(
                    "text-sm"
                )
            if not found:
                ui.label(t("Nothing here yet.")).classes("text-grey-7")

    ui.timer(0.01, show, once=True)
    ui.timer(15.0, show)


def queue_agents_panel(ctx: PageContext) -> None:
    """The agents of a queue: logged in or out, paused or not (changed here, live)."""
    t = ctx.t
    page = ctx.attempt(lambda p: Objects(ctx.pbx, p).list(Kind.QUEUE, limit=500), None)
    numbers = [str(q["number"]) for q in page.items] if page else []
    ui.label(t("Agents")).classes("text-lg font-bold mt-4")
    chooser = ui.select(numbers, label=t("Queues"), value=numbers[0] if numbers else None).classes(
        "min-w-[10rem]"
    )
    box = ui.column()

    def show() -> None:
        box.clear()
        queue = chooser.value
        if not queue:
            return
        agents: list[dict[str, Any]] = (
            ctx.attempt(lambda p: Objects(ctx.pbx, p).queue_agents(queue), None) or []
        )
        with box:
            for agent in agents:
                number = agent["extension"]
                with ui.row().classes("items-center"):
                    ui.label(number).classes("w-16 font-bold")
                    ui.switch(
                        t("Logged in"),
                        value=agent["logged_in"],
                        on_change=lambda e, n=number: change(n, e.value, None),
                    )
                    ui.switch(
                        t("Paused"),
                        value=agent["paused"],
                        on_change=lambda e, n=number: change(n, None, e.value),
                    )

    def change(number: str, logged_in: bool | None, paused: bool | None) -> None:
        queue = chooser.value
        ctx.attempt(
            lambda p: Objects(ctx.pbx, p).set_queue_agent(queue, number, logged_in, paused), None
        )

    chooser.on_value_change(lambda _e: show())
    show()


for _path, _title, _kind, _shown in DIRECTORY_PAGES:
    directory_page(_path, _title, _kind, _shown)


AUDIT_KINDS = (
    "extension",
    "group",
    "ring_group",
    "queue",
    "trunk",
    "inbound_route",
    "outbound_route",
    "client_permission",
    "contact",
    "phonebook",
    "system",
    "business_hours",
)

DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


@ui.page("/business-hours")
def business_hours_page(request: Request) -> Response | None:
    """The week at a glance (open hours and breaks per day), holidays; edited as YAML."""
    ctx = admin_page(request, "Business hours")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    hours = ctx.attempt(lambda p: system_settings(ctx, p).get_business_hours(), None)
    if hours is None:
        return None
    ui.label(t("Weekly hours")).classes("text-lg font-bold")
    with (
        ui.element("div").classes("w-full overflow-x-auto"),
        ui.grid(columns=7).classes("min-w-[40rem] gap-1 text-sm").props('data-testid="week"'),
    ):
        for day, name in DAY_NAMES.items():
            with ui.column().classes("gap-1 border rounded p-2"):
                ui.label(t(name)).classes("font-bold")
                for span in hours["weekly"].get(day, []):
                    ui.label(span).classes("bg-green-2 rounded px-1")
                for span in hours["breaks"].get(day, []):
                    ui.label(f"{t('Break')} {span}").classes("bg-orange-2 rounded px-1")
                if not hours["weekly"].get(day):
                    ui.label(t("Closed")).classes("text-grey-7")
    ui.label(t("Holidays")).classes("text-lg font-bold mt-2")
    for holiday in hours["holidays"]:
        end = f" – {holiday['end_date']}" if holiday.get("end_date") else ""
        ui.label(f"{holiday['date']}{end} {holiday.get('name', '')}")
    if not hours["holidays"]:
        ui.label(t("Nothing here yet.")).classes("text-grey-7")
    ui.button(
        t("Edit"),
        icon="edit",
        on_click=lambda: yaml_editor(
            ctx,
            t("Business hours"),
            dump_yaml(hours),
            lambda p, data: system_settings(ctx, p).replace_business_hours(data),
            ui.navigate.reload,
        ),
    ).props('data-testid="edit-hours"')
    return None


@ui.page("/client-permissions")
def client_permissions_page(request: Request) -> Response | None:
    """The rules top-down (first match wins): reorder, edit as YAML, and what user X sees."""
    ctx = admin_page(request, "Client permissions")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    kind = Kind.CLIENT_PERMISSION
    rules_box = ui.column().classes("w-full max-w-[48rem] gap-1")
    ui.label(t("Drag a rule to move it, or use the arrows.")).classes("text-xs text-grey-7")
    dragged: dict[str, str] = {}

    def refresh() -> None:
        page = ctx.attempt(lambda p: Objects(ctx.pbx, p).list(kind, limit=500), None)
        rules_box.clear()
        items = page.items if page else []
        with rules_box:
            if not items:
                ui.label(t("Nothing here yet.")).classes("text-grey-7")
            for position, rule in enumerate(items, 1):
                name = rule["name"]
                card = (
                    ui.card()
                    .classes("w-full cursor-move")
                    .props(f'flat bordered draggable="true" data-testid="rule-{name}"')
                )
                card.on("dragstart", lambda n=name: dragged.update(name=n))
                card.on("dragover.prevent", lambda: None)
                card.on("drop", lambda at=position: drop(at))
                with card, ui.row().classes("items-center w-full no-wrap"):
                    ui.label(str(position)).classes("text-grey-7 w-6")
                    with ui.column().classes("gap-0 flex-grow"):
                        ui.label(rule["name"]).classes("font-bold")
                        ui.label(_cell(rule.get("target"))).classes("text-xs text-grey-8")
                    ui.button(
                        icon="arrow_upward", on_click=lambda n=name, at=position: move(n, at - 1)
                    ).props(f'flat dense aria-label="{t("Move up")}"').set_enabled(position > 1)
                    ui.button(
                        icon="arrow_downward", on_click=lambda n=name, at=position: move(n, at + 1)
                    ).props(f'flat dense aria-label="{t("Move down")}"').set_enabled(
                        position < len(items)
                    )
                    ui.button(icon="edit", on_click=lambda n=name: edit(n)).props(
                        f'flat dense aria-label="{t("Open")}"'
                    )
                    ui.button(icon="delete", on_click=lambda n=name: remove(n)).props(
                        f'flat dense color=negative aria-label="{t("Delete")}"'
                    )

    def drop(position: int) -> None:
        name = dragged.pop("name", None)
        if name is not None:
            move(name, position)

    def move(name: str, position: int) -> None:
        if ctx.attempt(lambda p: ClientPermissions(ctx.pbx, p).move(name, position), None):
            refresh()

    def edit(name: str) -> None:
        rule = ctx.attempt(lambda p: Objects(ctx.pbx, p).get(kind, name), None)
        if rule is not None:
            yaml_editor(
                ctx,
                name,
                dump_yaml(rule),
                lambda p, data: Objects(ctx.pbx, p).replace(kind, name, data),
                refresh,
            )

    def remove(name: str) -> None:
        if ctx.attempt(lambda p: Objects(ctx.pbx, p).delete(kind, name), None) is not None:
            refresh()

    ui.button(
        t("New"),
        icon="add",
        on_click=lambda: yaml_editor(
            ctx,
            t("Client permissions"),
            "name: \ntarget: {all: true}\nmenus: {}\n",
            lambda p, data: Objects(ctx.pbx, p).create(kind, data),
            refresh,
        ),
    )
    refresh()

    ui.label(t("What can this user see?")).classes("text-lg font-bold mt-4")
    with ui.row().classes("items-end"):
        number = ui.input(t("Extension")).props('data-testid="preview-number"')
        result = ui.column().classes("w-full")

        def preview() -> None:
            number.error = None
            seen = ctx.attempt(
                lambda p: ClientPermissions(ctx.pbx, p).preview((number.value or "").strip()),
                lambda e: setattr(number, "error", str(e)),
            )
            result.clear()
            if seen is None:
                return
            with result:
                menus = [m for m, shown in seen["menus"].items() if shown]
                prefs = [m for m, allowed in seen["preferences"].items() if allowed]
                ui.label(f"{t('Menus')}: {', '.join(menus) or '—'}")
                ui.label(f"{t('May change')}: {', '.join(prefs) or '—'}")
                ui.label(f"{t('Company contacts')}: {seen['contacts']}")
                hidden = seen["extensions"]["hidden"]
                ui.label(
                    f"{t('Sees {count} extensions', count=seen['extensions']['visible'])}; "
                    f"{t('hidden')}: {', '.join(hidden) or '—'}"
                ).props('data-testid="preview-extensions"')

        ui.button(t("Show"), on_click=preview).props('data-testid="preview"')
    return None


@ui.page("/contacts")
def contacts_page(request: Request) -> Response | None:
    ctx = admin_page(request, "Contacts")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    columns = [
        {"name": "name", "label": t("Name"), "field": "name", "align": "left"},
        {"name": "company", "label": t("Company"), "field": "company", "align": "left"},
        {"name": "numbers", "label": t("Phone numbers"), "field": "numbers", "align": "left"},
        {"name": "phonebook", "label": t("Phonebook"), "field": "phonebook", "align": "left"},
    ]
    books = ctx.attempt(lambda p: contacts.list_phonebooks(ctx.pbx, p, limit=500), None)
    with ui.row().classes("items-end gap-3"):
        search = ui.input(t("Search")).props("clearable debounce=300 type=search")
        phonebook = ui.select(
            {"": t("All"), **{b["name"]: b["name"] for b in (books.items if books else [])}},
            label=t("Phonebook"),
            value="",
        ).classes("min-w-[10rem]")
    table = (
        ui.table(columns=columns, rows=[], row_key="id")
        .props("flat bordered dense")
        .classes("w-full")
    )

    def refresh() -> None:
        page = ctx.attempt(
            lambda p: contacts.list_company(
                ctx.pbx, p, q=search.value or None, phonebook=phonebook.value or None, limit=200
            ),
            None,
        )
        table.rows = [
            {
                "id": c["id"],
                "name": " ".join(x for x in (c.get("first_name"), c.get("last_name")) if x),
                "company": c.get("company", ""),
                "numbers": ", ".join(n["number"] for n in c.get("numbers", [])),
                "phonebook": c.get("phonebook", ""),
            }
            for c in (page.items if page else [])
        ]
        table.update()

    search.on_value_change(lambda _e: refresh())
    phonebook.on_value_change(lambda _e: refresh())
    ui.button(
        t("New"),
        icon="add",
        on_click=lambda: yaml_editor(
            ctx,
            t("Contacts"),
            "first_name: \nlast_name: \ncompany: \nnumbers:\n  - number: \n",
            lambda p, data: contacts.create_company(ctx.pbx, p, data),
            refresh,
        ),
    )
    ui.button(
        t("New phonebook"),
        icon="menu_book",
        on_click=lambda: yaml_editor(
            ctx,
            t("New phonebook"),
            'name: \ndescription: ""\n',
            lambda p, data: contacts.create_phonebook(ctx.pbx, p, data),
            ui.navigate.reload,
        ),
    ).props("flat")
    refresh()
    return None


@ui.page("/system")
def system_page(request: Request) -> Response | None:
    ctx = admin_page(request, "System")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    system = ctx.attempt(lambda p: system_settings(ctx, p).get(), None)
    if system is None:
        return None
    with ui.card().classes("w-full max-w-[48rem]"):
        form = Form(t)
        with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
            form.text("timezone", "Time zone", system["timezone"])
            form.text("portal_url", "Portal URL", system["portal_url"])
        ui.label(t("SMTP server")).classes("text-lg font-bold mt-2")
        smtp = system["smtp"]
        with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
            form.text("smtp.host", "Host", smtp["host"])
            form.number("smtp.port", "Port", smtp["port"], lo=1, hi=65535)
            form.select(
                "smtp.security", "Security mode", ["none", "starttls", "tls"], smtp["security"]
            )
            form.text("smtp.username", "Username", smtp["username"])
            form.text(
                "smtp.password",
                "Password",
                "",
                password=True,
                empty=SKIP,
                hint="Leave empty to keep the current one.",
            )
            form.text("smtp.from_address", "From address", smtp.get("from_address"), empty=None)

        def save() -> None:
            form.clear_problems()
            if ctx.attempt(
                lambda p: system_settings(ctx, p).patch(form.values()), form.show_problems
            ):
                ui.notify(t("Saved"), type="positive")

        with ui.row():
            ui.button(t("Save"), icon="save", on_click=save).props('data-testid="save"')
            ui.button(
                t("All settings (YAML)"),
                icon="edit",
                on_click=lambda: yaml_editor(
                    ctx,
                    t("System"),
                    dump_yaml(system),
                    lambda p, data: system_settings(ctx, p).replace(data),
                    ui.navigate.reload,
                ),
            ).props("flat")
    with ui.card().classes("w-full max-w-[48rem]"):
        to = ui.input(t("Send to")).props('type=email data-testid="test-email-to"')

        def test_email(p: Principal) -> bool:
            if not (to.value or "").strip():
                raise InvalidInput.one("to", "required: an email address")
            system_settings(ctx, p).send_test_email(to.value.strip())
            return True

        def send() -> None:
            to.error = None
            if ctx.attempt(test_email, lambda e: setattr(to, "error", str(e))):
                ui.notify(t("Test email sent"), type="positive")

        ui.button(t("Send test email"), icon="mail", on_click=send).props(
            'data-testid="test-email"'
        )
    return None


@ui.page("/audit")
def audit_page(request: Request) -> Response | None:
    ctx = admin_page(request, "Audit log")
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    state = {"offset": 0}
    with ui.row().classes("items-end gap-3"):
        actor = ui.input(t("Who"), placeholder="101").props(
            'clearable debounce=400 data-testid="audit-actor"'
        )
        kind = ui.select(
            {"": t("All"), **{k: k for k in AUDIT_KINDS}}, label=t("Object"), value=""
        ).classes("min-w-[10rem]")
        key = ui.input(t("Key"), placeholder="101").props("clearable debounce=400")
    zone_name = ctx.attempt(lambda p: SystemSettings(ctx.pbx, p).get()["timezone"], None) or "UTC"
    zone = ZoneInfo(zone_name)
    ui.label(t("Times in {zone}", zone=zone_name)).classes("text-sm text-grey-8").props(
        'data-testid="audit-zone"'
    )
    columns = [
        {"name": "at", "label": t("When"), "field": "at", "align": "left"},
        {"name": "actor", "label": t("Who"), "field": "actor", "align": "left"},
        {"name": "action", "label": t("Action"), "field": "action", "align": "left"},
        {"name": "object", "label": t("Object"), "field": "object", "align": "left"},
        {"name": "changes", "label": t("Changes"), "field": "changes", "align": "left"},
    ]
    table = (
        ui.table(columns=columns, rows=[], row_key="id")
        .props('flat bordered dense wrap-cells data-testid="audit-table"')
        .classes("w-full")
    )
    with ui.row().classes("items-center"):
        ui.button(t("Previous"), on_click=lambda: move(-50)).props("flat")
        counter = ui.label("")
        ui.button(t("Next"), on_click=lambda: move(50)).props("flat")

    def read(p: Principal) -> Any:
        return AuditLog(ctx.pbx, p).list(
            actor=(actor.value or "").strip() or None,
            kind=kind.value or None,
            key=(key.value or "").strip() or None,
            limit=50,
            offset=state["offset"],
        )

    def refresh() -> None:
        page = ctx.attempt(read, None)
        if page is None:
            return
        table.rows = [
            {
                "id": e["id"],
                "at": f"{datetime.fromisoformat(e['at']).astimezone(zone):%Y-%m-%d %H:%M:%S}",
                "actor": e["actor"],
                "action": e["action"],
                "object": f"{e['kind']} {e['key']}".strip(),
                "changes": "; ".join(
                    f"{c.get('path')}: {_cell(c.get('before')) or '—'} → "
                    f"{_cell(c.get('after')) or '—'}"
                    for c in (e["changes"] or [])[:5]
                ),
            }
            for e in page.items
        ]
        table.update()
        counter.text = t(
            "{first}–{last} of {total}",
            first=page.offset + 1 if page.total else 0,
            last=min(page.offset + 50, page.total),
            total=page.total,
        )

    def move(delta: int) -> None:
        state["offset"] = max(0, state["offset"] + delta)
        refresh()

    def filtered(_e: Any) -> None:
        state["offset"] = 0
        refresh()

    for element in (actor, kind, key):
        element.on_value_change(filtered)
    refresh()
    return None
