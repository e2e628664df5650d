"""Errors as values the admin can act on: which field, which rule."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel, ValidationError


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


class Forbidden(KlapkaError):
    """The principal may not do this (a permission says no); the message says which."""


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


# The text patterns of the settings models, in words.
_PATTERN_RULES = {
    r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,62}$": (
        "must be 1-63 letters, digits, spaces, _ . or -, starting with a letter or digit"
    ),
    r"^[A-Za-z0-9.\-:\[\]]+$": "must be a host name or an IP address",
    r"^\+?[0-9*#]{0,16}$": "must be up to 16 digits, * and #, optionally starting with +",
    r"^(none|starttls|tls)$": "must be one of none, starttls or tls",
    r"^[0-9]{2,8}$": "must be 2-8 digits",
    r"^[0-9*#]{1,8}$": "must be 1-8 digits, * and #",
    r"^[A-Za-z0-9_.\-]{2,63}$": "must be 2-63 letters, digits, _ . or -",
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


# A model-level rule names the setting it is about first: "after_emailing: delete needs ...".
_RULE_PATH = re.compile(
    r"([a-z_][a-z0-9_]*(?:\[\d+\])*(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])*)*): (.+)", re.S
)


@cache
def _model_names() -> frozenset[str]:
    # Computed once: the settings models (and so the union members) exist by the first error.
    names: set[str] = set()
    todo: list[type[BaseModel]] = [BaseModel]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            names.add(sub.__name__)
            todo.append(sub)
    return frozenset(names)


def _is_union_tag(part: str | int) -> bool:
    # Pydantic names the member of a union that failed: "literal[False]", "function-after[..]",
    # or the model's class name ("Destination"). None of these is a place the admin can find.
    return isinstance(part, str) and (
        "[" in part or part.startswith("function-") or part in _model_names()
    )


def problems_from_validation(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn Pydantic's errors into field + rule problems with our wording."""
    problems: list[Problem] = []
    union_paths: set[str] = set()
    for e in error.errors(include_url=False):
        loc = [p for p in e["loc"] if not _is_union_tag(p)]
        from_union = len(loc) != len(e["loc"])
        kind = e["type"]
        if kind == "value_error":
            rule = str(e["msg"]).removeprefix("Value error, ")
            named = _RULE_PATH.fullmatch(rule)
            if named:
                loc += [named.group(1)]
                rule = named.group(2)
        elif kind == "literal_error" or kind == "enum":
            expected = str((e.get("ctx") or {}).get("expected", "")).replace("'", "")
            # {hangup: true}: a literal true or false reads as that word alone.
            if expected in ("True", "False"):
                rule = f"must be {expected.lower()}"
            else:
                rule = f"must be one of {expected}"
        elif kind in ("model_type", "model_attributes_type") and e["loc"][-1:] == ("Destination",):
            # A forward rule is a destination or false (off).
            rule = 'must be a destination like {extension: "102"}, or false'
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            rule = str(e["msg"]).replace("Input should be", "must be")
        elif kind in ("string_too_long", "string_too_short", "too_long", "too_short"):
            rule = (
                str(e["msg"])
                .replace("String should have", "must have")
                .replace("List should have", "must have")
                .replace("Value should have", "must have")
                .split(" after validation")[0]
            )
            if isinstance(e.get("input"), str):
                # A length rule on text after a conversion step speaks of "items".
                rule = rule.replace(" items", " characters").replace(" item", " character")
        elif kind == "string_pattern_mismatch":
            pattern = str((e.get("ctx") or {}).get("pattern", ""))
            rule = _PATTERN_RULES.get(pattern, f"must match the pattern {pattern}")
        else:
            rule = _TYPE_RULES.get(kind, str(e["msg"]).replace("Input should be", "must be"))
        path = join_path(prefix, loc)
        if from_union:
            union_paths.add(path)
        problems.append(Problem(path, rule))
    # The same place can fail several union members; keep the first rule for each place, and
    # drop a union member's complaint about a value when another member explains it in depth
    # ("busy.extension: must be 2-8 digits", not also "busy: must be one of False").
    explained = {q.path[:i] for q in problems for i, c in enumerate(q.path) if c in ".["}
    seen: set[str] = set()
    unique: list[Problem] = []
    for p in problems:
        if p.path in seen or (p.path in union_paths and p.path in explained):
            continue
        seen.add(p.path)
        unique.append(p)
    return unique
