"""Signing in to the web UI: email and password, then the second factor when the user has one.

The same ``SignIn`` service as ``POST /api/v1/auth/login`` (lockout, same answer for every
failure, two-factor challenge). The new session reaches the browser as the API's cookies
through ``/ui/auth/complete`` (see ``klapka.web.session``). A session that may only enrol
in two-factor authentication gets the enrolment page.
"""

from __future__ import annotations

from typing import Any

from nicegui import app as nicegui_app
from nicegui import run, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from klapka.domain.problems import InvalidInput, KlapkaError
from klapka.http_session import clear_session_cookies, set_session_cookies
from klapka.services.accounts.credentials import ENROLMENT_ONLY
from klapka.services.accounts.sessions import Sessions
from klapka.services.accounts.sign_in import SignIn, SignInResult
from klapka.services.accounts.two_factor import TwoFactor
from klapka.services.accounts.user_passwords import UserPasswords
from klapka.services.permissions import may_administer
from klapka.store.repository import now
from klapka.web.frame import language_menu, the_pbx, translator_for, url
from klapka.web.session import BROWSER_COOKIE, Visitor, hand_off, take


def _clock() -> Any:
    return getattr(nicegui_app.state, "klapka_clock", now)


@nicegui_app.get("/auth/complete", include_in_schema=False)
def complete_sign_in(request: Request, code: str = "") -> Response:
    """Set the session cookies of a sign-in that just succeeded (the code works once)."""
    found = take(code, request.cookies.get(BROWSER_COOKIE))
    if found is None:
        return RedirectResponse(url("/sign-in"), status_code=303)
    session_id, max_age = found
    response = RedirectResponse(url("/"), status_code=303)
    set_session_cookies(request, response, session_id, max_age)
    return response


@nicegui_app.get("/auth/signed-out", include_in_schema=False)
def signed_out(request: Request) -> Response:
    """The session is already ended (``frame.sign_out``); forget its cookies."""
    response = RedirectResponse(url("/sign-in"), status_code=303)
    clear_session_cookies(request, response)
    return response


@ui.page("/")
def home(request: Request) -> Response:
    visitor = Visitor.of(request, the_pbx(), _clock())
    found = visitor.authenticated()
    if found is None:
        return RedirectResponse(url("/sign-in"), status_code=303)
    if ENROLMENT_ONLY in found.principal.scopes:
        return RedirectResponse(url("/two-factor"), status_code=303)
    start = "/extensions" if may_administer(found.principal) else "/me"
    return RedirectResponse(url(start), status_code=303)


def _finish(result: SignInResult, browser: str) -> None:
    max_age = max(1, int((result.expires_at - _clock()()).total_seconds()))
    assert result.session_id is not None
    ui.navigate.to(f"/auth/complete?code={hand_off(result.session_id, max_age, browser)}")


@ui.page("/sign-in")
def sign_in_page(request: Request) -> None:
    t = translator_for(request)
    ip = Visitor.of(request, the_pbx()).source_ip
    agent = request.headers.get("user-agent")
    browser = str(getattr(request.state, BROWSER_COOKIE, ""))  # session.BrowserCookie
    ui.page_title(f"{t('Sign in')} · klapka")
    challenge: dict[str, str] = {}
    with ui.column().classes("absolute-center items-stretch w-[22rem] max-w-[92vw]"):
        with ui.row().classes("items-center"):
            ui.label("klapka").classes("text-3xl font-bold text-primary")
            ui.space()
            language_menu(t, "flat")
        with ui.card().classes("w-full") as password_card:
            ui.label(t("Sign in")).classes("text-xl")
            email = (
                ui.input(t("Email"))
                .props('type=email autocomplete=username autofocus data-testid="email"')
                .classes("w-full")
            )
            password = (
                ui.input(t("Password"), password=True)
                .props('autocomplete=current-password data-testid="password"')
                .classes("w-full")
            )
            error = (
                ui.label("")
                .classes("text-negative")
                .props('role="alert" data-testid="sign-in-error"')
            )
            ui.button(t("Sign in"), on_click=lambda: attempt()).props(
                'type=submit data-testid="sign-in"'
            ).classes("w-full")
        with (
            ui.expansion(t("Forgot your password?")).classes("w-full").props('data-testid="forgot"')
        ):
            reset_email = (
                ui.input(t("Email")).props('type=email data-testid="reset-email"').classes("w-full")
            )
            reset_sent = ui.label("").classes("text-sm").props('role="status"')

            async def request_reset() -> None:
                address = (reset_email.value or "").strip()
                if address:
                    # The same answer whether or not the account exists, and after the work.
                    await run.io_bound(
                        UserPasswords(the_pbx(), _clock()).request_reset, address[:255], ip
                    )
                reset_sent.text = t(
                    "If an account has this email, a link to reset its password is on its way."
                )

            ui.button(t("Email me a link"), on_click=request_reset).props(
                'flat data-testid="request-reset"'
            )
        with ui.card().classes("w-full") as code_card:
            ui.label(t("Two-factor authentication")).classes("text-xl")
            code = (
                ui.input(t("Code from your authenticator app or a recovery code"))
                .props('autocomplete=one-time-code inputmode=numeric data-testid="code"')
                .classes("w-full")
            )
            code_error = ui.label("").classes("text-negative").props('role="alert"')
            ui.button(t("Confirm"), on_click=lambda: second()).props('data-testid="confirm-code"')
        code_card.set_visibility(False)

    def attempt() -> None:
        error.text = ""
        try:
            result = SignIn(the_pbx(), _clock()).password(
                {"email": email.value or "", "password": password.value or ""}, ip, agent
            )
        except InvalidInput as e:
            error.text = "; ".join(
                p.rule if not p.path else f"{t(p.path.capitalize())}: {p.rule}" for p in e.problems
            )
            return
        except KlapkaError as e:
            error.text = str(e)
            return
        if result.status == "second_factor_required":
            assert result.challenge is not None
            challenge["value"] = result.challenge
            password_card.set_visibility(False)
            code_card.set_visibility(True)
            return
        _finish(result, browser)

    def second() -> None:
        code_error.text = ""
        try:
            result = SignIn(the_pbx(), _clock()).second_factor(
                {"challenge": challenge.get("value", ""), "code": (code.value or "").strip()},
                ip,
                agent,
            )
        except KlapkaError as e:
            code_error.text = str(e)
            return
        _finish(result, browser)

    password.on("keydown.enter", attempt)
    code.on("keydown.enter", second)


@ui.page("/reset-password")
def reset_password_page(request: Request) -> None:
    """The page of the reset link: the token is in the fragment (``#token=...``), which the
    browser never sends to a server; the page reads it and sends it with the new password."""
    t = translator_for(request)
    ip = Visitor.of(request, the_pbx()).source_ip
    ui.page_title(f"{t('New password')} · klapka")
    with ui.card().classes("absolute-center w-[24rem] max-w-[94vw]"):
        ui.label(t("New password")).classes("text-xl")
        password = (
            ui.input(t("New password"), password=True)
            .props('autocomplete=new-password data-testid="new-password"')
            .classes("w-full")
        )
        problem = ui.label("").classes("text-negative").props('role="alert"')

        async def confirm() -> None:
            problem.text = ""
            fragment = str(await ui.run_javascript("location.hash") or "")
            token = fragment.removeprefix("#").removeprefix("token=")
            try:
                UserPasswords(the_pbx(), _clock()).confirm_reset(
                    {"token": token, "new_password": password.value or ""}, ip
                )
            except InvalidInput as e:
                problem.text = "; ".join(p.rule for p in e.problems)
                return
            except KlapkaError as e:
                problem.text = str(e)
                return
            ui.notify(t("Password changed"), type="positive")
            ui.navigate.to("/sign-in")

        ui.button(t("Confirm"), on_click=confirm).props('data-testid="confirm-reset"')


@ui.page("/two-factor")
def enrolment_page(request: Request) -> Response | None:
    """Two-factor authentication is required and not set up yet: set it up, then go on."""
    t = translator_for(request)
    visitor = Visitor.of(request, the_pbx(), _clock())
    found = visitor.authenticated()
    if found is None:
        return RedirectResponse(url("/sign-in"), status_code=303)
    ui.page_title(f"{t('Two-factor authentication')} · klapka")
    with ui.card().classes("absolute-center w-[26rem] max-w-[94vw]"):
        ui.label(t("Two-factor authentication")).classes("text-xl")
        if ENROLMENT_ONLY in found.principal.scopes:
            ui.label(t("You are signed in only to set up two-factor authentication."))
        ui.label(t("Scan the QR code with your authenticator app, then enter the code it shows."))
        holder = ui.column().classes("items-center w-full")
        if ENROLMENT_ONLY not in found.principal.scopes:
            status = TwoFactor(the_pbx(), found.principal, _clock()).status()
            if status["enrolled"]:
                ui.label(t("Two-factor authentication is on.")).classes("text-positive")
                ui.button(t("Back"), on_click=lambda: ui.navigate.to("/"))
                return None
        code = ui.input(t("Code from your authenticator app or a recovery code")).props(
            'autocomplete=one-time-code inputmode=numeric data-testid="enrol-code"'
        )
        problem = ui.label("").classes("text-negative").props('role="alert"')

        def service() -> TwoFactor:
            found_now = visitor.authenticated()
            if found_now is None:
                raise KlapkaError("the session has ended: sign in again")
            return TwoFactor(the_pbx(), found_now.principal, _clock())

        def start() -> None:
            try:
                started = service().start()
            except KlapkaError as e:
                problem.text = str(e)
                return
            holder.clear()
            with holder:
                ui.image("data:image/png;base64," + started["qr_code_png"]).classes("w-48 h-48")
                ui.label(str(started.get("secret", ""))).classes("font-mono text-sm")

        def confirm() -> None:
            try:
                done = service().confirm((code.value or "").strip())
            except KlapkaError as e:
                problem.text = str(e)
                return
            found_now = visitor.authenticated()
            if found_now is not None and found_now.session is not None:
                Sessions(the_pbx(), _clock()).activate(found_now.session.id)
            holder.clear()
            with holder:
                ui.label(t("Keep these recovery codes somewhere safe:"))
                for c in done.get("recovery_codes", []):
                    ui.label(c).classes("font-mono")
                ui.button(t("Continue"), on_click=lambda: ui.navigate.to("/"))

        with ui.row():
            ui.button(t("Start"), on_click=start)
            ui.button(t("Confirm"), on_click=confirm)
    return None
