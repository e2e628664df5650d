"""Hot-desk logins for admins: who is logged in at which hot-desk phone, and ending a
login (docs/provisioning.md, "Hot desking")."""

# No ``from __future__ import annotations``: see crud.py.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from klapka.api.crud import responses
from klapka.api.dependencies import get_pbx, get_principal
from klapka.services.telephony.hot_desk import HotDeskLogins

router = APIRouter(tags=["hot desking"])

Mac = Annotated[str, Path(description="The hot-desk phone's MAC address.", max_length=17)]


class HotDeskLogin(BaseModel):
    """A user logged in at a hot-desk phone."""

    mac: str
    guest: str | None  # the phone's guest extension (the one listing the phone)
    extension: str  # the user's extension logged in
    name: str  # the user's name
    since: datetime  # UTC
    since_local: str  # the same in the PBX's time zone (system.timezone), ISO 8601
    logout_at: datetime | None  # the automatic logout (UTC); null: none
    logout_at_local: str | None
    timezone: str


class HotDeskLogout(BaseModel):
    mac: str
    extension: str  # the user who was logged in


def _service(request: Request) -> HotDeskLogins:
    return HotDeskLogins(get_pbx(request), get_principal(request))


@router.get(
    "/hot-desk/logins",
    summary="Who is logged in at which hot-desk phone",
    description="Every hot-desk login: the phone's MAC, its guest extension, the user's "
    "extension and name, since when and the automatic logout (`system.hot_desking_logout`), "
    "in UTC and in the PBX's time zone.",
    operation_id="list_hot_desk_logins",
    responses=responses(list[HotDeskLogin]),
)
def list_logins(request: Request) -> Any:
    return _service(request).logins()


@router.delete(
    "/hot-desk/logins/{mac}",
    summary="Log a user out of a hot-desk phone",
    description="The phone goes back to its guest account and is sent a SIP NOTIFY "
    "`check-sync` to fetch its file again; audited (`hot_desk_logout`). 404: nobody is "
    "logged in at that phone.",
    operation_id="end_hot_desk_login",
    responses=responses(HotDeskLogout),
)
def end_login(request: Request, mac: Mac) -> Any:
    return _service(request).logout(mac)
