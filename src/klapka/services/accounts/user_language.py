"""Each user's language for the web UI: chosen once, it follows them to every browser."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from klapka.domain.problems import Forbidden, InvalidInput
from klapka.services.pbx import Pbx
from klapka.services.permissions import NO_EXTENSION
from klapka.services.principal import Principal
from klapka.store import tables as t

_CODE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


def language_of(pbx: Pbx, principal: Principal) -> str | None:
    """The language the principal chose (None: none yet, or no extension of their own)."""
    number = principal.extension
    if number is None:
        return None
    with pbx.tx() as repo:
        found = repo.conn.execute(
            select(t.extensions.c.language).where(t.extensions.c.number == number)
        ).scalar()
    return str(found) if found else None


def set_language(pbx: Pbx, principal: Principal, code: str) -> None:
    """Remember ``code`` (e.g. ``cs``) as the language of the principal's own extension."""
    number = principal.extension
    if number is None:
        raise Forbidden(NO_EXTENSION)
    if not _CODE.match(code):
        raise InvalidInput.one("language", "must be a language code such as en or cs")
    with pbx.tx() as repo:
        repo.conn.execute(
            update(t.extensions).where(t.extensions.c.number == number).values(language=code)
        )
