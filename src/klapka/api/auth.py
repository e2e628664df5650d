"""Who may call the API: until users and roles exist, the holder of an admin API token.

``require_admin`` is attached once, to every protected router, where the app includes them
(``app.PROTECTED_ROUTERS``), so a new resource module cannot forget it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from klapka.api.dependencies import get_pbx
from klapka.services.tokens import TokenInfo, Tokens

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="An admin API token (`klapka init` prints one): "
    "send `Authorization: Bearer <token>`.",
)

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenInfo:
    if credentials is None:
        raise HTTPException(401, "send an API token: Authorization: Bearer <token>", CHALLENGE)
    info = Tokens(get_pbx(request)).verify(credentials.credentials)
    if info is None:
        raise HTTPException(401, "the API token is unknown or revoked", CHALLENGE)
    if info.role != "admin":
        raise HTTPException(403, "this API token is not an admin token")
    request.state.token = info
    return info
