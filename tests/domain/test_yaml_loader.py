"""The YAML loader reads every scalar as text except true/false/null, as admins write them."""

from __future__ import annotations

import pytest

from klapka.domain.problems import InvalidInput
from klapka.services.directory.yamlfmt import dump_yaml, load_yaml


@pytest.mark.parametrize(
    ("yaml_value", "read_as"),
    [
        ("0101", "0101"),  # YAML 1.1: the octal number 65
        ("12:30", "12:30"),  # YAML 1.1: the sexagesimal number 750
        ("off", "off"),  # YAML 1.1: false
        ("on", "on"),
        ("yes", "yes"),
        ("no", "no"),
        ("30", "30"),
        ("1.5", "1.5"),
        ("+420601234567", "+420601234567"),
        ("2026-12-24", "2026-12-24"),  # YAML 1.1: a date
        ("1e3", "1e3"),
    ],
)
def test_scalars_stay_text(yaml_value: str, read_as: str) -> None:
    assert load_yaml(f"value: {yaml_value}") == {"value": read_as}


@pytest.mark.parametrize(
    ("yaml_value", "read_as"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False)],
)
def test_true_and_false_are_booleans(yaml_value: str, read_as: bool) -> None:
    assert load_yaml(f"value: {yaml_value}") == {"value": read_as}


@pytest.mark.parametrize("yaml_value", ["null", "~", ""])
def test_null_is_none(yaml_value: str) -> None:
    assert load_yaml(f"value: {yaml_value}") == {"value": None}


def test_quoted_values_are_text_too() -> None:
    assert load_yaml('{a: "true", b: "0101"}') == {"a": "true", "b": "0101"}


def test_an_empty_document_is_none() -> None:
    assert load_yaml("") is None


def test_malformed_yaml_is_reported_with_line_and_column() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_yaml("extensions:\n  - number: '101'\n   bad: [\n")
    (problem,) = refused.value.problems
    assert problem.path == "line 3, column 4"
    assert problem.rule.startswith("malformed YAML: ")


def test_an_unclosed_flow_mapping_is_reported_where_the_text_ends() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_yaml("version: 1\nextensions: [{number: '101'\n")
    assert [str(p) for p in refused.value.problems] == [
        "line 3, column 1: malformed YAML: did not find expected ',' or '}'"
    ]


def test_a_tab_indent_is_malformed() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_yaml("system:\n\ttimezone: UTC\n")
    assert refused.value.problems[0].path == "line 2, column 1"


def test_dumped_text_reads_back_as_the_same_text() -> None:
    data = {"number": "0101", "time": "12:30", "mode": "off", "yes": "yes", "on": True, "n": None}
    text = dump_yaml(data)
    assert load_yaml(text) == data
    assert '"0101"' in text  # quoted for YAML 1.1 readers as well
