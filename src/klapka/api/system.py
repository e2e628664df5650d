"""System settings and business hours: one of each per PBX, read, replaced or merge-patched."""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from klapka.api.crud import IncludeSecrets, JsonBody, request_body, responses
from klapka.api.dependencies import get_pbx
from klapka.domain.directory import BusinessHours, System
from klapka.services.system import SystemSettings


def get_settings(request: Request) -> SystemSettings:
    return SystemSettings(get_pbx(request))


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
