"""Who may see and do what: the one permission check every service calls.

``check(conn, principal, action, *keys)`` raises ``Forbidden`` (or ``NotFound`` for an
extension the user may not see: a hidden extension does not exist for them) unless the
principal may. Admins (and the system: the CLI, internal jobs) may do everything. An
extension's user is bound by the client permission rules (``klapka.domain.permissions``):
menus, extension visibility, company contacts, and the preferences that say which of their
own settings they may change. Lists of extensions are filtered with ``visible_clause``.

The rules themselves are directory objects (``Kind.CLIENT_PERMISSION``): created, changed and
deleted through ``Objects`` like every other kind, in the configuration document as
``client_permissions``. ``ClientPermissions`` adds what is special about them: their order,
and the preview "what does user X see".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Column, Connection, select, update

from klapka.domain.permissions import (
    ClientPermission,
    ContactAccess,
    Effective,
    Menu,
    Preference,
    Viewer,
    effective,
    preference_for,
    unrestricted,
)
from klapka.domain.problems import Forbidden, InvalidInput, NotFound
from klapka.domain.references import Kind
from klapka.services import audit
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.repository import now

PREFERENCE_NAMES = {
    Preference.PRESENCE_FORWARDING: "presence and forwarding",
    Preference.RING_STRATEGY: "the ring strategy",
    Preference.VOICEMAIL: "voicemail settings",
    Preference.NOTIFICATIONS: "email notifications",
    Preference.INTEGRATIONS: "integrations (URL popup)",
}

NO_EXTENSION = (
    "this credential belongs to no extension: sign in as the extension's user "
    "(an admin API token acts only as an admin)"
)


class Action(StrEnum):
    ADMINISTER = "administer"  # change the directory; see every setting of everyone
    SEE_EXTENSION = "see_extension"  # key: the number; hidden -> NotFound
    READ_EXTENSION = "read_extension"  # key: the number; every setting (own only)
    EDIT_SETTING = "edit_setting"  # keys: the number, then setting paths of it
    EDIT_PREFERENCE = "edit_preference"  # key: a Preference
    SEE_MENU = "see_menu"  # key: a Menu
    VIEW_CONTACTS = "view_contacts"
    MANAGE_CONTACTS = "manage_contacts"


def load_rules(conn: Connection) -> list[ClientPermission]:
    rows = conn.execute(
        select(t.client_permissions.c.data).order_by(
            t.client_permissions.c.position, t.client_permissions.c.id
        )
    ).scalars()
    return [ClientPermission.model_validate(data) for data in rows]


def group_members(conn: Connection) -> dict[str, list[str]]:
    return {
        name: list(data.get("members", []))
        for name, data in conn.execute(select(t.ext_groups.c.name, t.ext_groups.c.data))
    }


def viewer_of(number: str, members: dict[str, list[str]]) -> Viewer:
    return Viewer(number, frozenset(g for g, m in members.items() if number in m))


def effective_for(conn: Connection, principal: Principal) -> Effective:
    """What the rules say about the principal (everything, for an admin)."""
    if principal.is_admin:
        return unrestricted(principal.extension or "")
    if principal.extension is None:
        raise Forbidden(NO_EXTENSION)
    members = group_members(conn)
    return effective(load_rules(conn), viewer_of(principal.extension, members), members)


class Checker:
    """Answers permission questions for one principal within one transaction."""

    def __init__(self, conn: Connection, principal: Principal) -> None:
        self.conn = conn
        self.principal = principal
        self._effective: Effective | None = None

    @property
    def rules(self) -> Effective:
        if self._effective is None:
            self._effective = effective_for(self.conn, self.principal)
        return self._effective

    def check(self, action: Action, *keys: str) -> None:
        p = self.principal
        if p.is_admin:
            return
        if p.extension is None:
            raise Forbidden(NO_EXTENSION)
        if action is Action.ADMINISTER:
            raise Forbidden("only an admin may do this")
        if action is Action.SEE_EXTENSION:
            for number in keys:
                if not self.rules.visibility.sees(number):
                    raise NotFound("extension", number)
        elif action is Action.READ_EXTENSION:
            self.check(Action.SEE_EXTENSION, *keys)
            if any(number != p.extension for number in keys):
                raise Forbidden("only an admin may see every setting of another extension")
        elif action is Action.EDIT_SETTING:
            number, *paths = keys
            self.check(Action.SEE_EXTENSION, number)
            if number != p.extension:
                raise Forbidden("only an admin may change another extension")
            for path in paths:
                preference = preference_for(path)
                if preference is None:
                    raise Forbidden(f"{path}: only an admin may change this setting")
                self._preference(preference, path)
        elif action is Action.EDIT_PREFERENCE:
            for key in keys:
                self._preference(Preference(key), None)
        elif action is Action.SEE_MENU:
            for key in keys:
                if not self.rules.menus[Menu(key)].allowed:
                    raise Forbidden(f"the {key} menu is not available to you")
        elif action is Action.VIEW_CONTACTS and self.rules.contacts is ContactAccess.NONE:
            raise Forbidden("you may not see the company contacts")
        elif action is Action.MANAGE_CONTACTS and self.rules.contacts is not ContactAccess.MANAGE:
            raise Forbidden("you may not change the company contacts")

    def _preference(self, preference: Preference, path: str | None) -> None:
        if not self.rules.preferences[preference].allowed:
            what = PREFERENCE_NAMES[preference]
            where = f"{path}: " if path else ""
            raise Forbidden(f"{where}your administrator does not let you change {what}")

    def allowed(self, action: Action, *keys: str) -> bool:
        try:
            self.check(action, *keys)
        except (Forbidden, NotFound):
            return False
        return True

    def visible_clause(self, number_column: Column[str] | Any) -> Any:
        """A WHERE clause keeping the extensions the principal sees (None: all of them)."""
        if self.principal.is_admin:
            return None
        vis = self.rules.visibility
        numbers = set(vis.numbers)
        if vis.everything:
            numbers.discard(vis.own)
            return number_column.not_in(numbers) if numbers else None
        return number_column.in_(numbers | {vis.own})


def check(conn: Connection, principal: Principal, action: Action, *keys: str) -> None:
    """Raise Forbidden (or NotFound for a hidden extension) unless ``principal`` may."""
    Checker(conn, principal).check(action, *keys)


def allowed(conn: Connection, principal: Principal, action: Action, *keys: str) -> bool:
    return Checker(conn, principal).allowed(action, *keys)


def require_admin(principal: Principal) -> None:
    """``check(..., Action.ADMINISTER)`` without a transaction: the rules have no say in it."""
    if principal.is_admin:
        return
    if principal.extension is None:
        raise Forbidden(NO_EXTENSION)
    raise Forbidden("only an admin may do this")


def may_administer(principal: Principal) -> bool:
    """Whether ``principal`` may administer: the web UI's admin console, its start page."""
    return principal.is_admin


class HasPrincipal(Protocol):
    principal: Principal


S = TypeVar("S", bound=HasPrincipal)
P = ParamSpec("P")
R = TypeVar("R")


def admin_only(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A service method for admins (and the system) only: ``self.principal`` is checked
    before anything is read or changed."""

    @functools.wraps(method)
    def checked(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        require_admin(self.principal)
        return method(self, *args, **kwargs)

    return checked


def permissions_view(rules: Effective) -> dict[str, Any]:
    """What the portal needs to know: the menus to show, the settings the user may edit."""
    return {
        "menus": {m.value: d.allowed for m, d in rules.menus.items()},
        "preferences": {p.value: d.allowed for p, d in rules.preferences.items()},
        "contacts": rules.contacts.value,
    }


def menu_for(pbx: Pbx, principal: Principal) -> dict[str, Any]:
    """What the web frame shows ``principal``: the admin console or not, the portal menus,
    the preferences they may edit and their access to the company contacts."""
    if principal.extension is None:
        view: dict[str, Any] = {"menus": {}, "preferences": {}, "contacts": "none"}
        if principal.is_admin:
            view = permissions_view(unrestricted(""))
    else:
        with pbx.tx() as repo:
            view = permissions_view(effective_for(repo.conn, principal))
    return {"admin": may_administer(principal), **view}


def opens_editor(pbx: Pbx, principal: Principal, number: str) -> bool:
    """Which page extension ``number`` opens in for ``principal``: True, the admin's
    editor; False, the user's own portal (their own extension). Raises Forbidden (another
    user's extension) or NotFound (one hidden from them)."""
    with pbx.tx() as repo:
        check(repo.conn, principal, Action.READ_EXTENSION, number)
    return principal.is_admin


class ClientPermissions:
    """The order of the rules, and what they mean for one user."""

    def __init__(self, pbx: Pbx, principal: Principal) -> None:
        self.pbx = pbx
        self.principal = principal

    def mine(self) -> dict[str, Any]:
        """The principal's own effective menus, preferences and contact access."""
        with self.pbx.tx() as repo:
            return permissions_view(effective_for(repo.conn, self.principal))

    def preview(self, number: str) -> dict[str, Any]:
        """What the user of extension ``number`` sees and may change (admins only)."""
        with self.pbx.tx() as repo:
            conn = repo.conn
            check(conn, self.principal, Action.ADMINISTER)
            row = conn.execute(
                select(t.extensions.c.number, t.extensions.c.role).where(
                    t.extensions.c.number == number
                )
            ).first()
            if row is None:
                raise NotFound("extension", number)
            members = group_members(conn)
            viewer = viewer_of(number, members)
            is_admin = row.role == "admin"
            rules = (
                unrestricted(number) if is_admin else effective(load_rules(conn), viewer, members)
            )
            every = [n for (n,) in conn.execute(select(t.extensions.c.number))]
        hidden = sorted(
            (n for n in every if not rules.visibility.sees(n)), key=lambda n: (len(n), n)
        )
        view = permissions_view(rules)
        return {
            "extension": number,
            "role": row.role,
            "groups": sorted(viewer.groups),
            "matching_rules": rules.matching_rules,
            **view,
            "decided_by": {
                "menus": {m.value: d.rule for m, d in rules.menus.items()},
                "preferences": {p.value: d.rule for p, d in rules.preferences.items()},
                "contacts": rules.contacts_rule,
            },
            "extensions": {"visible": len(every) - len(hidden), "hidden": hidden},
        }

    def move(self, name: str, position: int) -> dict[str, Any]:
        """Put rule ``name`` at ``position`` (1 = evaluated first); the others keep order."""
        table = t.client_permissions
        with self.pbx.tx() as repo:
            check(repo.conn, self.principal, Action.ADMINISTER)
            names = [
                n
                for (n,) in repo.conn.execute(
                    select(table.c.name).order_by(table.c.position, table.c.id)
                )
            ]
            if name not in names:
                raise NotFound("client permission", name)
            if not 1 <= position <= len(names):
                raise InvalidInput.one("position", f"must be 1..{len(names)}")
            names.remove(name)
            names.insert(position - 1, name)
            stamp = now()
            for i, n in enumerate(names, start=1):
                repo.conn.execute(
                    update(table).where(table.c.name == n).values(position=i, updated_at=stamp)
                )
            repo.bump_version()
            audit.record(
                repo.conn,
                self.principal,
                "move",
                Kind.CLIENT_PERMISSION.value,
                name,
                None,
                {"position": position},
            )
        return {"name": name, "position": position}

    def position(self, name: str) -> dict[str, Any]:
        table = t.client_permissions
        with self.pbx.tx() as repo:
            check(repo.conn, self.principal, Action.ADMINISTER)
            names = [
                n
                for (n,) in repo.conn.execute(
                    select(table.c.name).order_by(table.c.position, table.c.id)
                )
            ]
        if name not in names:
            raise NotFound("client permission", name)
        return {"name": name, "position": names.index(name) + 1}
