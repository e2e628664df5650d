"""Personal contacts through /api/v1/me/contacts: each user's own, private."""

from __future__ import annotations

from accounts_world import API, check
from fastapi.testclient import TestClient


def test_a_user_keeps_personal_contacts_that_nobody_else_sees(
    jana: TestClient, petr: TestClient
) -> None:
    made = check(
        jana.post(
            f"{API}/me/contacts",
            json={
                "first_name": "Marie",
                "company": "Bakery",
                "numbers": [{"number": "+420601000111"}],
            },
        ),
        201,
    )
    assert made["first_name"] == "Marie"
    mine = check(jana.get(f"{API}/me/contacts"), 200)
    assert [c["first_name"] for c in mine["items"]] == ["Marie"]
    assert check(jana.get(f"{API}/me/contacts", params={"q": "601000"}), 200)["total"] == 1
    assert check(petr.get(f"{API}/me/contacts"), 200)["total"] == 0
    assert petr.get(f"{API}/me/contacts/{made['id']}").status_code == 404
    assert petr.delete(f"{API}/me/contacts/{made['id']}").status_code == 404
    changed = check(jana.patch(f"{API}/me/contacts/{made['id']}", json={"company": "Bistro"}), 200)
    assert changed["company"] == "Bistro"
    check(jana.delete(f"{API}/me/contacts/{made['id']}"), 200)
    assert check(jana.get(f"{API}/me/contacts"), 200)["total"] == 0


def test_a_personal_contact_without_a_name_is_refused_by_field(jana: TestClient) -> None:
    response = jana.post(f"{API}/me/contacts", json={"email": "x@example.com"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "first_name"
