"""The `klapka` command: what an admin types and sees, exit status 0 on success and 2 with
one clear line per problem on stderr when something is refused."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from klapka.cli import app
from klapka.domain.references import Kind
from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx

runner = CliRunner()


@pytest.fixture
def klapka_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> str:
    """The CLI works on this test's fresh, migrated database."""
    monkeypatch.setenv("KLAPKA_DATABASE_URL", database_url)
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "data"))
    return database_url


@pytest.fixture
def pbx(klapka_env: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(klapka_env)
    yield pbx
    pbx.close()


def klapka(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


DOCUMENT = """\
version: 1
extensions:
  - {number: "101", first_name: Jana, last_name: Nováková, email: jana@example.com}
  - {number: "102", first_name: Petr, last_name: Svoboda}
groups:
  - {name: Sales, members: ["101"]}
"""


# --- init ---------------------------------------------------------------------------------


def test_init_prints_an_admin_token_that_the_api_accepts(pbx: Pbx) -> None:
    result = klapka("init")
    assert result.exit_code == 0, result.output
    match = re.search(r"^Admin API token: (klp_\S+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    info = Tokens(pbx).verify(match.group(1))
    assert info is not None and info.role == "admin"
    assert f"Authorization: Bearer {match.group(1)}" in result.stdout


def test_init_creates_the_sqlite_database_in_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KLAPKA_DATABASE_URL", raising=False)
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "state"))
    assert klapka("init").exit_code == 0
    assert (tmp_path / "state" / "klapka.db").is_file()
    assert klapka("extensions", "list", "--json").exit_code == 0


def test_init_demo_loads_a_small_company(pbx: Pbx) -> None:
    result = klapka("init", "--demo")
    assert result.exit_code == 0, result.output
    assert "Demo company loaded" in result.stdout
    objects = Objects(pbx)
    assert 10 <= objects.list(Kind.EXTENSION).total <= 20
    assert objects.list(Kind.GROUP).total >= 2
    assert objects.list(Kind.RING_GROUP).total >= 1
    assert objects.list(Kind.QUEUE).total >= 1
    assert objects.list(Kind.TRUNK).total >= 1


def test_init_refuses_a_database_with_extensions_unless_forced(pbx: Pbx) -> None:
    Objects(pbx).create(Kind.EXTENSION, {"number": "101"})
    refused = klapka("init")
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1
    assert "already initialised" in refused.stderr and "--force" in refused.stderr
    assert klapka("init", "--force").exit_code == 0


def test_a_command_before_init_says_to_run_init(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KLAPKA_DATABASE_URL", raising=False)
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "nothing-here"))
    result = klapka("extensions", "list")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: no database at {tmp_path / 'nothing-here' / 'klapka.db'}: run `klapka init` first"
    ]
    assert not (tmp_path / "nothing-here").exists()


def test_db_upgrade_on_an_empty_database_makes_it_usable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KLAPKA_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert klapka("db", "upgrade").exit_code == 0
    assert klapka("extensions", "list", "--json").exit_code == 0


# --- config -------------------------------------------------------------------------------


def test_config_apply_dry_run_prints_the_changes_and_changes_nothing(
    pbx: Pbx, tmp_path: Path
) -> None:
    result = klapka("config", "apply", write(tmp_path, "pbx.yaml", DOCUMENT), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+ extension 101" in result.stdout
    assert "nothing was changed" in result.stdout
    assert Objects(pbx).list(Kind.EXTENSION).total == 0


def test_config_apply_then_export_gives_the_document_back(pbx: Pbx, tmp_path: Path) -> None:
    applied = klapka("config", "apply", write(tmp_path, "pbx.yaml", DOCUMENT))
    assert applied.exit_code == 0, applied.output
    assert "Applied: " in applied.stdout
    exported = klapka("config", "export")
    assert exported.exit_code == 0
    assert "first_name: Jana" in exported.stdout
    assert "sip_password" not in exported.stdout
    again = klapka("config", "apply", "-", input=exported.stdout)
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout


def test_config_export_with_secrets_to_a_file_only_the_owner_can_read(
    pbx: Pbx, tmp_path: Path
) -> None:
    klapka("config", "apply", write(tmp_path, "pbx.yaml", DOCUMENT))
    out = tmp_path / "secret.yaml"
    result = klapka("config", "export", "--include-secrets", "-o", str(out))
    assert result.exit_code == 0
    assert "sip_password" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_config_apply_with_one_problem_prints_one_line_and_exits_2(
    pbx: Pbx, tmp_path: Path
) -> None:
    bad = DOCUMENT.replace(
        "first_name: Petr, last_name: Svoboda}",
        "first_name: Petr, presence_settings: {away: {ring_timeout: 1000}}}",
    )
    result = klapka("config", "apply", write(tmp_path, "bad.yaml", bad))
    assert result.exit_code == 2
    assert result.stderr == (
        "error: extensions[1].presence_settings.away.ring_timeout: must be 5..300\n"
    )
    assert Objects(pbx).list(Kind.EXTENSION).total == 0


def test_config_apply_lists_every_problem_as_path_and_rule(pbx: Pbx, tmp_path: Path) -> None:
    bad = 'version: 1\nextensions:\n  - {number: "1x"}\n  - {number: "102", colour: red}\n'
    result = klapka("config", "apply", write(tmp_path, "bad.yaml", bad))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: 2 problems; nothing was changed:",
        "extensions[0].number: must be 2-8 digits",
        "extensions[1].colour: unknown field",
    ]


def test_config_apply_of_malformed_yaml_names_the_line(pbx: Pbx, tmp_path: Path) -> None:
    result = klapka("config", "apply", write(tmp_path, "bad.yaml", "version: [1\n"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: line 2, column 1: malformed YAML")


def test_config_apply_of_a_missing_file_exits_2(pbx: Pbx, tmp_path: Path) -> None:
    result = klapka("config", "apply", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


# --- extensions ---------------------------------------------------------------------------


def test_extensions_list_shows_a_table_and_json(pbx: Pbx, tmp_path: Path) -> None:
    klapka("config", "apply", write(tmp_path, "pbx.yaml", DOCUMENT))
    table = klapka("extensions", "list")
    assert table.exit_code == 0
    assert "101" in table.stdout and "Jana" in table.stdout and "1-2 of 2" in table.stdout
    found = json.loads(klapka("extensions", "list", "--search", "svob", "--json").stdout)
    assert found["total"] == 1
    assert found["items"][0]["number"] == "102"
    page = json.loads(
        klapka("extensions", "list", "--sort", "-number", "--limit", "1", "--json").stdout
    )
    assert [i["number"] for i in page["items"]] == ["102"]


def test_extensions_list_with_an_unknown_sort_exits_2_naming_the_choices(pbx: Pbx) -> None:
    result = klapka("extensions", "list", "--sort", "shoe_size")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: sort: must be one of ")


def test_bad_usage_exits_2(pbx: Pbx) -> None:
    assert klapka("extensions", "list", "--limit", "0").exit_code == 2
    assert klapka("extensions", "frobnicate").exit_code == 2


def test_extensions_show_prints_yaml_or_json_and_hides_secrets_unless_asked(
    pbx: Pbx, tmp_path: Path
) -> None:
    klapka("config", "apply", write(tmp_path, "pbx.yaml", DOCUMENT))
    shown = klapka("extensions", "show", "101")
    assert shown.exit_code == 0
    assert "first_name: Jana" in shown.stdout
    assert "sip_password: '********'" in shown.stdout
    data = json.loads(klapka("extensions", "show", "101", "--json", "--include-secrets").stdout)
    assert data["email"] == "jana@example.com"
    assert data["sip_password"] != "********"


def test_extensions_show_of_an_unknown_number_is_one_line(pbx: Pbx) -> None:
    result = klapka("extensions", "show", "999")
    assert result.exit_code == 2
    assert result.stderr == "error: extension 999 does not exist\n"


def test_extensions_import_prints_the_counts(pbx: Pbx, tmp_path: Path) -> None:
    Objects(pbx).create(Kind.EXTENSION, {"number": "101"})
    csv_file = write(tmp_path, "users.csv", "number,first_name\n101,Jana\n102,Petr\n103,Eva\n")
    result = klapka("extensions", "import", csv_file)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Imported {csv_file}: 2 created, 1 updated.\n"
    assert Objects(pbx).get(Kind.EXTENSION, "101")["first_name"] == "Jana"


def test_extensions_import_with_bad_rows_prints_each_and_imports_nothing(
    pbx: Pbx, tmp_path: Path
) -> None:
    text = "number,email,role\n101,jana@example.com,user\n102,petr@,user\n103,,boss\n"
    csv_file = write(tmp_path, "users.csv", text)
    result = klapka("extensions", "import", csv_file)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: 2 problems in {csv_file}; nothing was imported:",
        "row 3, email: must be an email address like name@example.com",
        "row 4, role: must be one of admin or user",
    ]
    assert Objects(pbx).list(Kind.EXTENSION).total == 0


def test_extensions_import_of_a_malformed_file_is_one_line(pbx: Pbx, tmp_path: Path) -> None:
    csv_file = write(tmp_path, "users.csv", "number,fax\n101,1\n")
    result = klapka("extensions", "import", csv_file)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: header: unknown column fax; the columns are: number,")


def test_extensions_import_dry_run_changes_nothing(pbx: Pbx, tmp_path: Path) -> None:
    result = klapka("extensions", "import", write(tmp_path, "u.csv", "number\n101\n"), "--dry-run")
    assert result.exit_code == 0
    assert "1 would be created" in result.stdout
    assert Objects(pbx).list(Kind.EXTENSION).total == 0


def test_extensions_export_then_import_round_trip(pbx: Pbx, tmp_path: Path) -> None:
    klapka("config", "apply", write(tmp_path, "pbx.yaml", DOCUMENT))
    out = tmp_path / "users.csv"
    assert klapka("extensions", "export", "-o", str(out), "--include-secrets").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("number,first_name,last_name,email,")
    on_stdout = klapka("extensions", "export").stdout
    assert on_stdout.splitlines()[1].startswith("101,Jana,Nováková,jana@example.com,")
    result = klapka("extensions", "import", str(out))
    assert result.exit_code == 0
    assert "0 created, 2 updated" in result.stdout


# --- tokens -------------------------------------------------------------------------------


def test_token_create_prints_only_a_new_working_token(pbx: Pbx) -> None:
    result = klapka("token", "create", "--name", "backup script")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("klp_") and "\n" not in token
    info = Tokens(pbx).verify(token)
    assert info is not None and info.name == "backup script"
