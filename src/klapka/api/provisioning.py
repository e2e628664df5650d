"""Desk-phone provisioning over HTTP: ``/provisioning/{file}`` (not behind the API's
sign-in: phones authenticate with Basic or Digest, see
``klapka.services.provisioning``), and the admin's ``/api/v1/extensions/{number}/phones/
{mac}/...`` (credentials, re-provision). ``klapka serve`` serves the phones' routes on
the API's port and over HTTPS on their own port (``provisioning_app``)."""

# No ``from __future__ import annotations``: see crud.py.

from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from klapka.api.crud import responses
from klapka.api.dependencies import get_pbx, get_principal
from klapka.http_session import source_ip
from klapka.services.pbx import Pbx
from klapka.services.provisioning.fetches import PhoneOverview
from klapka.services.provisioning.reprovision import PhoneProvisioning
from klapka.services.provisioning.server import Asked, ProvisioningServer
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.store.database import data_dir

PREFIX = "/provisioning"


def _data_dir(request: Request) -> FilePath:
    root = getattr(request.app.state, "data_dir", None)
    return FilePath(root) if root else data_dir()


def server_of(request: Request) -> ProvisioningServer:
    """The app's one provisioning server (device key, count of failures), made on first use."""
    state = request.app.state
    server: ProvisioningServer | None = getattr(state, "provisioning", None)
    if server is None:
        server = ProvisioningServer(get_pbx(request), _data_dir(request))
        state.provisioning = server
    return server


# --- what phones fetch -------------------------------------------------------------------

phones = APIRouter(tags=["provisioning"], include_in_schema=False)


@phones.get(PREFIX + "/{file:path}")
def fetch(request: Request, file: str) -> Response:
    url = request.url
    host = url.hostname or "127.0.0.1"
    default_port = 443 if url.scheme == "https" else 80
    netloc = host if url.port in (None, default_port) else f"{host}:{url.port}"
    if ":" in host and not host.startswith("["):
        netloc = f"[{host}]" + (f":{url.port}" if url.port not in (None, default_port) else "")
    asked = Asked(
        path=file,
        method=request.method,
        authorization=request.headers.get("authorization"),
        user_agent=request.headers.get("user-agent", "")[:255],
        source_ip=source_ip(request),
        host=host,
        base_url=f"{url.scheme}://{netloc}",
    )
    reply = server_of(request).fetch(asked)
    response = Response(reply.body, status_code=reply.status, media_type=reply.media_type)
    for name, value in reply.headers.items():
        response.headers[name] = value
    for value in reply.challenges:
        response.headers.append("WWW-Authenticate", value)
    response.headers["Cache-Control"] = "no-store"
    return response


def provisioning_app(main: FastAPI) -> FastAPI:
    """An app with only the phones' routes, sharing ``main``'s database and provisioning
    server: what ``klapka serve`` serves over HTTPS."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.pbx = main.state.pbx
    if getattr(main.state, "data_dir", None):
        app.state.data_dir = main.state.data_dir
    server = getattr(main.state, "provisioning", None)
    if server is None:
        server = ProvisioningServer(main.state.pbx, _app_data_dir(main))
        main.state.provisioning = server
    app.state.provisioning = server
    app.include_router(phones)
    return app


def _app_data_dir(app: FastAPI) -> FilePath:
    root = getattr(app.state, "data_dir", None)
    return FilePath(root) if root else data_dir()


# --- what an admin does (behind the admin token: api.app.PROTECTED_ROUTERS) --------------

router = APIRouter(tags=["extensions"])

Number = Annotated[str, Path(description="The extension's number.", max_length=8)]
Mac = Annotated[str, Path(description="The phone's MAC address.", max_length=17)]


class LastFetch(BaseModel):
    """When the phone last fetched its configuration file (kept across restarts)."""

    at: datetime  # UTC
    at_local: str  # the same in the PBX's time zone (system.timezone), ISO 8601
    timezone: str
    source_ip: str | None
    user_agent: str
    file: str  # the path below /provisioning/ it asked for


class PhoneCredentials(BaseModel):
    extension: str
    mac: str
    username: str
    password: str
    admin_password: str
    last_fetch: LastFetch | None = None  # None: never fetched


class Reprovisioned(BaseModel):
    extension: str
    mac: str
    sent: int


def _admin(request: Request) -> PhoneProvisioning:
    pbx: Pbx = get_pbx(request)
    return PhoneProvisioning(pbx, get_principal(request), _data_dir(request), server_of(request))


@router.get(
    "/extensions/{number}/phones/{mac}/provisioning",
    summary="How a phone signs in to the provisioning server",
    description="The phone's user name (its MAC) and password for `/provisioning/`, and the "
    "admin password klapka puts on the phone's own web UI. The extension's number and "
    "voicemail PIN work as well. `last_fetch`: when the phone last fetched its configuration "
    "file, from which address and User-Agent (null: never).",
    operation_id="get_phone_provisioning_credentials",
    responses=responses(PhoneCredentials),
)
def phone_credentials(request: Request, number: Number, mac: Mac) -> Any:
    found = _admin(request).credentials(number, mac)
    overview = PhoneOverview(get_pbx(request), get_principal(request), _data_dir(request))
    fetched = overview.last_fetches(number)
    return {**found, "last_fetch": fetched.get(found["mac"])}


@router.post(
    "/extensions/{number}/phones/{mac}/reprovision",
    summary="Re-provision a phone: it fetches its configuration file again",
    description="Sends a SIP NOTIFY `check-sync` to the extension's registered desk phones "
    "(the one whose User-Agent names the MAC, if any); `sent` says to how many.",
    operation_id="reprovision_phone",
    responses={**responses(Reprovisioned), 503: {"description": "SIP core not running"}},
)
def reprovision(request: Request, number: Number, mac: Mac) -> Any:
    try:
        return _admin(request).reprovision(number, mac)
    except SipCoreUnavailable as e:
        return JSONResponse({"error": "sip_core_unavailable", "message": str(e)}, status_code=503)
