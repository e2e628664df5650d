"""The ASGI application: the API routers under ``/api/v1``, each behind the admin token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import klapka
from klapka.api import (
    audit,
    call_history,
    calls,
    client_permissions,
    config,
    contacts,
    extension_csv,
    extensions,
    groups,
    hot_desk,
    inbound_routes,
    me,
    me_contacts,
    outbound_routes,
    personal_tokens,
    phonebooks,
    provisioning,
    queues,
    ring_groups,
    sign_in,
    system,
    trunks,
    two_factor,
    user_accounts,
    voicemail,
    webhooks,
    welcome,
)
from klapka.api.auth import require_admin
from klapka.api.crud import document_bodies
from klapka.api.errors import document_errors, document_no_nul, install_error_handlers
from klapka.api.limits import BodySizeLimit
from klapka.services.accounts.sign_in import dummy_hash
from klapka.services.pbx import Pbx

PREFIX = "/api/v1"

# Every router here requires an admin (see include below); a new resource goes here. The
# operations of these that users may call too are in ``auth.USER_OPERATIONS``.
PROTECTED_ROUTERS: tuple[APIRouter, ...] = (
    calls.router,  # before extensions: /extensions/{n}/call-paths
    extension_csv.router,  # before extensions: /extensions/import is not an extension number
    welcome.router,  # before extensions: /extensions/welcome-email is not an extension number
    provisioning.router,  # before extensions: /extensions/{n}/phones/{mac}/reprovision
    hot_desk.router,
    extensions.router,
    groups.router,
    ring_groups.router,
    queues.router,
    trunks.router,
    inbound_routes.router,
    outbound_routes.router,
    system.router,
    config.router,
    client_permissions.router,
    user_accounts.router,
    audit.router,
    webhooks.router,
)

# Anyone signed in may call these; the services decide by the client permissions (contact
# visibility: none, view, manage).
SERVICE_CHECKED_ROUTERS: tuple[APIRouter, ...] = (
    contacts.router,
    phonebooks.router,
    call_history.router,  # admins every call; users their own (/me/call-history: call_logs)
)

# Signing in, a user's own credentials and settings: each route says who may call it
# (anyone, anyone signed in, or a session that is still enrolling in two-factor).
ACCOUNT_ROUTERS: tuple[APIRouter, ...] = (
    sign_in.router,
    personal_tokens.router,
    two_factor.router,
    me_contacts.router,  # before me: /me/contacts is not a presence status
    voicemail.router,  # before me: /me/voicemail/messages; the service checks the mailbox
    me.router,
    welcome.public_router,  # the app login link's one-time token is the credential
)

public = APIRouter(tags=["service"])


@public.get("/health", summary="Is the API up?", operation_id="health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(pbx: Pbx | None = None) -> FastAPI:
    """The API over ``pbx``; without one, over the database the environment names.

    The web UI is not part of it: ``klapka serve`` mounts it at ``/ui`` (``klapka.web.mount``)."""
    owns_pbx = pbx is None
    the_pbx = pbx if pbx is not None else Pbx.from_url()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The hash checked for unknown emails, made now: the first failed sign-in must not
        # take longer than any other (that would tell the email is unknown).
        dummy_hash()
        yield
        if owns_pbx:
            the_pbx.close()

    app = FastAPI(
        title="klapka",
        version=klapka.__version__,
        description="The REST API of klapka, an open-source IP PBX. Sign in with an API token "
        "(`Authorization: Bearer <token>`: an admin token, which `klapka init` prints, or a "
        "personal token) or a browser session (`POST /api/v1/auth/login`). Admins may call "
        "everything; an extension's user calls `/auth/...`, `/me/...` and reads the extensions "
        "they may see.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # served below from the bundled Swagger UI: a PBX may be offline
        redoc_url=None,
        separate_input_output_schemas=False,
        lifespan=lifespan,
    )
    app.state.pbx = the_pbx
    app.state.home = f"{PREFIX}/docs"  # where / leads; the web UI, once mounted
    install_error_handlers(app)
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(BodySizeLimit)  # added last: the outermost, before anything reads
    app.include_router(public, prefix=PREFIX)
    for router in PROTECTED_ROUTERS:
        app.include_router(router, prefix=PREFIX, dependencies=[Depends(require_admin)])
    for router in (*SERVICE_CHECKED_ROUTERS, *ACCOUNT_ROUTERS):
        app.include_router(router, prefix=PREFIX)
    app.include_router(provisioning.phones)  # /provisioning/: phones authenticate themselves

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_no_nul(
                document_errors(document_bodies(FastAPI.openapi(app)))
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    _install_docs(app)

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> RedirectResponse:
        return RedirectResponse(request.app.state.home)

    return app


class RefuseNulInUrl:
    """A NUL character (%00) in the path or the query is never meaningful, and PostgreSQL
    refuses to compare text with one: refused here, once, for every route (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            rule = "must not contain NUL characters (%00)"
            response = JSONResponse(
                {
                    "error": "invalid",
                    "message": f"url: {rule}",
                    "problems": [{"path": "url", "rule": rule}],
                },
                status_code=422,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _install_docs(app: FastAPI) -> None:
    """Interactive API docs at /api/v1/docs with Swagger UI from a Python package, no CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # no stubs

    app.mount(f"{PREFIX}/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{PREFIX}/openapi.json",
            title="klapka API",
            swagger_js_url=f"{PREFIX}/docs/static/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/docs/static/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/docs/static/favicon-32x32.png",
            oauth2_redirect_url=f"{PREFIX}/docs/oauth2-redirect",
        )

    @app.get(f"{PREFIX}/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
