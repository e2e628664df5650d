"""Phonebooks: named sets of company contacts, with the built-in Default phonebook, through
the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from api_clients import check
from fastapi.testclient import TestClient


def contact(client: TestClient, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = check(client.post("/api/v1/contacts", json=fields), 201)
    return created


def test_the_default_phonebook_is_always_there_and_holds_contacts_by_default(
    client: TestClient,
) -> None:
    karel = contact(client, first_name="Karel")
    assert karel["phonebook"] == "Default"
    page = check(client.get("/api/v1/phonebooks"))
    assert page["total"] == 1
    assert page["items"] == [
        {
            "name": "Default",
            "description": "Every company contact not in another phonebook",
            "builtin": True,
            "contacts": 1,
        }
    ]
    assert check(client.get("/api/v1/phonebooks/Default"))["contacts"] == 1
    assert check(client.get("/api/v1/phonebooks/default"))["name"] == "Default"


def test_a_phonebook_is_created_read_changed_and_deleted(client: TestClient) -> None:
    response = client.post(
        "/api/v1/phonebooks", json={"name": "Suppliers", "description": "Who sells to us"}
    )
    created = check(response, 201)
    assert response.headers["location"] == "/api/v1/phonebooks/Suppliers"
    assert created == {
        "name": "Suppliers",
        "description": "Who sells to us",
        "builtin": False,
        "contacts": 0,
    }
    url = "/api/v1/phonebooks/Suppliers"
    assert check(client.patch(url, json={"description": "Vendors"}))["description"] == "Vendors"
    assert check(client.put(url, json={"name": "Suppliers"}))["description"] == ""
    names = [p["name"] for p in check(client.get("/api/v1/phonebooks"))["items"]]
    assert names == ["Default", "Suppliers"]
    deleted = check(client.delete(url))
    assert deleted["deleted"]["name"] == "Suppliers"
    assert client.get(url).status_code == 404


def test_phonebook_names_are_unique_and_default_is_reserved(client: TestClient) -> None:
    check(client.post("/api/v1/phonebooks", json={"name": "Suppliers"}), 201)
    twice = client.post("/api/v1/phonebooks", json={"name": "Suppliers"})
    assert twice.status_code == 409
    assert twice.json()["path"] == "name"
    reserved = client.post("/api/v1/phonebooks", json={"name": "default"})
    assert reserved.status_code == 422
    assert reserved.json()["problems"][0]["path"] == "name"
    assert "reserved" in reserved.json()["problems"][0]["rule"]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_default_phonebook_cannot_be_changed_or_deleted(
    client: TestClient, method: str
) -> None:
    kwargs: dict[str, Any] = {} if method == "delete" else {"json": {"description": "x"}}
    response = getattr(client, method)("/api/v1/phonebooks/Default", **kwargs)
    assert response.status_code == 409
    assert "built in" in response.json()["message"]


def test_contacts_are_put_in_a_phonebook_and_listed_by_it(client: TestClient) -> None:
    check(client.post("/api/v1/phonebooks", json={"name": "Suppliers"}), 201)
    acme = contact(client, company="ACME", phonebook="Suppliers")
    contact(client, company="Globex")
    listed = check(client.get("/api/v1/contacts?phonebook=Suppliers"))
    assert [c["id"] for c in listed["items"]] == [acme["id"]]
    default = check(client.get("/api/v1/contacts?phonebook=Default"))
    assert [c["company"] for c in default["items"]] == ["Globex"]
    counts = {p["name"]: p["contacts"] for p in check(client.get("/api/v1/phonebooks"))["items"]}
    assert counts == {"Default": 1, "Suppliers": 1}
    moved = check(client.patch(f"/api/v1/contacts/{acme['id']}", json={"phonebook": None}))
    assert moved["phonebook"] == "Default"


def test_listing_an_unknown_phonebook_is_a_404(client: TestClient) -> None:
    response = client.get("/api/v1/contacts?phonebook=Nope")
    assert response.status_code == 404
    assert response.json()["message"] == "phonebook Nope does not exist"


def test_a_contact_in_an_unknown_phonebook_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/contacts", json={"company": "ACME", "phonebook": "Nope"})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"path": "phonebook", "rule": "phonebook Nope does not exist"}
    ]


def test_deleting_a_phonebook_with_contacts_is_refused_naming_them(client: TestClient) -> None:
    check(client.post("/api/v1/phonebooks", json={"name": "Suppliers"}), 201)
    acme = contact(client, company="ACME", phonebook="Suppliers")
    response = client.delete("/api/v1/phonebooks/Suppliers")
    assert response.status_code == 409
    assert response.json()["places"] == [
        {"kind": "contact", "key": str(acme["id"]), "path": "phonebook"}
    ]
    assert check(client.get("/api/v1/phonebooks/Suppliers"))["contacts"] == 1


def test_deleting_a_phonebook_with_cascade_moves_its_contacts_to_default(
    client: TestClient,
) -> None:
    check(client.post("/api/v1/phonebooks", json={"name": "Suppliers"}), 201)
    acme = contact(client, company="ACME", phonebook="Suppliers")
    deleted = check(client.delete("/api/v1/phonebooks/Suppliers?cascade=true"))
    assert deleted["removed_references"] == [
        {"kind": "contact", "key": str(acme["id"]), "path": "phonebook"}
    ]
    assert check(client.get(f"/api/v1/contacts/{acme['id']}"))["phonebook"] == "Default"
    assert check(client.get("/api/v1/contacts?phonebook=Default"))["total"] == 1


def test_phonebooks_are_searched_by_name_and_description(client: TestClient) -> None:
    check(
        client.post("/api/v1/phonebooks", json={"name": "Suppliers", "description": "Vendors"}), 201
    )
    check(client.post("/api/v1/phonebooks", json={"name": "Partners"}), 201)
    found = check(client.get("/api/v1/phonebooks?q=vend"))
    assert [p["name"] for p in found["items"]] == ["Suppliers"]
    page = check(client.get("/api/v1/phonebooks?limit=1&offset=1"))
    assert page["total"] == 3
    assert [p["name"] for p in page["items"]] == ["Partners"]
