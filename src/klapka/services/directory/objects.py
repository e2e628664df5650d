"""Create, read, update and delete every directory object, by kind.

One code path for every kind, so a ring group and an extension obey the same rules: the
permission check is made here, the rest of a write (validation, secrets, uniqueness,
references, rows, directory version, audit log) by ``services.directory.writer``. A
sub-resource (``presence_settings.away``, ``voicemail``) is a path into the object: it is
read, replaced or merge-patched, and the whole object is validated again.
"""

from __future__ import annotations

import builtins  # the annotations of Objects, whose method list hides the builtin
import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, and_, func, select, update

from klapka.domain.destinations import Destination, DestinationType
from klapka.domain.document import RESERVED_GROUP, stored_form
from klapka.domain.extension import DndSettings, Extension, StatusSettings
from klapka.domain.permissions import changed_paths
from klapka.domain.problems import Conflict, InvalidInput, NotFound, Place, problems_from_validation
from klapka.domain.references import Kind, without_refs
from klapka.domain.values import PresenceStatus
from klapka.services import audit, permissions
from klapka.services.directory.writer import (
    DirectoryWriter,
    Planned,
    mask_secrets,
    validate,
)
from klapka.services.pbx import Pbx
from klapka.services.permissions import Action
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t
from klapka.store.repository import SECRET_MASK, SPECS, Repository, now, search_filter

log = logging.getLogger(__name__)

# Parts of an extension that are their own small sub-resources (what a user may edit is a path).
EXTENSION_PARTS = (
    "presence_settings",
    "voicemail",
    "features",
    "advanced",
    "security",
    "clients",
    "phones",
    "function_keys",
)


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@dataclass
class Deleted:
    kind: str
    key: str
    removed_references: list[Place] = field(default_factory=list)


_DESTINATION_KEYS = {t.value for t in DestinationType}


def _is_destination(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and all(k in _DESTINATION_KEYS and v is not None for k, v in value.items())
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: mappings merge, ``null`` deletes (= back to default).

    A destination replaces a destination: ``{extension: "102"}`` patched onto
    ``{voicemail: true}`` is ``{extension: "102"}``, not a mapping with two keys.
    """
    if not isinstance(patch, dict) or (_is_destination(patch) and _is_destination(target)):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _get_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            raise NotFound("setting", path)
        data = data[part]
    return data


def _set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    parts = path.split(".")
    container = data
    for part in parts[:-1]:
        container = container.setdefault(part, {})
    container[parts[-1]] = value
    return data


def public_view(kind: Kind, obj: BaseModel, include_secrets: bool) -> dict[str, Any]:
    """The object as the API shows it: every field, secrets only when asked for."""
    return mask_secrets(kind, obj.model_dump(mode="json"), reveal=include_secrets)


def sort_fields(kind: Kind) -> set[str]:
    """What a list of ``kind`` may be sorted by (``-`` first to reverse)."""
    spec = SPECS[kind]
    allowed = {spec.key, *spec.columns, "position" if spec.ordered else spec.key}
    if kind is Kind.EXTENSION or kind is Kind.CONTACT:
        allowed.add("name")
    return allowed


class Objects:
    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal  # who the changes are made for, in the audit log

    # --- reading --------------------------------------------------------------------

    def list(
        self,
        kind: Kind,
        q: str | None = None,
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
        group: str | None = None,
        presence: str | None = None,
    ) -> Page:
        """A page of ``kind``; ``group`` keeps the extensions in that extension group,
        ``presence`` those with that manual status."""
        where = search_filter(kind, q) if q else None
        if presence is not None and kind is Kind.EXTENSION:
            if presence not in {s.value for s in PresenceStatus}:
                statuses = ", ".join(s.value for s in PresenceStatus)
                raise InvalidInput.one("presence", f"must be one of {statuses}")
            wanted = SPECS[kind].table.c.presence == presence
            where = wanted if where is None else and_(where, wanted)
        order = self._order(kind, sort)
        with self.pbx.tx() as repo:
            if group is not None and kind is Kind.EXTENSION and group != RESERVED_GROUP:
                permissions.check(repo.conn, self.principal, Action.ADMINISTER)  # membership
                members = self._load(repo, Kind.GROUP, group)[0].members  # type: ignore[attr-defined]
                in_group = SPECS[kind].table.c.number.in_(list(members))
                where = in_group if where is None else and_(where, in_group)
            where = self._readable(repo, kind, where)
            total = repo.count(kind, where)
            rows = repo.rows(kind, where, order, limit, offset)
            items = [self._list_item(kind, r) for r in rows]
        return Page(items, total, limit, offset)

    def _order(self, kind: Kind, sort: str | None) -> builtins.list[ColumnElement[Any]]:
        spec = SPECS[kind]
        c = spec.table.c
        if not sort:
            sort = "position" if spec.ordered else spec.key
        desc = sort.startswith("-")
        name = sort.lstrip("-")
        allowed = sort_fields(kind)
        if name not in allowed:
            raise InvalidInput.one(
                "sort", f"must be one of {', '.join(sorted(allowed))} (prefix - to reverse)"
            )
        if name == "name" and kind is Kind.EXTENSION:
            cols: list[ColumnElement[Any]] = [c.sort_name]  # lower(last first), indexed
        elif name == "name" and kind is Kind.CONTACT:
            cols = [func.lower(c.last_name), func.lower(c.first_name)]
        elif name == "number" and kind is Kind.EXTENSION:
            cols = [c.number_key]  # zero-padded: 99 before 100, indexed
        elif name in ("number",):
            cols = [func.length(c.number), c.number]  # 99 before 100
        elif name in ("first_name", "last_name", "email", "company"):
            cols = [func.lower(func.coalesce(c[name], ""))]
        else:
            cols = [c[name]]
        tie = c.id
        return [x.desc() for x in cols] + [tie] if desc else [*cols, tie]

    def _list_item(self, kind: Kind, row: Any) -> dict[str, Any]:
        data = dict(row.data)
        if kind is Kind.EXTENSION:
            return {
                "number": data["number"],
                "first_name": data.get("first_name", ""),
                "last_name": data.get("last_name", ""),
                "email": data.get("email"),
                "mobile": data.get("mobile", ""),
                "enabled": data.get("enabled", True),
                "role": data.get("role", "user"),
                "presence": data.get("presence", "available"),
                "presence_note": data.get("presence_note", ""),
            }
        if kind is Kind.CONTACT:
            data["id"] = row.id
        data.pop("password", None)
        return data

    def get(self, kind: Kind, key: str, include_secrets: bool = False) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            full = self._may_read(repo, kind, key, include_secrets)
            obj, row = self._load(repo, kind, key)
        if not full:
            return self._list_item(kind, row)
        view = public_view(kind, obj, include_secrets)
        if kind is Kind.CONTACT:
            view["id"] = int(key)
        return view

    def get_model(self, kind: Kind, key: str) -> BaseModel:
        with self.pbx.tx() as repo:
            return self._load(repo, kind, key)[0]

    # --- permissions (klapka.services.permissions) ----------------------------------

    @staticmethod
    def _read_action(kind: Kind) -> Action:
        if kind is Kind.EXTENSION:
            return Action.READ_EXTENSION
        if kind in (Kind.CONTACT, Kind.PHONEBOOK):
            return Action.VIEW_CONTACTS
        return Action.ADMINISTER

    @staticmethod
    def _write_action(kind: Kind) -> Action:
        return Action.MANAGE_CONTACTS if kind is Kind.CONTACT else Action.ADMINISTER

    def _readable(self, repo: Repository, kind: Kind, where: Any) -> Any:
        """``where`` narrowed to what the principal may list (a user: visible extensions)."""
        if self.principal.is_admin:
            return where
        checker = permissions.Checker(repo.conn, self.principal)
        if kind is not Kind.EXTENSION:
            checker.check(self._read_action(kind))
            return where
        checker.check(Action.SEE_EXTENSION)
        visible = checker.visible_clause(SPECS[kind].table.c.number)
        if visible is None:
            return where
        return visible if where is None else and_(where, visible)

    def _may_read(self, repo: Repository, kind: Kind, key: str, include_secrets: bool) -> bool:
        """May the principal read the object? True: all of it; False: the list summary.

        A user sees their own extension whole, other extensions they can see as the list
        shows them, and no extension they cannot see (NotFound, as if it did not exist).
        """
        if self.principal.is_admin:
            return True
        checker = permissions.Checker(repo.conn, self.principal)
        if include_secrets:
            checker.check(Action.ADMINISTER)
        if kind is not Kind.EXTENSION:
            checker.check(self._read_action(kind))
            return True
        checker.check(Action.SEE_EXTENSION, key)
        return key == self.principal.extension

    def _may_write(self, repo: Repository, kind: Kind, old: BaseModel, new: BaseModel) -> None:
        """A user changes only their own extension, and only what their preferences allow."""
        if self.principal.is_admin:
            return
        if kind is Kind.EXTENSION:
            assert isinstance(old, Extension)
            paths = changed_paths(old.model_dump(mode="json"), new.model_dump(mode="json"))
            permissions.check(repo.conn, self.principal, Action.EDIT_SETTING, old.number, *paths)
        else:
            permissions.check(repo.conn, self.principal, self._write_action(kind))

    def _load(self, repo: Repository, kind: Kind, key: str) -> tuple[BaseModel, Any]:
        row = repo.row(kind, key)
        if row is None:
            raise NotFound(kind.value.replace("_", " "), key)
        data = repo.data_of(row, with_secrets=True)
        model = SPECS[kind].model
        try:
            return model.model_validate(data), row
        except ValidationError as e:
            # Stored by hand or under older, looser rules: readable as it is, so that it can
            # be fixed (PUT, PATCH: the new state is validated) or deleted.
            wrong = "; ".join(str(p) for p in problems_from_validation(e))  # no values
            log.warning("%s %s as stored breaks today's rules: %s", kind.value, key, wrong)
            return model.model_construct(**data), row

    # --- writing --------------------------------------------------------------------

    def create(self, kind: Kind, data: Any) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            permissions.check(repo.conn, self.principal, self._write_action(kind))
            writer = DirectoryWriter(repo, self.principal)
            obj, secrets = writer.prepare(kind, data)
            extra = {"presence_changed_at": now()} if kind is Kind.EXTENSION else {}
            change = Planned("create", kind, obj, secrets=secrets, extra=extra)
            writer.write([change])
            key = change.key_of()
        return self.get(kind, key)

    def replace(self, kind: Kind, key: str, data: Any) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            old, row = self._load(repo, kind, key)
            if isinstance(data, dict) and SPECS[kind].key == "id":
                data = {k: v for k, v in data.items() if k != "id"}
            obj = self._save(repo, kind, old, row, data)
        return self._written(kind, key, obj)

    def patch(self, kind: Kind, key: str, patch: Any) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("", "a merge patch must be a JSON object")
        with self.pbx.tx() as repo:
            old, row = self._load(repo, kind, key)
            current = old.model_dump(mode="json")
            patch = {k: v for k, v in patch.items() if not (SPECS[kind].key == "id" and k == "id")}
            obj = self._save(repo, kind, old, row, merge_patch(current, patch))
        return self._written(kind, key, obj)

    def _written(self, kind: Kind, key: str, obj: BaseModel) -> dict[str, Any]:
        """The object as ``get`` shows it, after a write: for an admin, made from what was
        written (no reading it back); for anyone else by ``get`` (what they may see)."""
        if self.principal.is_admin and kind is not Kind.CONTACT:
            return public_view(kind, obj, include_secrets=False)
        return self.get(kind, key)

    def get_part(self, kind: Kind, key: str, path: str, include_secrets: bool = False) -> Any:
        if not self.principal.is_admin:
            with self.pbx.tx() as repo:
                permissions.check(repo.conn, self.principal, self._read_action(kind), key)
        return _get_path(self.get(kind, key, include_secrets), path)

    def put_part(self, kind: Kind, key: str, path: str, value: Any) -> Any:
        with self.pbx.tx() as repo:
            old, row = self._load(repo, kind, key)
            current = old.model_dump(mode="json")
            _get_path(current, path)
            obj = self._save(repo, kind, old, row, _set_path(current, path, value))
        if self.principal.is_admin:
            return _get_path(self._written(kind, key, obj), path)
        return self.get_part(kind, key, path)

    def patch_part(self, kind: Kind, key: str, path: str, patch: Any) -> Any:
        with self.pbx.tx() as repo:
            old, row = self._load(repo, kind, key)
            current = old.model_dump(mode="json")
            part = _get_path(current, path)
            if isinstance(part, dict) and not isinstance(patch, dict):
                raise InvalidInput.one(path, "a merge patch must be a JSON object")
            obj = self._save(
                repo, kind, old, row, _set_path(current, path, merge_patch(part, patch))
            )
        if self.principal.is_admin:
            return _get_path(self._written(kind, key, obj), path)
        return self.get_part(kind, key, path)

    def _save(
        self,
        repo: Repository,
        kind: Kind,
        old: BaseModel,
        row: Any,
        data: Any,
    ) -> BaseModel:
        """Validate ``data`` as the new state of ``old`` (stored in ``row``), store it and
        log it; returns the new state."""
        spec = SPECS[kind]
        if isinstance(data, dict) and spec.key != "id":
            old_key = getattr(old, spec.key)
            if str(data.get(spec.key, old_key)) != old_key:
                raise InvalidInput.one(
                    spec.key,
                    f"cannot be changed (create a new {kind.value.replace('_', ' ')} instead)",
                )
            data = {spec.key: old_key, **data}
        writer = DirectoryWriter(repo, self.principal)
        obj, secrets = writer.prepare(kind, data, row, old)
        self._may_write(repo, kind, old, obj)
        extra: dict[str, Any] = {}
        if (
            isinstance(obj, Extension)
            and isinstance(old, Extension)
            and obj.presence != old.presence
        ):
            extra["presence_changed_at"] = now()
            self._agent_auto_switch(repo, row.id, obj)
        writer.write(
            [
                Planned(
                    "update",
                    kind,
                    obj,
                    row=row,
                    secrets=secrets,
                    old=old,
                    extra=extra,
                    before=stored_form(old),
                )
            ]
        )
        return obj

    def _agent_auto_switch(self, repo: Repository, extension_id: int, ext: Extension) -> None:
        """A presence change applies the new status's agent auto switch to every queue."""
        switch = ext.presence_settings.of(ext.presence).agent_auto_switch.value
        values = {
            "login": {"logged_in": True, "paused": False},
            "logout": {"logged_in": False},
            "pause": {"paused": True},
        }
        if switch in values:
            repo.conn.execute(
                update(t.queue_agents)
                .where(t.queue_agents.c.extension_id == extension_id)
                .values(**values[switch])
            )

    # --- deleting -------------------------------------------------------------------

    def delete(self, kind: Kind, key: str, cascade: bool = False) -> Deleted:
        what = kind.value.replace("_", " ")
        with self.pbx.tx() as repo:
            permissions.check(repo.conn, self.principal, self._write_action(kind))
            obj, row = self._load(repo, kind, key)
            referrers = repo.referrers(kind, row.id)
            blocking = [place for place, _, _, b in referrers if b]
            if blocking and not cascade:
                raise Conflict(
                    f"{what} {key} is still used in {len(blocking)} place(s); change those first "
                    "or delete with cascade=true, which removes the references",
                    blocking,
                )
            by_owner: dict[tuple[Kind, int], list[str]] = {}
            for place, owner_id, owner_kind, _b in referrers:
                by_owner.setdefault((owner_kind, owner_id), []).append(place.path)
            changes: list[Planned] = []
            for (owner_kind, owner_id), paths in by_owner.items():
                owner_row = repo.conn.execute(
                    select(SPECS[owner_kind].table).where(SPECS[owner_kind].table.c.id == owner_id)
                ).one()
                before = repo.data_of(owner_row, with_secrets=True)
                data = without_refs(owner_kind, copy.deepcopy(before), paths)
                owner = validate(owner_kind, data)
                changes.append(
                    Planned(
                        "update",
                        owner_kind,
                        owner,
                        row=owner_row,
                        secrets=dict(owner_row.secrets),
                        before=before,
                    )
                )
            changes.append(Planned("delete", kind, row=row, before=stored_form(obj), key=key))
            DirectoryWriter(repo, self.principal).write(changes)
        return Deleted(kind.value, key, [p for p, _, _, _ in referrers])

    # --- presence -------------------------------------------------------------------

    def set_presence(
        self, number: str, status: PresenceStatus, note: str | None = None
    ) -> dict[str, Any]:
        patch: dict[str, Any] = {"presence": status.value}
        if note is not None:
            patch["presence_note"] = note
        ext = self.patch(Kind.EXTENSION, number, patch)
        return {"presence": ext["presence"], "presence_note": ext["presence_note"]}

    def queue_agents(self, queue: str) -> builtins.list[dict[str, Any]]:
        with self.pbx.tx() as repo:
            permissions.check(repo.conn, self.principal, Action.ADMINISTER)
            _obj, row = self._load(repo, Kind.QUEUE, queue)
            rows = repo.conn.execute(
                select(t.extensions.c.number, t.queue_agents.c.logged_in, t.queue_agents.c.paused)
                .join(t.extensions, t.extensions.c.id == t.queue_agents.c.extension_id)
                .where(t.queue_agents.c.queue_id == row.id)
            ).all()
        return [{"extension": n, "logged_in": li, "paused": p} for n, li, p in rows]

    def set_queue_agent(
        self, queue: str, extension: str, logged_in: bool | None, paused: bool | None
    ) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            permissions.check(repo.conn, self.principal, Action.ADMINISTER)
            _obj, row = self._load(repo, Kind.QUEUE, queue)
            ext_id = repo.id_of(Kind.EXTENSION, extension)
            values: dict[str, Any] = {}
            if logged_in is not None:
                values["logged_in"] = logged_in
            if paused is not None:
                values["paused"] = paused
            where = and_(
                t.queue_agents.c.queue_id == row.id, t.queue_agents.c.extension_id == ext_id
            )
            if (
                ext_id is None
                or repo.conn.execute(select(t.queue_agents).where(where)).first() is None
            ):
                raise NotFound("queue member", f"{queue}/{extension}")
            if values:
                before = repo.conn.execute(
                    select(t.queue_agents.c.logged_in, t.queue_agents.c.paused).where(where)
                ).one()
                repo.conn.execute(update(t.queue_agents).where(where).values(**values))
                audit.record(
                    repo.conn,
                    self.principal,
                    "update",
                    "queue_agent",
                    f"{queue}/{extension}",
                    dict(before._mapping),
                    {**before._mapping, **values},
                )
        return next(a for a in self.queue_agents(queue) if a["extension"] == extension)


def status_settings_model(status: PresenceStatus) -> type[BaseModel]:
    return DndSettings if status is PresenceStatus.DO_NOT_DISTURB else StatusSettings


__all__ = [
    "EXTENSION_PARTS",
    "SECRET_MASK",
    "Deleted",
    "Destination",
    "Objects",
    "Page",
    "merge_patch",
    "validate",
]
