"""The whole configuration as one document over ``/api/v1/config``, as JSON or YAML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from http_checks import check, problems

from klapka.services.directory.yamlfmt import dump_yaml, load_yaml

EXAMPLE = Path(__file__).parent.parent / "data" / "config-format-example.yaml"
YAML = {"Content-Type": "application/yaml"}


def test_the_example_document_applies_and_survives_export_and_apply(client: TestClient) -> None:
    document = EXAMPLE.read_text()
    result = check(client.put("/api/v1/config", content=document.encode(), headers=YAML))
    assert result["dry_run"] is False
    assert result["summary"]["created"] > 0
    assert check(client.get("/api/v1/extensions/101"))["first_name"] == "Jana"

    exported = check(client.get("/api/v1/config?include_secrets=true"))
    emptied = check(client.put("/api/v1/config?allow_delete_all=true", json={"version": 1}))
    assert emptied["summary"]["deleted"] > 0
    assert check(client.get("/api/v1/extensions"))["total"] == 0
    check(client.put("/api/v1/config", json=exported))
    assert check(client.get("/api/v1/config?include_secrets=true")) == exported


def test_applying_the_exported_document_again_changes_nothing(client: TestClient) -> None:
    check(client.put("/api/v1/config", content=EXAMPLE.read_bytes(), headers=YAML))
    exported = check(client.get("/api/v1/config?include_secrets=true"))
    again = check(client.put("/api/v1/config?dry_run=true", json=exported))
    assert again["changes"] == []


def test_the_document_is_exported_as_yaml_when_asked_for(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101', first_name: Jana}]")
    response = client.get("/api/v1/config", headers={"Accept": "application/yaml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    document = load_yaml(response.text)
    assert document["version"] == "1"  # our YAML reader leaves scalars as text
    assert document["extensions"] == [{"number": "101", "first_name": "Jana"}]


def test_secrets_leave_only_when_asked_for(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101', sip_password: Secret123x}]")
    assert "Secret123x" not in client.get("/api/v1/config").text
    with_secrets = check(client.get("/api/v1/config?include_secrets=true"))
    assert with_secrets["extensions"][0]["sip_password"] == "Secret123x"


def test_a_dry_run_shows_the_changes_and_changes_nothing(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101'}, {number: '102'}]")
    document = dump_yaml({"version": 1, "extensions": [{"number": "101", "first_name": "Jana"}]})
    result = check(
        client.put("/api/v1/config?dry_run=true", content=document.encode(), headers=YAML)
    )
    assert result["dry_run"] is True
    assert result["summary"] == {"created": 0, "updated": 1, "deleted": 1}
    ops = {(c["op"], c["key"]) for c in result["changes"]}
    assert ops == {("update", "101"), ("delete", "102")}
    assert check(client.get("/api/v1/extensions"))["total"] == 2
    assert check(client.get("/api/v1/extensions/101"))["first_name"] == "101"


def test_the_changes_read_as_the_cli_prints_them_on_request(client: TestClient) -> None:
    response = client.put(
        "/api/v1/config?dry_run=true",
        json={"version": 1, "extensions": [{"number": "101"}]},
        headers={"Accept": "text/plain"},
    )
    assert response.status_code == 200
    assert "+ extension 101" in response.text
    assert "nothing was changed" in response.text


def test_an_invalid_document_is_refused_with_every_problem_by_path(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101', first_name: Jana}]")
    before = check(client.get("/api/v1/config?include_secrets=true"))
    document = """
version: 1
extensions:
  - number: "101"
    presence_settings:
      away: {ring_timeout: 3}
  - number: "102"
    colour: red
ring_groups:
  - {number: "6300", strategy: loudest_first}
"""
    found = problems(client.put("/api/v1/config", content=document.encode(), headers=YAML))
    assert "extensions[0].presence_settings.away.ring_timeout: must be 5..300" in found
    assert "extensions[1].colour: unknown field" in found
    assert any(p.startswith("ring_groups[0].strategy: must be one of") for p in found)
    assert check(client.get("/api/v1/config?include_secrets=true")) == before


def test_numbers_used_twice_in_a_document_are_refused_by_path(client: TestClient) -> None:
    document = """
version: 1
extensions: [{number: "101"}, {number: "102"}, {number: "101"}]
queues: [{number: "102"}]
"""
    found = problems(client.put("/api/v1/config", content=document.encode(), headers=YAML))
    assert any(p.startswith("extensions[2].number: ") for p in found)
    assert any(p.startswith("queues[0].number: ") for p in found)
    assert check(client.get("/api/v1/extensions"))["total"] == 0


def test_malformed_yaml_is_refused_with_the_line(client: TestClient) -> None:
    response = client.put(
        "/api/v1/config", content=b"version: 1\nextensions: [\n  {number: 101\n", headers=YAML
    )
    [problem] = problems(response)
    assert problem.startswith("line ")
    assert "malformed YAML" in problem


def test_a_document_in_another_format_is_refused(client: TestClient) -> None:
    response = client.put(
        "/api/v1/config", content=b"version=1", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
