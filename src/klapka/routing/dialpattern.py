"""The PBX dial-pattern syntax: one matcher for caller rules, routes and DIDs.

``X`` = 0-9, ``Z`` = 1-9, ``N`` = 2-9, ``[1-5]`` / ``[135-7]`` a set, ``.`` one or more of
any dialable character, ``!`` zero or more; anything else is literal. A pattern must match
the whole number. An exact number is a pattern that matches only itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_ANY = "[0-9*#+]"
_WILDCARDS = frozenset("XZN[.!")


class PatternError(ValueError):
    """A dial pattern that cannot be compiled; the message says why."""


@dataclass(frozen=True)
class DialPattern:
    text: str
    regex: re.Pattern[str]

    @property
    def is_exact(self) -> bool:
        """True when the pattern has no wildcard, i.e. matches exactly one number."""
        return not any(c in _WILDCARDS for c in self.text.upper())

    def matches(self, number: str) -> bool:
        return self.regex.fullmatch(number) is not None


def _translate(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        u = c.upper()
        if u == "X":
            out.append("[0-9]")
        elif u == "Z":
            out.append("[1-9]")
        elif u == "N":
            out.append("[2-9]")
        elif c == ".":
            out.append(_ANY + "+")
        elif c == "!":
            out.append(_ANY + "*")
        elif c == "[":
            end = text.find("]", i + 1)
            if end < 0:
                raise PatternError(f"'[' at position {i + 1} is never closed")
            out.append(_translate_set(text[i + 1 : end], i + 1))
            i = end
        elif c == "]":
            raise PatternError(f"']' at position {i + 1} has no matching '['")
        elif c.isspace():
            raise PatternError("must not contain spaces")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _translate_set(body: str, position: int) -> str:
    if not body:
        raise PatternError(f"empty set '[]' at position {position}")
    chars: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if not c.isdigit():
            raise PatternError(f"set at position {position} may contain only digits and ranges")
        if i + 2 < len(body) and body[i + 1] == "-":
            hi = body[i + 2]
            if not hi.isdigit() or hi < c:
                raise PatternError(f"bad range '{c}-{hi}' in set at position {position}")
            chars.append(f"{c}-{hi}")
            i += 3
        else:
            chars.append(c)
            i += 1
    return "[" + "".join(chars) + "]"


@lru_cache(maxsize=4096)
def compile_pattern(text: str) -> DialPattern:
    """Compile a dial pattern; raises PatternError with a readable reason."""
    if not text:
        raise PatternError("must not be empty")
    return DialPattern(text=text, regex=re.compile(_translate(text)))


def pattern_matches(pattern: str, number: str) -> bool:
    return compile_pattern(pattern).matches(number)
