"""Client permissions (docs/accounts.md): what a signed-in user may see and change, as rules.

A rule has a target (all / groups / extensions: who the rule is for) and answers some of
four questions: is this portal menu shown, may the user see that extension, what may they do
with company contacts, may they edit this preference. Rules are evaluated top-down and the
first rule that targets the user *and answers the question* decides; a question no rule
answers gets its default. So a rule that only hides a menu never changes contact access.

Defaults: every menu shown, every extension visible, company contacts hidden (``none``),
every preference editable. A user always sees their own extension. Admins are not subject
to client permissions.

Pure data and functions; the services load the rules and the group memberships.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from klapka.domain.extension import Model
from klapka.domain.values import Number

# Same rule as other names (groups, trunks): written out to keep this module free of the
# directory models.
RuleName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,62}$")]
GroupName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,62}$")]

EVERYONE = "All"  # the built-in group of every extension


class Menu(StrEnum):
    """The menus of the user portal (and the apps)."""

    EXTENSIONS = "extensions"  # colleagues and their presence
    CONTACTS = "contacts"
    CALL_LOGS = "call_logs"
    VOICEMAIL = "voicemail"
    RECORDINGS = "recordings"
    QUEUES = "queues"
    SETTINGS = "settings"


class Preference(StrEnum):
    """Groups of own settings a user may edit in the portal (``/api/v1/me/...``)."""

    PRESENCE_FORWARDING = "presence_forwarding"  # status, note, forwarding, caller rules
    RING_STRATEGY = "ring_strategy"  # ring stages, ring timeout, ring mobile
    VOICEMAIL = "voicemail"  # voicemail settings and PIN
    NOTIFICATIONS = "notifications"  # the notify_* emails
    INTEGRATIONS = "integrations"  # URL popup


class ContactAccess(StrEnum):
    NONE = "none"
    VIEW = "view"
    MANAGE = "manage"


class Targets(Model):
    """A set of extensions: ``{all: true}``, or groups and/or extensions by number.

    Empty lists match nobody (what is left when the named groups and extensions are gone).
    """

    all: bool = False
    groups: list[GroupName] = Field(default_factory=list)
    extensions: list[Number] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules(self) -> Targets:
        if self.all and (self.groups or self.extensions):
            raise ValueError("all: true already includes every group and extension")
        if len(set(self.groups)) != len(self.groups):
            raise ValueError("groups: must not list a group twice")
        if len(set(self.extensions)) != len(self.extensions):
            raise ValueError("extensions: must not list an extension twice")
        return self

    def everyone(self) -> bool:
        return self.all or any(g.lower() == EVERYONE.lower() for g in self.groups)

    def includes(self, number: str, groups: Iterable[str]) -> bool:
        """Is the extension ``number``, a member of ``groups``, in this set?"""
        if self.everyone() or number in self.extensions:
            return True
        mine = {g.lower() for g in groups}
        return any(g.lower() in mine for g in self.groups)

    def numbers(self, members: Mapping[str, Iterable[str]]) -> set[str]:
        """The extension numbers in this set (not for ``everyone()``); ``members`` by group."""
        by_lower = {name.lower(): numbers for name, numbers in members.items()}
        found = set(self.extensions)
        for g in self.groups:
            found.update(by_lower.get(g.lower(), ()))
        return found


class ExtensionVisibility(Model):
    """Which extensions the targeted users see: ``allow`` is checked before ``deny``.

    ``{deny: {groups: [Management]}}`` hides the management; ``{allow: {groups: [Sales]},
    deny: {all: true}}`` shows only Sales. Extensions in neither are left to later rules.
    """

    allow: Targets | None = None
    deny: Targets | None = None

    @model_validator(mode="after")
    def _something(self) -> ExtensionVisibility:
        if self.allow is None and self.deny is None:
            raise ValueError("allow: give allow, deny or both")
        return self


class ClientPermission(Model):
    """One rule. Questions it leaves out (``menus: {}``, no ``contacts``) go to later rules."""

    name: RuleName
    target: Targets
    menus: dict[Menu, bool] = Field(default_factory=dict)
    extension_visibility: ExtensionVisibility | None = None
    contacts: ContactAccess | None = None
    preferences: dict[Preference, bool] = Field(default_factory=dict)

    def group_names(self) -> list[tuple[str, str]]:
        """Every group the rule names, with its path (for the reference index)."""
        found = [(f"target.groups[{i}]", g) for i, g in enumerate(self.target.groups)]
        for side, targets in self._visibility_targets():
            found += [
                (f"extension_visibility.{side}.groups[{i}]", g)
                for i, g in enumerate(targets.groups)
            ]
        return [(p, g) for p, g in found if g.lower() != EVERYONE.lower()]

    def extension_numbers(self) -> list[tuple[str, str]]:
        """Every extension the rule names, with its path."""
        found = [(f"target.extensions[{i}]", n) for i, n in enumerate(self.target.extensions)]
        for side, targets in self._visibility_targets():
            found += [
                (f"extension_visibility.{side}.extensions[{i}]", n)
                for i, n in enumerate(targets.extensions)
            ]
        return found

    def _visibility_targets(self) -> list[tuple[str, Targets]]:
        vis = self.extension_visibility
        if vis is None:
            return []
        return [
            (side, t) for side, t in (("allow", vis.allow), ("deny", vis.deny)) if t is not None
        ]


# --- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The signed-in user the rules are evaluated for."""

    number: str
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """An answer and the rule that gave it (None: the default)."""

    allowed: bool
    rule: str | None = None


@dataclass(frozen=True)
class Visibility:
    """The extensions a viewer sees, as a set that may be "everything except ...".

    ``everything`` true: all extensions but ``numbers``; false: only ``numbers``.
    The viewer's own number is always visible.
    """

    everything: bool
    numbers: frozenset[str]
    own: str

    def sees(self, number: str) -> bool:
        if number == self.own:
            return True
        return (number not in self.numbers) if self.everything else (number in self.numbers)


@dataclass(frozen=True)
class Effective:
    """Everything the rules say about one user."""

    menus: dict[Menu, Decision]
    preferences: dict[Preference, Decision]
    contacts: ContactAccess
    contacts_rule: str | None
    visibility: Visibility
    matching_rules: list[str] = field(default_factory=list)


ALL_VISIBLE = frozenset[str]()


def _matching(rules: Sequence[ClientPermission], viewer: Viewer) -> list[ClientPermission]:
    return [r for r in rules if r.target.includes(viewer.number, viewer.groups)]


def decide_menu(rules: Sequence[ClientPermission], viewer: Viewer, menu: Menu) -> Decision:
    for rule in _matching(rules, viewer):
        if menu in rule.menus:
            return Decision(rule.menus[menu], rule.name)
    return Decision(True)


def decide_preference(
    rules: Sequence[ClientPermission], viewer: Viewer, preference: Preference
) -> Decision:
    for rule in _matching(rules, viewer):
        if preference in rule.preferences:
            return Decision(rule.preferences[preference], rule.name)
    return Decision(True)


def decide_contacts(
    rules: Sequence[ClientPermission], viewer: Viewer
) -> tuple[ContactAccess, str | None]:
    for rule in _matching(rules, viewer):
        if rule.contacts is not None:
            return rule.contacts, rule.name
    return ContactAccess.NONE, None


def visibility(
    rules: Sequence[ClientPermission], viewer: Viewer, members: Mapping[str, Iterable[str]]
) -> Visibility:
    """Which extensions ``viewer`` sees; ``members``: the extension numbers of each group.

    Works on sets, never on the list of every extension, so it stays cheap at 10,000.
    """
    decided: set[str] = set()  # numbers some rule has answered for
    shown: set[str] = set()  # of those, the visible ones
    for rule in _matching(rules, viewer):
        vis = rule.extension_visibility
        if vis is None:
            continue
        for allow, targets in ((True, vis.allow), (False, vis.deny)):
            if targets is None:
                continue
            if targets.everyone():
                # Every extension not decided yet gets this answer: nothing after matters.
                if allow:
                    hidden = decided - shown
                    return Visibility(True, frozenset(hidden), viewer.number)
                return Visibility(False, frozenset(shown), viewer.number)
            new = targets.numbers(members) - decided
            decided |= new
            if allow:
                shown |= new
    return Visibility(True, frozenset(decided - shown), viewer.number)


def effective(
    rules: Sequence[ClientPermission], viewer: Viewer, members: Mapping[str, Iterable[str]]
) -> Effective:
    contacts, contacts_rule = decide_contacts(rules, viewer)
    return Effective(
        menus={m: decide_menu(rules, viewer, m) for m in Menu},
        preferences={p: decide_preference(rules, viewer, p) for p in Preference},
        contacts=contacts,
        contacts_rule=contacts_rule,
        visibility=visibility(rules, viewer, members),
        matching_rules=[r.name for r in _matching(rules, viewer)],
    )


def unrestricted(number: str) -> Effective:
    """What an admin gets: everything."""
    return Effective(
        menus={m: Decision(True) for m in Menu},
        preferences={p: Decision(True) for p in Preference},
        contacts=ContactAccess.MANAGE,
        contacts_rule=None,
        visibility=Visibility(True, ALL_VISIBLE, number),
    )


# --- which preference a setting belongs to ------------------------------------------------

_RING = ("ring_first", "ring_second", "ring_timeout", "ring_mobile")
_FORWARDING = ("internal", "external", "push_notifications", "agent_auto_switch", "greeting")
# Limits an admin sets for the mailbox; not the user's to raise.
_VOICEMAIL_LIMITS = ("min_message_seconds", "max_message_seconds", "max_messages")


def preference_for(path: str) -> Preference | None:
    """The preference that lets a user change the setting at ``path`` of their own
    extension (``presence_settings.away.ring_timeout`` -> ring_strategy), or None when only
    an admin may change it (number, role, SIP account, security, phones...)."""
    parts = path.split(".")
    head, rest = parts[0], parts[1:]
    if head in ("presence", "presence_note"):
        return Preference.PRESENCE_FORWARDING
    if head == "presence_settings" and len(rest) >= 2:
        if rest[1] in _RING:
            return Preference.RING_STRATEGY
        if rest[1] in _FORWARDING:
            return Preference.PRESENCE_FORWARDING
    if head == "voicemail" and rest and rest[0] not in _VOICEMAIL_LIMITS:
        return Preference.VOICEMAIL
    if head == "features" and rest:
        if rest[0] in ("notify_password_change", "notify_missed_call"):
            return Preference.NOTIFICATIONS
        if rest[0] == "caller_rules":
            return Preference.PRESENCE_FORWARDING
        if rest[0] == "url_popup":
            return Preference.INTEGRATIONS
    return None


def changed_paths(before: object, after: object, path: str = "") -> list[str]:
    """The dotted paths where two JSON values differ (mappings recursed, lists whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in list(before) + [k for k in after if k not in before]:
            if before.get(key) != after.get(key):
                found += changed_paths(
                    before.get(key), after.get(key), f"{path}.{key}" if path else str(key)
                )
        return found
    return [] if before == after else [path]
