"""The one destination shape used by forwarding, failover, caller rules, routes and boss.

In YAML and JSON a destination is a mapping with exactly one key, e.g. ``{extension: "102"}``.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

from klapka.domain.values import Number, PhoneNumber


class DestinationType(StrEnum):
    EXTENSION = "extension"
    VOICEMAIL = "voicemail"
    MOBILE_NUMBER = "mobile_number"
    EXTERNAL_NUMBER = "external_number"
    RING_GROUP = "ring_group"
    QUEUE = "queue"
    PLAY_GREETING_THEN_HANGUP = "play_greeting_then_hangup"
    HANGUP = "hangup"
    ACCEPT = "accept"


_TYPES = {t.value: t for t in DestinationType}
_NUMBERED = frozenset(
    {
        DestinationType.EXTENSION,
        DestinationType.VOICEMAIL,
        DestinationType.RING_GROUP,
        DestinationType.QUEUE,
    }
)
_KEYS = ", ".join(t.value for t in DestinationType if t is not DestinationType.ACCEPT)


class Destination(BaseModel):
    """Where a call goes. Exactly one field is set."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    extension: Number | None = None
    voicemail: Literal[True] | Number | None = None
    mobile_number: Literal[True] | None = None
    external_number: PhoneNumber | None = None
    ring_group: Number | None = None
    queue: Number | None = None
    play_greeting_then_hangup: Literal[True] | None = None
    hangup: Literal[True] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [k for k in data if k in cls.model_fields]
            if len(data) != 1 or len(known) != 1:
                allowed = _KEYS + (", accept" if cls is not Destination else "")
                raise ValueError(f"a destination has exactly one key, one of: {allowed}")
            if data[known[0]] is None:
                raise ValueError(f"{known[0]}: needs a value (null names no destination)")
        return data

    @model_serializer(mode="plain")
    def _dump(self) -> dict[str, Any]:
        name = self.type.value
        return {name: getattr(self, name)}

    @cached_property
    def type(self) -> DestinationType:
        # Exactly one field is ever set (see _one_key), so the set fields name the type.
        for name in self.model_fields_set:
            return _TYPES[name]
        raise AssertionError("destination without a key")

    @property
    def value(self) -> str | bool:
        v = getattr(self, self.type.value)
        assert isinstance(v, str | bool)
        return v

    def target_number(self) -> str | None:
        """The extension, mailbox, ring group or queue number this destination names."""
        t = self.type
        if t in _NUMBERED:
            v = getattr(self, t.value)
            return v if isinstance(v, str) else None
        return None

    def __str__(self) -> str:
        v = self.value
        return self.type.value if v is True else f"{self.type.value} {v}"


class RuleAction(Destination):
    """A caller rule's action: a destination, or ``{accept: true}`` (ring normally)."""

    accept: Literal[True] | None = None


# Destinations are frozen, so these can be shared as defaults.
OWN_VOICEMAIL = Destination(voicemail=True)
HANGUP = Destination(hangup=True)
