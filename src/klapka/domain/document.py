"""The configuration document (docs/configuration.md): the whole PBX as data.

``parse_document`` validates everything at once and reports every problem by its path;
``DirectoryIndex`` answers "does this target exist" both for a document and for the
database, so a single API change and a whole document obey the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError, field_validator

from klapka.domain.directory import (
    DEFAULT_PHONEBOOK,
    BusinessHours,
    Contact,
    ContactCard,
    Group,
    InboundRoute,
    OutboundRoute,
    PersonalContact,
    Phonebook,
    Queue,
    RingGroup,
    System,
    Trunk,
)
from klapka.domain.extension import Extension, Model
from klapka.domain.permissions import ClientPermission
from klapka.domain.problems import InvalidInput, Problem, problems_from_validation
from klapka.domain.references import EVERYONE, Kind, refs_of

RESERVED_GROUP = EVERYONE


class ConfigDocument(Model):
    version: int = 1
    system: System = Field(default_factory=System)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    extensions: list[Extension] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    ring_groups: list[RingGroup] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)
    trunks: list[Trunk] = Field(default_factory=list)
    inbound_routes: list[InboundRoute] = Field(default_factory=list)
    outbound_routes: list[OutboundRoute] = Field(default_factory=list)
    phonebooks: list[Phonebook] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    client_permissions: list[ClientPermission] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != 1:
            raise ValueError("must be 1 (the only format version this klapka knows)")
        return v


# Sections of the document holding keyed objects: (section, kind, key field).
SECTIONS: tuple[tuple[str, Kind, str], ...] = (
    ("extensions", Kind.EXTENSION, "number"),
    ("groups", Kind.GROUP, "name"),
    ("ring_groups", Kind.RING_GROUP, "number"),
    ("queues", Kind.QUEUE, "number"),
    ("trunks", Kind.TRUNK, "name"),
    ("inbound_routes", Kind.INBOUND_ROUTE, "name"),
    ("outbound_routes", Kind.OUTBOUND_ROUTE, "name"),
    ("phonebooks", Kind.PHONEBOOK, "name"),
    ("client_permissions", Kind.CLIENT_PERMISSION, "name"),
)


@dataclass
class DirectoryIndex:
    """The keys of every object that exists, by kind, plus what must stay unique."""

    keys: dict[Kind, set[str]] = field(default_factory=lambda: {k: set() for k in Kind})
    emergency_numbers: set[str] = field(default_factory=set)

    def exists(self, kind: Kind, key: str) -> bool:
        return key in self.keys[kind]

    def number_owner(self, number: str) -> str | None:
        """Which kind of object already uses a dialable number, if any."""
        for kind in (Kind.EXTENSION, Kind.RING_GROUP, Kind.QUEUE):
            if number in self.keys[kind]:
                return kind.value.replace("_", " ")
        if number in self.emergency_numbers:
            return "emergency number"
        return None


class KeyIndex(Protocol):
    def exists(self, kind: Kind, key: str) -> bool: ...


def check_refs(owner: BaseModel, prefix: str, index: KeyIndex) -> list[Problem]:
    """Problems for references of ``owner`` whose target does not exist."""
    problems = []
    for ref in refs_of(owner):
        if not index.exists(ref.target_kind, ref.target):
            what = ref.target_kind.value.replace("_", " ")
            problems.append(
                Problem(
                    f"{prefix}.{ref.path}" if prefix else ref.path,
                    f"{what} {ref.target} does not exist",
                )
            )
    return problems


def index_of(doc: ConfigDocument) -> DirectoryIndex:
    index = DirectoryIndex(emergency_numbers=set(doc.system.emergency_numbers))
    for section, kind, key in SECTIONS:
        index.keys[kind] = {getattr(o, key) for o in getattr(doc, section)}
    return index


def _duplicates(
    items: Iterable[tuple[int, str | None]], section: str, field_name: str, rule: str
) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for i, value in items:
        if value is None:
            continue
        key = value.lower() if field_name == "email" else value
        if key in seen:
            problems.append(
                Problem(f"{section}[{i}].{field_name}", rule.format(value=value, first=seen[key]))
            )
        else:
            seen[key] = i
    return problems


def cross_check(doc: ConfigDocument) -> list[Problem]:
    """Rules that span objects: uniqueness and references."""
    problems: list[Problem] = []
    for section, _kind, key in SECTIONS:
        problems += _duplicates(
            ((i, getattr(o, key)) for i, o in enumerate(getattr(doc, section))),
            section,
            key,
            "{value} is listed twice (first at index {first})",
        )
    # One dialable number space: extensions, ring groups, queues, emergency numbers.
    owners: dict[str, str] = {n: "emergency number" for n in doc.system.emergency_numbers}
    for section, what in (
        ("extensions", "extension"),
        ("ring_groups", "ring group"),
        ("queues", "queue"),
    ):
        for i, o in enumerate(getattr(doc, section)):
            other = owners.get(o.number)
            if other is not None and other != what:
                article = "an" if other[0] in "aeiou" else "a"
                problems.append(
                    Problem(
                        f"{section}[{i}].number", f"{o.number} is already used by {article} {other}"
                    )
                )
            owners.setdefault(o.number, what)
    ext = doc.extensions
    problems += _duplicates(
        ((i, e.email) for i, e in enumerate(ext)),
        "extensions",
        "email",
        "{value} is already used by extensions[{first}]",
    )
    problems += _duplicates(
        ((i, e.effective_sip_username) for i, e in enumerate(ext)),
        "extensions",
        "sip_username",
        "{value} is already used by extensions[{first}]",
    )
    macs: dict[str, str] = {}
    for i, e in enumerate(ext):
        for j, p in enumerate(e.phones):
            if p.mac in macs and macs[p.mac] != e.number:
                problems.append(
                    Problem(
                        f"extensions[{i}].phones[{j}].mac",
                        f"already assigned to extension {macs[p.mac]}",
                    )
                )
            macs.setdefault(p.mac, e.number)
    for i, g in enumerate(doc.groups):
        if g.name.lower() == RESERVED_GROUP.lower():
            problems.append(
                Problem(
                    f"groups[{i}].name",
                    f"'{RESERVED_GROUP}' is reserved for the group of every extension",
                )
            )
    dids: dict[str, str] = {}
    for i, r in enumerate(doc.inbound_routes):
        if r.did in dids:
            problems.append(
                Problem(
                    f"inbound_routes[{i}].did", f"already routed by inbound route {dids[r.did]}"
                )
            )
        dids.setdefault(r.did, r.name)
    index = index_of(doc)
    index.keys[Kind.GROUP].add(RESERVED_GROUP)
    index.keys[Kind.PHONEBOOK].add(DEFAULT_PHONEBOOK)
    for section, _kind, _key in SECTIONS:
        for i, o in enumerate(getattr(doc, section)):
            problems += check_refs(o, f"{section}[{i}]", index)
    for i, c in enumerate(doc.contacts):
        problems += check_refs(c, f"contacts[{i}]", index)
    return problems


VERSION_REQUIRED = "required: a configuration document starts with version: 1"


def parse_document(data: Any, require_version: bool = False) -> ConfigDocument:
    """Validate a whole document; raises InvalidInput listing every problem by path.

    ``require_version``: a document to apply must say ``version`` (an empty file, ``{}`` or
    ``null`` is refused, not read as "the default configuration": that would delete
    everything)."""
    if require_version and (data is None or data == "" or data == {}):
        raise InvalidInput.one("version", VERSION_REQUIRED)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput.one("", "the document must be a mapping with version: 1 at the top")
    missing = (
        [Problem("version", VERSION_REQUIRED)] if require_version and "version" not in data else []
    )
    try:
        doc = ConfigDocument.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(missing + problems_from_validation(e)) from None
    problems = missing + cross_check(doc)
    if problems:
        raise InvalidInput(problems)
    return doc


# --- Minimal form: only what differs from the defaults ---------------------------------


@cache
def _defaults(cls: type[BaseModel]) -> dict[str, Any]:
    samples: dict[type[BaseModel], dict[str, Any]] = {
        Extension: {"number": "00"},
        Trunk: {"name": "x", "type": "peer", "host": "x"},
        InboundRoute: {"name": "x", "did": "1", "destination": {"hangup": True}},
        OutboundRoute: {"name": "x", "patterns": ["1"], "trunks": ["x"]},
        RingGroup: {"number": "00"},
        Queue: {"number": "00"},
        Group: {"name": "x"},
        Phonebook: {"name": "x"},
        ClientPermission: {"name": "x", "target": {"all": True}},
    }
    if issubclass(cls, ContactCard):
        # Every field has a default; only the rule "some name" fails on none, and a sample
        # name would make it look like a default.
        return cls.model_construct().model_dump(mode="json")
    return cls.model_validate(samples.get(cls, {})).model_dump(mode="json")


def prune(
    value: dict[str, Any], default: dict[str, Any], keep: Iterable[str] = ()
) -> dict[str, Any]:
    """``value`` without the entries equal to ``default`` (recursively), keeping ``keep``."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        d = default.get(k, _MISSING)
        if k in keep:
            out[k] = v
        elif isinstance(v, dict) and isinstance(d, dict) and v and d:
            sub = prune(v, d)
            if sub:
                out[k] = sub
        elif v is None and d is _MISSING:
            continue
        elif v != d:
            out[k] = _drop_none(v)
    return out


_MISSING = object()


def _drop_none(v: Any) -> Any:
    """Unset optional fields (None) are noise in a document: leave them out."""
    if isinstance(v, dict):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_none(x) for x in v]
    return v


_KEEP = {
    Extension: ("number",),
    Trunk: ("name", "type", "host"),
    InboundRoute: ("name", "did", "destination"),
    OutboundRoute: ("name", "patterns", "trunks"),
    RingGroup: ("number", "name"),
    Queue: ("number", "name"),
    Group: ("name", "members"),
    Contact: (),
    PersonalContact: (),
    Phonebook: ("name",),
    ClientPermission: ("name", "target"),
}


def minimal(obj: BaseModel) -> dict[str, Any]:
    """The object's JSON form with defaults left out, as a readable document shows it."""
    return minimal_data(type(obj), obj.model_dump(mode="json"))


def minimal_data(cls: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Like ``minimal`` for an already validated object's JSON form (no re-validation)."""
    out = prune(data, _defaults(cls), _KEEP.get(cls, ()))
    if cls is Extension and out.get("first_name") == out.get("number") and not out.get("last_name"):
        del out["first_name"]
    return out


def stored_form(obj: BaseModel) -> dict[str, Any]:
    """What the database keeps: the fields that were set and differ from the defaults.

    Much faster to produce than a full dump, and reading it back gives the same object.
    """
    return minimal_data(type(obj), obj.model_dump(mode="json", exclude_unset=True))
