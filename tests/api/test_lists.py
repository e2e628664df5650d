"""Lists: pages, search and sort, at a few hundred extensions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from http_checks import check, problems

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx

FIRST_NAMES = ("Jana", "Petr", "Eva", "Tomáš", "Lucie")
# 300 extensions, 10..310 but 112, the default emergency number.
NUMBERS = [str(i) for i in range(10, 311) if i != 112]


@pytest.fixture
def company(pbx: Pbx) -> None:
    """The extensions NUMBERS; every fifth a Jana, each with an email at example.com."""
    objects = Objects(pbx)
    for i in map(int, NUMBERS):
        objects.create(
            Kind.EXTENSION,
            {
                "number": str(i),
                "first_name": FIRST_NAMES[i % 5],
                "last_name": f"Novák{i:03d}",
                "email": f"user{i}@example.com",
            },
        )


def numbers(page: dict[str, object]) -> list[str]:
    items = page["items"]
    assert isinstance(items, list)
    return [item["number"] for item in items]


def test_a_list_comes_in_pages_of_50_with_the_total(client: TestClient, company: None) -> None:
    page = check(client.get("/api/v1/extensions"))
    assert page["total"] == 300
    assert page["limit"] == 50
    assert page["offset"] == 0
    assert len(page["items"]) == 50
    last = check(client.get("/api/v1/extensions?limit=500&offset=280"))
    assert numbers(last) == NUMBERS[280:]
    assert last["total"] == 300


def test_pages_together_hold_every_extension_once(client: TestClient, company: None) -> None:
    seen: list[str] = []
    for offset in range(0, 300, 70):
        seen += numbers(check(client.get(f"/api/v1/extensions?limit=70&offset={offset}")))
    assert sorted(seen, key=int) == NUMBERS


def test_numbers_sort_as_numbers_so_99_comes_before_100(client: TestClient, company: None) -> None:
    page = check(client.get("/api/v1/extensions?sort=number&offset=85&limit=5"))
    assert numbers(page) == ["95", "96", "97", "98", "99"]
    page = check(client.get("/api/v1/extensions?sort=number&offset=90&limit=2"))
    assert numbers(page) == ["100", "101"]
    reverse = check(client.get("/api/v1/extensions?sort=-number&limit=3"))
    assert numbers(reverse) == ["310", "309", "308"]


def test_a_list_row_is_a_summary_not_every_setting(
    client: TestClient, company: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path))  # no SIP core there
    row = check(client.get("/api/v1/extensions?limit=1"))["items"][0]
    assert row == {
        "number": "10",
        "first_name": "Jana",
        "last_name": "Novák010",
        "email": "user10@example.com",
        "mobile": "",
        "enabled": True,
        "role": "user",
        "presence": "available",
        "presence_note": "",
        "status": "unknown",
    }


def test_sorting_by_name_orders_by_last_then_first_name(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions:
  - {number: "101", first_name: Petr, last_name: Svoboda}
  - {number: "102", first_name: adam, last_name: Novák}
  - {number: "103", first_name: Eva, last_name: Novák}
""")
    assert numbers(check(client.get("/api/v1/extensions?sort=name"))) == ["102", "103", "101"]
    assert numbers(check(client.get("/api/v1/extensions?sort=-name"))) == ["101", "103", "102"]


def test_search_finds_by_number_name_or_email_ignoring_case(
    client: TestClient, company: None
) -> None:
    by_number = check(client.get("/api/v1/extensions?q=30&limit=500"))
    assert set(numbers(by_number)) == {"30", "130", "230", *(str(i) for i in range(300, 310))}
    by_name = check(client.get("/api/v1/extensions?q=JANA&limit=500"))
    assert by_name["total"] == len([n for n in NUMBERS if int(n) % 5 == 0])
    by_full_name = check(client.get("/api/v1/extensions", params={"q": "jana novák015"}))
    assert numbers(by_full_name) == ["15"]
    by_email = check(client.get("/api/v1/extensions?q=user42@"))
    assert numbers(by_email) == ["42"]
    nothing = check(client.get("/api/v1/extensions?q=nobody"))
    assert nothing == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_search_and_sort_and_pages_combine(client: TestClient, company: None) -> None:
    page = check(client.get("/api/v1/extensions?q=eva&sort=-email&limit=3&offset=1"))
    assert page["total"] == len([n for n in NUMBERS if int(n) % 5 == 2])
    # emails sort as text: user97 > user92 > user87 > user82
    assert numbers(page) == ["92", "87", "82"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("limit=0", "query.limit: must be greater than or equal to 1"),
        ("limit=501", "query.limit: must be less than or equal to 500"),
        ("limit=many", "query.limit: must be a whole number"),
        ("offset=-1", "query.offset: must be greater than or equal to 0"),
    ],
)
def test_bad_paging_is_refused_naming_the_parameter(
    client: TestClient, query: str, problem: str
) -> None:
    assert problems(client.get(f"/api/v1/extensions?{query}")) == [problem]


def test_an_unknown_sort_field_is_refused_with_the_fields_there_are(client: TestClient) -> None:
    [problem] = problems(client.get("/api/v1/extensions?sort=shoe_size"))
    assert problem.startswith("query.sort: must be one of ")
    assert "number" in problem
    assert "email" in problem


def test_other_resources_are_listed_the_same_way(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions: [{number: "101"}, {number: "102"}]
ring_groups:
  - {number: "6301", name: Support}
  - {number: "6300", name: Sales, members: ["101"]}
contacts:
  - {first_name: Karel, company: ACME, numbers: [{number: "+420601000000"}]}
  - {company: Globex}
""")
    groups = check(client.get("/api/v1/ring-groups?sort=number"))
    assert [g["name"] for g in groups["items"]] == ["Sales", "Support"]
    assert groups["items"][0]["members"] == ["101"]
    found = check(client.get("/api/v1/ring-groups?q=supp"))
    assert [g["number"] for g in found["items"]] == ["6301"]
    contacts = check(client.get("/api/v1/contacts?q=acme"))
    assert contacts["total"] == 1
    assert contacts["items"][0]["first_name"] == "Karel"
    assert isinstance(contacts["items"][0]["id"], int)
