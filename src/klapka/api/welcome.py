"""Welcome emails (admin: one extension, or many) and the app login that their link opens.

``POST /auth/app-login`` is public: the one-time token in the body is the credential. It
answers what an app needs to sign in and register, the SIP password included, once.
``GET /auth/app-login/{token}/linphone.xml`` answers the same once, as Linphone's remote
provisioning (its configuration as XML): the URL the app login page offers to Linphone.
"""

# No ``from __future__ import annotations``: see crud.py.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from klapka.api.contacts import Asking, PbxDep
from klapka.api.crud import JsonBody, parse_body, request_body, responses
from klapka.domain.values import Number
from klapka.http_session import source_ip
from klapka.services.welcome import LinkNotValid, Welcome, app_login, linphone_provisioning

router = APIRouter(tags=["extensions"])
public_router = APIRouter(tags=["sign-in"])


class WelcomeResult(BaseModel):
    number: str
    sent: bool
    email: str | None
    error: str | None  # why it was not sent: "no email", "disabled", "does not exist", ...
    expires_at: datetime | None  # of the app login link


class WelcomeResults(BaseModel):
    sent: int
    failed: int
    results: list[WelcomeResult]


class WelcomeRequest(BaseModel):
    """Whom to welcome: the extensions ``numbers``, or ``all`` of them."""

    numbers: Annotated[list[Number], Field(max_length=10000)] | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> "WelcomeRequest":
        if (self.numbers is None) == (not self.all):
            raise ValueError("numbers: send either numbers: [...] or all: true")
        return self


class AppLoginRequest(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=256)]


class SipAccount(BaseModel):
    username: str
    password: str
    domain: str
    server: str
    port: int
    transport: str


class AppLogin(BaseModel):
    extension: str
    display_name: str
    email: str | None
    portal_url: str
    sip: SipAccount


@router.post(
    "/extensions/welcome-email",
    summary="Send welcome emails to many extensions",
    description='`{"numbers": [...]}` or `{"all": true}`. Each extension gets its result: '
    "sent, or why not (`no email`, `disabled`, `does not exist`, the SMTP server's refusal).",
    operation_id="send_welcome_emails",
    responses={**responses(WelcomeResults), 502: {"description": "The SMTP server refused"}},
    openapi_extra=request_body(WelcomeRequest),
)
def send_welcome_emails(pbx: PbxDep, asking: Asking, body: JsonBody) -> Any:
    wanted = parse_body(WelcomeRequest, body)
    results = Welcome(pbx, asking).send_many(None if wanted.all else wanted.numbers)
    sent = sum(1 for r in results if r.sent)
    return {
        "sent": sent,
        "failed": len(results) - sent,
        "results": [r.to_dict() for r in results],
    }


@router.post(
    "/extensions/{number}/welcome-email",
    summary="Send the welcome email of an extension",
    description="The portal link and, when the extension may use the mobile or desktop app, "
    "an app login link with its QR code (attached and inline), valid once for 7 days. No "
    "password is in the email. 409 when the extension has no email or is disabled, or when "
    "email is not set up (`system.smtp`); 502 when the SMTP server refuses.",
    operation_id="send_welcome_email",
    responses={**responses(WelcomeResult), 502: {"description": "The SMTP server refused"}},
)
def send_welcome_email(number: str, pbx: PbxDep, asking: Asking) -> Any:
    return Welcome(pbx, asking).send(number).to_dict()


@public_router.post(
    "/auth/app-login",
    summary="Sign an app in with the login link of a welcome email",
    description="Exchanges the one-time token of the app login link (or QR code) for the "
    "extension's SIP account, password included. Works once, until the link expires; 401 "
    "otherwise.",
    operation_id="app_login",
    responses={**responses(AppLogin)},
    openapi_extra=request_body(AppLoginRequest),
)
def post_app_login(request: Request, response: Response, pbx: PbxDep, body: JsonBody) -> Any:
    wanted = parse_body(AppLoginRequest, body)
    login = app_login(pbx, wanted.token, source_ip(request))
    response.headers["Cache-Control"] = "no-store"  # it holds the SIP password
    return login


@public_router.get(
    "/auth/app-login/{token}/linphone.xml",
    summary="Linphone's remote provisioning for the login link of a welcome email",
    description="The app login link's one-time token in the URL, exchanged (once, like "
    "`POST /auth/app-login`) for Linphone's configuration as XML (`lpconfig.xsd`): the "
    "extension's SIP account, password included, the SIP core's address, and the port and "
    "transport of the extension (`advanced.transport`). The app login page at the link "
    "offers this URL to Linphone (`linphone-config:` link, or pasted into its *Fetch remote "
    "configuration*). 410 when the link is unknown, already used or expired; 403 when the "
    "extension is disabled or may not use the apps.",
    operation_id="app_login_linphone",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "Linphone's configuration"},
        410: {
            "content": {"application/json": {}},
            "description": "The link is unknown, already used or expired",
        },
    },
)
def get_linphone_provisioning(token: str, request: Request, pbx: PbxDep) -> Response:
    try:
        xml = linphone_provisioning(pbx, token[:256], source_ip(request))
    except LinkNotValid as e:
        return JSONResponse(
            {"error": "gone", "message": str(e)},
            status_code=410,
            headers={"Cache-Control": "no-store"},
        )
    # It holds the SIP password: never kept by a cache on the way.
    return Response(xml, media_type="application/xml", headers={"Cache-Control": "no-store"})
