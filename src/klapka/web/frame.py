"""The frame every page of the web UI shares: who is signed in, the menu, the language.

``open_page`` starts a page: it checks the browser's session (no session: off to the
sign-in page), decides the menus from the client permissions (the same service as
``GET /api/v1/me/permissions``), and draws the header and the navigation drawer. The
``PageContext`` it returns carries the translator and runs every action of the page
through ``attempt``, which checks the session again and turns service errors into
messages: a form shows ``InvalidInput`` problems at its fields (``klapka.web.forms``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from nicegui import app as nicegui_app
from nicegui import run, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from klapka.domain.problems import Conflict, Forbidden, InvalidInput, KlapkaError, NotFound, Problem
from klapka.services.accounts.credentials import ENROLMENT_ONLY
from klapka.services.accounts.sign_in import SignIn
from klapka.services.accounts.user_language import language_of
from klapka.services.accounts.user_language import set_language as remember_language
from klapka.services.pbx import Pbx
from klapka.services.permissions import menu_for
from klapka.services.principal import Principal
from klapka.store.repository import now
from klapka.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, pick_language
from klapka.web.session import SessionEnded, Visitor

MOUNT = "/ui"
T = TypeVar("T")


def url(path: str) -> str:
    """The browser's URL of a UI path (``/extensions`` -> ``/ui/extensions``)."""
    return MOUNT + path


def the_pbx() -> Pbx:
    pbx: Pbx = nicegui_app.state.klapka_pbx
    return pbx


def translator_for(request: Request) -> Translator:
    return Translator(
        pick_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
    )


# (path, label, menu that hides it for users or None, admin only)
ADMIN_PAGES: tuple[tuple[str, str], ...] = (
    ("/extensions", "Extensions"),
    ("/simulator", "Call simulator"),
    ("/groups", "Groups"),
    ("/ring-groups", "Ring groups"),
    ("/queues", "Queues"),
    ("/trunks", "Trunks"),
    ("/inbound-routes", "Inbound routes"),
    ("/outbound-routes", "Outbound routes"),
    ("/business-hours", "Business hours"),
    ("/client-permissions", "Client permissions"),
    ("/contacts", "Contacts"),
    ("/system", "System"),
    ("/call-history", "Call history"),
    ("/calls", "Calls now"),
    ("/audit", "Audit log"),
)
# The user portal; the menu (client permissions: menu visibility) that shows each page.
PORTAL_PAGES: tuple[tuple[str, str, str | None], ...] = (
    ("/me", "My status", None),
    ("/me/forwarding", "Forwarding", "settings"),
    ("/me/voicemail", "Voicemail", "voicemail"),
    ("/me/notifications", "Notifications", "settings"),
    ("/me/colleagues", "Colleagues", "extensions"),
    ("/me/contacts", "Contacts", "contacts"),
    ("/me/calls", "Call log", "call_logs"),
    ("/me/phone", "Phone", None),
    ("/me/integrations", "Caller rules and URL popup", "settings"),
    ("/two-factor", "Two-factor authentication", None),
    ("/me/password", "Change password", None),
)


@dataclass
class PageContext:
    visitor: Visitor
    principal: Principal
    t: Translator
    # What the principal may see, as the permissions service says (``menu_for``).
    admin: bool = False
    menus: dict[str, bool] = field(default_factory=dict)
    preferences: dict[str, bool] = field(default_factory=dict)
    contacts: str = "none"
    # Redrawn after a successful save (the editor's "where do calls go" panel).
    after_save: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def pbx(self) -> Pbx:
        return self.visitor.pbx

    def fresh_principal(self) -> Principal:
        """The principal, with the session checked again (it may have ended since)."""
        self.principal = self.visitor.principal()
        return self.principal

    def attempt(
        self, action: Callable[[Principal], T], on_invalid: Callable[[InvalidInput], None] | None
    ) -> T | None:
        """Run ``action`` for the signed-in principal; a service error becomes a message
        (``InvalidInput`` goes to ``on_invalid``, e.g. a form that marks its fields)."""
        try:
            return action(self.fresh_principal())
        except SessionEnded:
            ui.notify(self.t("Your session has ended: sign in again."), type="warning")
            ui.navigate.to("/sign-in")
        except InvalidInput as e:
            if on_invalid is not None:
                on_invalid(e)
            else:
                ui.notify(str(e), type="negative", multi_line=True)
        except Conflict as e:
            if on_invalid is not None and e.path:
                on_invalid(InvalidInput([Problem(e.path, e.message)]))
            else:
                ui.notify(e.message, type="negative", multi_line=True)
        except (Forbidden, NotFound, KlapkaError) as e:
            ui.notify(str(e), type="negative", multi_line=True)
        return None

    async def attempt_in_thread(
        self, action: Callable[[Principal], T], on_invalid: Callable[[InvalidInput], None] | None
    ) -> T | None:
        """``attempt`` for slow work (the routing engine over 10,000 extensions): it runs in
        a worker thread, so the other browsers of this process are not kept waiting."""
        try:
            principal = self.fresh_principal()
        except SessionEnded:
            return self.attempt(action, on_invalid)  # says so, and goes to the sign-in

        def work() -> tuple[T | None, KlapkaError | None]:
            try:
                return action(principal), None
            except KlapkaError as e:
                return None, e

        outcome = await run.io_bound(work)
        value, error = outcome if outcome is not None else (None, None)

        def done(_p: Principal) -> T | None:
            if error is not None:
                raise error
            return value

        return self.attempt(done, on_invalid)

    def menu_allowed(self, menu: str | None) -> bool:
        return menu is None or self.menus.get(menu, True)


def open_page(request: Request, title: str, admin: bool = False) -> PageContext | Response | None:
    """Check the session and draw the frame; a response (a redirect) when there is none;
    None for an ``admin`` page the principal may not open (the frame says so)."""
    t = translator_for(request)
    visitor = Visitor.of(request, the_pbx(), getattr(nicegui_app.state, "klapka_clock", now))
    found = visitor.authenticated()
    if found is None:
        return RedirectResponse(url("/sign-in"), status_code=303)
    if ENROLMENT_ONLY in found.principal.scopes:
        return RedirectResponse(url("/two-factor"), status_code=303)
    principal = found.principal
    # The user's own choice follows them to every browser (the cookie is this browser's).
    chosen = language_of(visitor.pbx, principal)
    if chosen in LANGUAGES and chosen != t.language:
        t = Translator(chosen)
    ctx = PageContext(visitor, principal, t)
    shown = menu_for(visitor.pbx, principal)
    ctx.admin, ctx.menus, ctx.preferences, ctx.contacts = (
        shown["admin"],
        shown["menus"],
        shown["preferences"],
        shown["contacts"],
    )
    ui.page_title(f"{t(title)} · klapka")
    _frame(ctx, title)
    if admin and not ctx.admin:
        ui.label(t("Only an admin may open this page.")).classes("text-negative text-lg").props(
            'role="alert" data-testid="refused"'
        )
        return None
    return ctx


def _frame(ctx: PageContext, title: str) -> None:
    t = ctx.t
    ui.colors(primary="#1d4ed8")
    with ui.header(elevated=True).classes("items-center gap-2 px-3 py-1 no-wrap"):
        menu_button = ui.button(icon="menu").props(
            f'flat color=white aria-label="{t("Menu")}" data-testid="menu-button"'
        )
        ui.label("klapka").classes("text-lg font-bold")
        ui.label(t(title)).classes("text-base ellipsis")
        ui.space()
        number = ctx.principal.extension
        who = t("Extension {number}", number=number) if number else ctx.principal.name
        ui.label(who).classes("text-sm max-sm:hidden")
        language_menu(t, "flat color=white", lambda code: _remember_language(ctx, code))
        ui.button(icon="logout", on_click=lambda: sign_out(ctx)).props(
            f'flat color=white aria-label="{t("Sign out")}" title="{t("Sign out")}" '
            'data-testid="sign-out"'
        )
    drawer = ui.left_drawer(bordered=True).props("breakpoint=1000 width=230")
    with drawer, ui.column().classes("gap-0 w-full").props('role="navigation"'):
        if ctx.admin:
            ui.label(t("Admin console")).classes("text-xs uppercase text-grey-7 px-2 pt-2")
            for path, label in ADMIN_PAGES:
                _nav_link(t(label), path)
        ui.label(t("My portal")).classes("text-xs uppercase text-grey-7 px-2 pt-3")
        for path, label, menu in PORTAL_PAGES:
            if ctx.menu_allowed(menu):
                _nav_link(t(label), path)
    menu_button.on_click(drawer.toggle)


def _nav_link(label: str, path: str) -> None:
    # NiceGUI's link puts the mount point (/ui) before a path itself: not url(path).
    ui.link(label, path).classes(
        "w-full px-3 py-2 rounded no-underline text-black hover:bg-blue-50"
    ).props(f'data-testid="nav{path.replace("/", "-")}"')


def language_menu(t: Translator, props: str, on_pick: Callable[[str], None] | None = None) -> None:
    button = ui.button(icon="translate").props(f'{props} aria-label="{t("Language")}"')
    with button, ui.menu():
        for code, name in LANGUAGES.items():
            ui.menu_item(name, on_click=lambda code=code: _pick(code, on_pick))


def _pick(code: str, on_pick: Callable[[str], None] | None) -> None:
    if on_pick is not None:
        on_pick(code)
    set_language(code)


def _remember_language(ctx: PageContext, code: str) -> None:
    if ctx.principal.extension is not None:  # an admin token's choice stays in the cookie
        remember_language(ctx.visitor.pbx, ctx.principal, code)


def set_language(code: str) -> None:
    # The cookie is the visitor's choice; a year, readable by the page (it is no secret).
    ui.run_javascript(
        f"document.cookie = '{LANGUAGE_COOKIE}={code}; path=/; max-age=31536000; samesite=lax';"
        "location.reload();"
    )


def sign_out(ctx: PageContext) -> None:
    if ctx.visitor.session_id:
        SignIn(ctx.pbx, ctx.visitor.clock).sign_out(ctx.visitor.session_id)
    ui.navigate.to("/auth/signed-out")


def not_available(ctx: PageContext) -> None:
    ui.label(ctx.t("Not available")).classes("text-negative text-lg").props('role="alert"')
