"""The ASGI application: the API routers under ``/api/v1``, each behind the admin token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import RedirectResponse

import klapka
from klapka.api import (
    calls,
    config,
    contacts,
    extension_csv,
    extensions,
    groups,
    inbound_routes,
    outbound_routes,
    queues,
    ring_groups,
    system,
    trunks,
)
from klapka.api.auth import require_admin
from klapka.api.crud import document_bodies
from klapka.api.errors import install_error_handlers
from klapka.services.pbx import Pbx

PREFIX = "/api/v1"

# Every router here requires an admin token (see include below); a new resource goes here.
PROTECTED_ROUTERS: tuple[APIRouter, ...] = (
    calls.router,  # before extensions: /extensions/{n}/call-paths
    extension_csv.router,  # before extensions: /extensions/import is not an extension number
    extensions.router,
    groups.router,
    ring_groups.router,
    queues.router,
    trunks.router,
    inbound_routes.router,
    outbound_routes.router,
    contacts.router,
    system.router,
    config.router,
)

public = APIRouter(tags=["service"])


@public.get("/health", summary="Is the API up?", operation_id="health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(pbx: Pbx | None = None) -> FastAPI:
    """The API over ``pbx``; without one, over the database the environment names."""
    owns_pbx = pbx is None
    the_pbx = pbx if pbx is not None else Pbx.from_url()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_pbx:
            the_pbx.close()

    app = FastAPI(
        title="klapka",
        version=klapka.__version__,
        description="The REST API of klapka, an open-source IP PBX. Every endpoint but "
        "`/health` needs `Authorization: Bearer <admin API token>` (`klapka init` prints one).",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # served below from the bundled Swagger UI: a PBX may be offline
        redoc_url=None,
        separate_input_output_schemas=False,
        lifespan=lifespan,
    )
    app.state.pbx = the_pbx
    install_error_handlers(app)
    app.include_router(public, prefix=PREFIX)
    for router in PROTECTED_ROUTERS:
        app.include_router(router, prefix=PREFIX, dependencies=[Depends(require_admin)])

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_bodies(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    _install_docs(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/docs")

    return app


def _install_docs(app: FastAPI) -> None:
    """Interactive API docs at /api/v1/docs with Swagger UI from a Python package, no CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

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
