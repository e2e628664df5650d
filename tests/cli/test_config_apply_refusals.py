"""`klapka config apply`: a document without `version`, or one that would delete every
extension, is refused with one line and exit status 2 and the PBX stays as it was;
`--allow-delete-all` applies the latter."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_commands import klapka, klapka_env, pbx, write  # noqa: F401 (fixtures)

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx

PBX = """\
version: 1
extensions: [{number: "101", first_name: Jana}, {number: "102"}]
groups: [{name: Sales, members: ["101"]}]
"""
DELETES_ALL = (
    "error: extensions: the document lists no extension: applying it would delete all 2 "
    "extensions of the PBX; to do that, apply with allow_delete_all=true "
    "(CLI: --allow-delete-all)\n"
)


@pytest.fixture
def exported(pbx: Pbx, tmp_path: Path) -> str:  # noqa: F811
    assert klapka("config", "apply", write(tmp_path, "pbx.yaml", PBX)).exit_code == 0
    return klapka("config", "export", "--include-secrets").stdout


@pytest.mark.parametrize("text", ["", "\n# nothing\n", "{}\n", "null\n", "~\n"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_document_without_version_is_refused(
    exported: str, tmp_path: Path, text: str, dry_run: list[str]
) -> None:
    result = klapka("config", "apply", write(tmp_path, "empty.yaml", text), *dry_run)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: version: required: a configuration document starts with version: 1\n"
    )
    assert result.stdout == ""
    assert klapka("config", "export", "--include-secrets").stdout == exported


def test_a_document_that_deletes_every_extension_is_refused(exported: str, tmp_path: Path) -> None:
    result = klapka("config", "apply", write(tmp_path, "v1.yaml", "version: 1\n"))
    assert result.exit_code == 2
    assert result.stderr == DELETES_ALL
    assert result.stdout == ""
    assert klapka("config", "export", "--include-secrets").stdout == exported


def test_the_dry_run_shows_the_changes_then_the_refusal(exported: str, tmp_path: Path) -> None:
    result = klapka("config", "apply", write(tmp_path, "v1.yaml", "version: 1\n"), "--dry-run")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "- extension 101",
        "- extension 102",
        "- group Sales",
        "Dry run: 0 to create, 0 to update, 3 to delete; nothing was changed.",
    ]
    assert result.stderr == DELETES_ALL
    assert klapka("config", "export", "--include-secrets").stdout == exported


def test_allow_delete_all_applies_it(pbx: Pbx, exported: str, tmp_path: Path) -> None:  # noqa: F811
    path = write(tmp_path, "v1.yaml", "version: 1\n")
    dry = klapka("config", "apply", path, "--dry-run", "--allow-delete-all")
    assert dry.exit_code == 0, dry.output
    assert Objects(pbx).list(Kind.EXTENSION).total == 2
    result = klapka("config", "apply", path, "--allow-delete-all")
    assert result.exit_code == 0, result.output
    assert "Applied: 0 created, 0 updated, 3 deleted." in result.stdout
    assert Objects(pbx).list(Kind.EXTENSION).total == 0
