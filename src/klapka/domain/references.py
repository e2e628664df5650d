"""Who points at whom: the references between directory objects.

One function lists every reference an object makes (forward rules, boss, caller rules,
function keys, members, failovers, routes). The document check, the stored reference index
(which makes the database refuse dangling references) and cascading deletes all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from klapka.domain.destinations import Destination, DestinationType
from klapka.domain.directory import (
    DEFAULT_PHONEBOOK,
    Contact,
    Group,
    InboundRoute,
    OutboundRoute,
    Queue,
    RingGroup,
)
from klapka.domain.extension import Extension, FunctionKeyType
from klapka.domain.permissions import ClientPermission

EVERYONE = "All"  # the reserved group of every extension (domain.document.RESERVED_GROUP)


class Kind(StrEnum):
    """Kinds of directory objects, as named in messages and the reference index."""

    EXTENSION = "extension"
    GROUP = "group"
    RING_GROUP = "ring_group"
    QUEUE = "queue"
    TRUNK = "trunk"
    INBOUND_ROUTE = "inbound_route"
    OUTBOUND_ROUTE = "outbound_route"
    CONTACT = "contact"
    PHONEBOOK = "phonebook"
    CLIENT_PERMISSION = "client_permission"


@dataclass(frozen=True)
class Ref:
    """``path`` inside the owner points at ``target_kind`` ``target``."""

    path: str
    target_kind: Kind
    target: str
    # A non-blocking reference (group membership) is dropped silently when its target goes.
    blocking: bool = True


_DEST_TARGET = {
    DestinationType.EXTENSION: Kind.EXTENSION,
    DestinationType.VOICEMAIL: Kind.EXTENSION,
    DestinationType.RING_GROUP: Kind.RING_GROUP,
    DestinationType.QUEUE: Kind.QUEUE,
}


def _dest_ref(path: str, d: Destination | None) -> list[Ref]:
    if d is None:
        return []
    kind = _DEST_TARGET.get(d.type)
    target = d.target_number()
    if kind is None or target is None:
        return []
    return [Ref(path, kind, target)]


def refs_of(obj: BaseModel) -> list[Ref]:
    """Every reference ``obj`` makes to another directory object."""
    refs: list[Ref] = []
    if isinstance(obj, Extension):
        for path, d in obj.destinations():
            # Its own mailbox named by number is not a reference to another object.
            refs += [r for r in _dest_ref(path, d) if r.target != obj.number]
        for i, key in enumerate(obj.function_keys):
            if key.type is FunctionKeyType.BLF and key.extension and key.extension != obj.number:
                refs.append(Ref(f"function_keys[{i}]", Kind.EXTENSION, key.extension))
        for trunk in obj.trunk_caller_ids:
            refs.append(Ref(f"trunk_caller_ids.{trunk}", Kind.TRUNK, trunk))
    elif isinstance(obj, Group):
        refs += [
            Ref(f"members[{i}]", Kind.EXTENSION, m, blocking=False)
            for i, m in enumerate(obj.members)
        ]
    elif isinstance(obj, RingGroup | Queue):
        refs += [Ref(f"members[{i}]", Kind.EXTENSION, m) for i, m in enumerate(obj.members)]
        refs += _dest_ref("failover", obj.failover)
    elif isinstance(obj, InboundRoute):
        refs += _dest_ref("destination", obj.destination)
        refs += _dest_ref("outside_business_hours", obj.outside_business_hours)
    elif isinstance(obj, OutboundRoute):
        refs += [Ref(f"trunks[{i}]", Kind.TRUNK, t) for i, t in enumerate(obj.trunks)]
        refs += [Ref(f"extensions[{i}]", Kind.EXTENSION, e) for i, e in enumerate(obj.extensions)]
        # "All" is the built-in group of every extension: nothing stored to point at.
        refs += [
            Ref(f"groups[{i}]", Kind.GROUP, g)
            for i, g in enumerate(obj.groups)
            if g.lower() != EVERYONE.lower()
        ]
    elif isinstance(obj, ClientPermission):
        # Naming a group or an extension in a rule never blocks deleting it: the rule then
        # simply no longer names it.
        refs += [Ref(p, Kind.GROUP, g, blocking=False) for p, g in obj.group_names()]
        refs += [Ref(p, Kind.EXTENSION, n, blocking=False) for p, n in obj.extension_numbers()]
    elif isinstance(obj, Contact) and obj.phonebook != DEFAULT_PHONEBOOK:
        # The default phonebook is built in: nothing stored to point at.
        refs.append(Ref("phonebook", Kind.PHONEBOOK, obj.phonebook))
    return refs


_TOKEN = re.compile(r"([a-z_0-9]+)|\[(\d+)\]")


def _tokens(path: str) -> list[str | int]:
    return [int(i) if i else name for name, i in _TOKEN.findall(path)]


def _default_forward(path: list[str | int]) -> Any:
    # presence_settings.<status>.<kind>.<condition>
    status, condition = path[1], path[3]
    if condition == "always" and status != "do_not_disturb":
        return False
    return {"voicemail": True}


def without_refs(kind: Kind, data: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``data`` (an object's JSON form) with the references at ``paths`` removed.

    What "removed" means is what an admin expects: a forward rule falls back to its
    default (own voicemail, or off for always), a boss loses the secretary setting, a
    caller rule, function key or member goes away, a failover or inbound destination
    becomes hang up, and an outbound route that would otherwise open to everyone (or has
    no trunk left) is disabled. A contact whose phonebook goes is in the default phonebook.
    """
    deletions: list[tuple[list[str | int], int]] = []
    for path in paths:
        t = _tokens(path)
        if kind is Kind.EXTENSION and t[0] == "presence_settings":
            data[t[0]].setdefault(t[1], {}).setdefault(t[2], {})[t[3]] = _default_forward(t)
        elif kind is Kind.EXTENSION and t[:2] == ["features", "boss"]:
            data["features"]["boss"] = None
        elif kind is Kind.EXTENSION and t[:2] == ["features", "caller_rules"]:
            deletions.append((["features", "caller_rules"], int(t[2])))
        elif kind is Kind.EXTENSION and t[0] == "function_keys":
            deletions.append((["function_keys"], int(t[1])))
        elif kind is Kind.EXTENSION and t[0] == "trunk_caller_ids":
            # A trunk name may hold capitals, spaces and dots: take it whole from the path.
            data["trunk_caller_ids"].pop(path.split(".", 1)[1], None)
        elif t[0] in ("members", "trunks", "extensions", "groups"):
            deletions.append(([t[0]], int(t[1])))
        elif t[0] in ("failover", "destination"):
            data[str(t[0])] = {"hangup": True}
        elif t[0] == "outside_business_hours":
            # Hang up, as for the open-hours destination: falling back to the open-hours
            # destination would ring people at night.
            data["outside_business_hours"] = {"hangup": True}
        elif kind is Kind.CLIENT_PERMISSION and t[0] in ("target", "extension_visibility"):
            # target.groups[0], extension_visibility.deny.extensions[2]
            deletions.append(([str(p) for p in t[:-1]], int(t[-1])))
        elif kind is Kind.CONTACT and t[0] == "phonebook":
            data.pop("phonebook", None)  # back to the default phonebook
        else:
            raise ValueError(f"cannot remove a reference at {path}")
    for container_path, index in sorted(deletions, key=lambda x: -x[1]):
        container: Any = data
        for part in container_path:
            container = container[part]
        del container[index]
    if kind is Kind.OUTBOUND_ROUTE:
        opened = any(_tokens(p)[0] in ("extensions", "groups") for p in paths) and not (
            data.get("extensions") or data.get("groups")
        )
        if opened or not data.get("trunks"):
            data["enabled"] = False
    return data
