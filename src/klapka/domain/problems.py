"""Errors as values the admin can act on: which field, which rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One broken rule at one place: ``extensions[3].presence_settings.away.ring_timeout``."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


class KlapkaError(Exception):
    """Base of the errors that services report to the API, the CLI and the web UI."""


class InvalidInput(KlapkaError):
    """The input breaks one or more rules; nothing was changed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:5]))

    @classmethod
    def one(cls, path: str, rule: str) -> InvalidInput:
        return cls([Problem(path, rule)])


class NotFound(KlapkaError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} does not exist")


@dataclass(frozen=True)
class Place:
    """Where a reference lives: the owner object and the setting inside it."""

    kind: str
    key: str
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.path}"


class Conflict(KlapkaError):
    """The change clashes with existing data (a number in use, an object referenced)."""

    def __init__(self, message: str, places: Iterable[Place] = (), path: str | None = None) -> None:
        self.message = message
        self.places = list(places)
        self.path = path
        super().__init__(message)


_TYPE_RULES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_from_datetime_parsing": "must be a date YYYY-MM-DD",
    "date_parsing": "must be a date YYYY-MM-DD",
    "date_type": "must be a date YYYY-MM-DD",
}


def join_path(prefix: str, loc: Iterable[str | int]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out = f"{out}.{part}" if out else str(part)
    return out


@dataclass
class ProblemList:
    """Collects problems while validating a whole document, so all are reported at once."""

    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, rule: str) -> None:
        self.items.append(Problem(path, rule))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.items.extend(problems)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def problems_from_validation(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn Pydantic's errors into field + rule problems with our wording."""
    problems: list[Problem] = []
    for e in error.errors(include_url=False):
        # Union members and tagged-union internals add noise to the location.
        loc = [
            p
            for p in e["loc"]
            if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
        ]
        kind = e["type"]
        if kind == "value_error":
            rule = str(e["msg"]).removeprefix("Value error, ")
        elif kind == "literal_error" or kind == "enum":
            expected = (e.get("ctx") or {}).get("expected", "")
            rule = f"must be one of {expected}".replace("'", "")
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            rule = str(e["msg"]).replace("Input should be", "must be")
        elif kind in ("string_too_long", "string_too_short", "too_long", "too_short"):
            rule = (
                str(e["msg"])
                .replace("String should have", "must have")
                .replace("List should have", "must have")
                .replace("Value should have", "must have")
            )
        else:
            rule = _TYPE_RULES.get(kind, str(e["msg"]).replace("Input should be", "must be"))
        problems.append(Problem(join_path(prefix, loc), rule))
    # The same place can fail several union members; keep the first rule for each place.
    seen: set[str] = set()
    unique: list[Problem] = []
    for p in problems:
        if p.path not in seen:
            seen.add(p.path)
            unique.append(p)
    return unique
