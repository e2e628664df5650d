"""Reading and writing the YAML configuration document.

YAML 1.1 turns ``0101`` into 65, ``12:30`` into 750 and ``off`` into false. A PBX is full
of such values, so this loader resolves only ``true``/``false`` and ``null``; every other
scalar stays text and the settings models convert it (``"30"`` -> 30 where a number is meant).
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


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(e, "problem", None) or str(e)
        raise InvalidInput.one(where, f"malformed YAML: {problem}") from None


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
