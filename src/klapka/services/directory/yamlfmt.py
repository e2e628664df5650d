"""Reading and writing the YAML configuration document.

YAML 1.1 turns ``0101`` into 65, ``12:30`` into 750 and ``off`` into false. A PBX is full
of such values, so this loader resolves only ``true``/``false`` and ``null``; every other
scalar stays text and the settings models convert it (``"30"`` -> 30 where a number is meant).

Anchors and aliases are allowed, but a document may not expand to more than
``MAX_YAML_NODES`` values ("billion laughs": a few lines that alias each other ten times
over), nor refer to itself.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from klapka.domain.problems import InvalidInput

# libyaml's parser when the platform has it (about 10x faster on big documents).
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    pass


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Quote what a YAML 1.1 reader would misread (numbers, times, yes/no), for other tools.
    style = None
    if re.fullmatch(r"[0-9+\-.:]+|yes|no|on|off|y|n|Yes|No|On|Off|YES|NO|ON|OFF|~|null|", value):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


# Values in a document with its aliases expanded. A configuration of 10,000 extensions has
# about a million.
MAX_YAML_NODES = 2_000_000


def load_yaml(text: str) -> Any:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(e, "problem", None) or str(e)
        raise InvalidInput.one(where, f"malformed YAML: {problem}") from None
    expanded_size(data)
    return data


def expanded_size(data: Any, limit: int = MAX_YAML_NODES) -> int:
    """How many values ``data`` holds with every alias expanded; InvalidInput when more than
    ``limit`` or when a value contains itself. Linear in the document: a value that aliases
    share is counted once and its size remembered."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # (value, children counted?) pairs: a value is counted after its children.
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        value, children_done = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        ident = id(value)
        children = list(value.values()) if isinstance(value, dict) else value
        if children_done:
            on_path.discard(ident)
            size = 1 + sum(
                sizes.get(id(c), 1) if isinstance(c, (dict, list)) else 1 for c in children
            )
            if isinstance(value, dict):
                size += len(value)  # the keys
            if size > limit:
                raise InvalidInput.one(
                    "document", f"at most {limit} values with its aliases expanded"
                )
            sizes[ident] = size
            continue
        if ident in sizes:
            continue
        if ident in on_path:
            raise InvalidInput.one("document", "an alias must not refer to a value containing it")
        on_path.add(ident)
        stack.append((value, True))
        stack.extend((c, False) for c in children)
    return sizes.get(id(data), 1)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
