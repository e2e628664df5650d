"""System settings and business hours: one of each per PBX, read, replaced or merge-patched."""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from klapka.api.crud import IncludeSecrets, JsonBody, parse_body, request_body, responses
from klapka.api.dependencies import get_pbx, get_principal
from klapka.domain.directory import BusinessHours, System
from klapka.domain.values import Email
from klapka.services.directory.system import SystemSettings


def get_settings(request: Request) -> SystemSettings:
    return SystemSettings(get_pbx(request), get_principal(request))


Settings = Annotated[SystemSettings, Depends(get_settings)]

router = APIRouter(tags=["system"])


@router.get(
    "/system",
    summary="Show the system settings",
    operation_id="get_system",
    responses=responses(System),
)
def get_system(settings: Settings, include_secrets: IncludeSecrets = False) -> Any:
    return settings.get(include_secrets)


@router.put(
    "/system",
    summary="Replace the system settings",
    operation_id="replace_system",
    responses=responses(System),
    openapi_extra=request_body(System),
)
def put_system(settings: Settings, body: JsonBody) -> Any:
    return settings.replace(body)


@router.patch(
    "/system",
    summary="Change some system settings",
    operation_id="patch_system",
    responses=responses(System),
    openapi_extra=request_body(System, patch=True),
)
def patch_system(settings: Settings, body: JsonBody) -> Any:
    return settings.patch(body)


@router.get(
    "/business-hours",
    summary="Show the business hours, breaks and holidays",
    operation_id="get_business_hours",
    responses=responses(BusinessHours),
)
def get_business_hours(settings: Settings) -> Any:
    return settings.get_business_hours()


@router.put(
    "/business-hours",
    summary="Replace the business hours, breaks and holidays",
    description="A day that is absent is closed.",
    operation_id="replace_business_hours",
    responses=responses(BusinessHours),
    openapi_extra=request_body(BusinessHours),
)
def put_business_hours(settings: Settings, body: JsonBody) -> Any:
    return settings.replace_business_hours(body)


@router.patch(
    "/business-hours",
    summary="Change some of the business hours",
    operation_id="patch_business_hours",
    responses=responses(BusinessHours),
    openapi_extra=request_body(BusinessHours, patch=True),
)
def patch_business_hours(settings: Settings, body: JsonBody) -> Any:
    return settings.patch_business_hours(body)


class SmtpTest(BaseModel):
    to: Email


class SmtpTestResult(BaseModel):
    sent: bool
    to: str


@router.post(
    "/system/smtp/test",
    summary="Send a test email with the SMTP settings",
    description="409 when email is not set up (`smtp.host`, `smtp.from_address`); 502 with "
    "the reason when the SMTP server cannot be reached or refuses.",
    operation_id="test_smtp",
    responses={**responses(SmtpTestResult), 502: {"description": "The SMTP server refused"}},
    openapi_extra=request_body(SmtpTest),
)
def test_smtp(settings: Settings, body: JsonBody) -> Any:
    wanted = parse_body(SmtpTest, body)
    settings.send_test_email(wanted.to)
    return {"sent": True, "to": wanted.to}
