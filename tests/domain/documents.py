"""Build configurations for domain tests from the YAML format, so a test shows its input."""

from __future__ import annotations

from textwrap import dedent
from typing import Any

import pytest
from pydantic import ValidationError

from klapka.domain.document import ConfigDocument, parse_document
from klapka.domain.extension import Extension
from klapka.domain.problems import InvalidInput, problems_from_validation
from klapka.services.directory.yamlfmt import load_yaml


def parse(text: str) -> ConfigDocument:
    """A configuration document from YAML text (indented like the test wants it)."""
    return parse_document(load_yaml(dedent(text)))


def problems(text: str) -> list[str]:
    """Every problem parsing the document reports, as ``path: rule``."""
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    return [str(p) for p in refused.value.problems]


def extension(text: str) -> Extension:
    """One extension written as a document's ``extensions`` entry, checked on its own.

    Only the extension's own rules apply (as when the API saves one extension); references
    to other objects are the document's concern (see ``parse``).
    """
    data: Any = load_yaml(dedent(text))
    try:
        return Extension.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(problems_from_validation(e, "extensions[0]")) from None


def extension_problems(text: str) -> list[str]:
    """The problems of one extension mapping, as reported for ``extensions[0]``."""
    with pytest.raises(InvalidInput) as refused:
        extension(text)
    return [str(p) for p in refused.value.problems]
