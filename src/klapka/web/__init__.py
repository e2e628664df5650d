"""The web UI: the admin console and the user portal, in NiceGUI, under ``/ui``.

``mount(app, pbx)`` puts the UI into the REST API's ASGI app. Its pages call the same
services as the API, with the principal of the browser's session cookie (the API's own
cookie), so every permission rule holds in the UI exactly as in the API. Its routes live
in NiceGUI's own app, mounted at ``/ui``: they are not in the API's OpenAPI document.

NiceGUI keeps its app, pages and connected browsers in one process-wide object, so a
process serves one UI: ``klapka serve`` builds the API's app and mounts the UI in it, once
per process. The UI and the API import nothing of each other; what they share about the
browser's session is ``klapka.http_session``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from klapka.services.pbx import Pbx
from klapka.web.session import BrowserCookie

MOUNT = "/ui"
# Paths of links in emails (under the portal URL) -> the UI page that opens them.
EMAIL_LINKS = {
    "/reset-password": f"{MOUNT}/reset-password",
    "/app-login": f"{MOUNT}/app-login",  # the app login link (welcome email, QR code)
}
_configured = False


def mount(app: FastAPI, pbx: Pbx) -> None:
    """Serve the web UI at ``/ui`` of ``app``, over ``pbx``."""
    global _configured
    # NiceGUI (and the pages, which use it) is imported only when a UI is served: it is
    # heavy, and importing it sets up process-wide state (see above).
    from nicegui import app as nicegui_app
    from nicegui import core
    from nicegui.middlewares import RedirectWithPrefixMiddleware, SetCacheControlMiddleware
    from nicegui.nicegui import _shutdown, _startup

    # The pages register themselves with NiceGUI when imported.
    from klapka.web import (  # noqa: F401
        admin,
        app_login,
        calls,
        extensions,
        phone,
        portal,
        sign_in,
        simulator,
    )

    if _configured:
        raise RuntimeError("the web UI is already mounted in this process")
    _configured = True
    nicegui_app.state.klapka_pbx = pbx
    core.app.config.add_run_config(
        reload=False,
        title="klapka",
        viewport="width=device-width, initial-scale=1",
        favicon=None,
        dark=False,
        language="en-US",
        binding_refresh_interval=0.5,
        reconnect_timeout=5.0,
        message_history_length=1000,
        tailwind=True,
        unocss=None,
        prod_js=True,
        show_welcome_message=False,
        cache_control_directives="public, max-age=31536000, immutable",
        markdown=False,
    )
    # klapka's own JavaScript (the browser phone and its SIP library), at /ui/static/.
    core.app.add_static_files("/static", Path(__file__).parent / "static", max_cache_age=3600)
    core.app.add_middleware(RedirectWithPrefixMiddleware)
    core.app.add_middleware(SetCacheControlMiddleware)
    core.app.add_middleware(NoFraming)
    core.app.add_middleware(BrowserCookie)
    # The page's websocket carries every click: only pages of this origin may open one
    # (NiceGUI allows any origin by default).
    core.sio.eio.cors_allowed_origins = None
    app.mount(MOUNT, core.app)
    app.state.home = f"{MOUNT}/"
    app.add_middleware(EmailLinks)
    api_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: Any) -> AsyncIterator[Any]:
        await _startup()
        try:
            async with api_lifespan(the_app) as state:
                yield state
        finally:
            await _shutdown()

    app.router.lifespan_context = lifespan


class NoFraming:
    """The UI's pages are never shown inside another site's frame (clickjacking)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", b"frame-ancestors 'none'"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class EmailLinks:
    """The password reset link of the emails (``<portal_url>/reset-password#token=...``)
    opens the UI's page for it; the fragment stays with the browser across the redirect.
    A middleware, not a route: the API's routes stay what they are."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        target = EMAIL_LINKS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if target is None or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        from starlette.responses import RedirectResponse

        await RedirectResponse(target, status_code=303)(scope, receive, send)
