"""Extensions over the API: create, read, replace, merge-patch, delete, and bad input."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from http_checks import check, problems

MASK = "********"


def test_a_new_extension_needs_only_a_number_and_gets_the_documented_defaults(
    client: TestClient,
) -> None:
    response = client.post("/api/v1/extensions", json={"number": "101"})
    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/extensions/101"
    ext = response.json()
    assert ext["number"] == "101"
    assert ext["first_name"] == "101"  # no name given: the number is shown on phones
    assert ext["enabled"] is True
    assert ext["concurrent_registrations"] == 1
    assert ext["presence"] == "available"
    away = ext["presence_settings"]["away"]
    assert away["ring_timeout"] == 30
    assert away["external"] == {
        "always": False,
        "no_answer": {"voicemail": True},
        "busy": {"voicemail": True},
    }
    assert ext["voicemail"]["new_message_email"] == "off"
    assert ext["advanced"]["dtmf_mode"] == "rfc4733"
    # Generated secrets exist but are not shown.
    assert ext["sip_password"] == MASK
    assert ext["voicemail"]["pin"] == MASK
    assert "user_password" not in ext
    assert client.get("/api/v1/extensions/101").json() == ext


def test_secrets_are_shown_only_when_asked_for(client: TestClient) -> None:
    check(
        client.post(
            "/api/v1/extensions",
            json={"number": "101", "sip_password": "Secret123x", "voicemail": {"pin": "4321"}},
        ),
        201,
    )
    masked = check(client.get("/api/v1/extensions/101"))
    assert masked["sip_password"] == MASK
    assert masked["voicemail"]["pin"] == MASK
    shown = check(client.get("/api/v1/extensions/101?include_secrets=true"))
    assert shown["sip_password"] == "Secret123x"
    assert shown["voicemail"]["pin"] == "4321"


def test_a_portal_password_is_never_shown_not_even_with_secrets(client: TestClient) -> None:
    check(
        client.post("/api/v1/extensions", json={"number": "101", "user_password": "Tr0ub4dor&3x"}),
        201,
    )
    shown = check(client.get("/api/v1/extensions/101?include_secrets=true"))
    assert "user_password" not in shown


def test_replacing_an_extension_resets_omitted_settings_and_keeps_masked_secrets(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions:
  - number: "101"
    first_name: Jana
    last_name: Nováková
    email: jana@example.com
    sip_password: Secret123x
    presence_settings:
      away: {ring_timeout: 20}
""")
    current = check(client.get("/api/v1/extensions/101"))
    assert current["sip_password"] == MASK
    replaced = check(
        client.put(
            "/api/v1/extensions/101",
            json={"first_name": "Jana", "sip_password": MASK},
        )
    )
    assert replaced["last_name"] == ""
    assert replaced["email"] is None
    assert replaced["presence_settings"]["away"]["ring_timeout"] == 30
    secrets = check(client.get("/api/v1/extensions/101?include_secrets=true"))
    assert secrets["sip_password"] == "Secret123x"


def test_merge_patch_changes_only_what_it_names_and_null_resets_to_the_default(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions:
  - number: "101"
    first_name: Jana
    last_name: Nováková
    presence_settings:
      away: {ring_timeout: 20, ring_mobile: {prefix: "0"}}
""")
    patched = check(
        client.patch(
            "/api/v1/extensions/101",
            json={"last_name": "Svobodová", "presence_settings": {"away": {"ring_timeout": None}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
    )
    assert patched["first_name"] == "Jana"
    assert patched["last_name"] == "Svobodová"
    assert patched["presence_settings"]["away"]["ring_timeout"] == 30
    assert patched["presence_settings"]["away"]["ring_mobile"]["prefix"] == "0"


def test_the_number_of_an_extension_cannot_be_changed(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101'}]")
    response = client.patch("/api/v1/extensions/101", json={"number": "102"})
    assert problems(response) == ["number: cannot be changed (create a new extension instead)"]


def test_an_unknown_extension_is_404_for_every_method(client: TestClient) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = client.request(method, "/api/v1/extensions/999", json={})
        assert response.status_code == 404, method
        assert response.json() == {"error": "not_found", "message": "extension 999 does not exist"}


def test_deleting_an_extension_returns_what_was_deleted(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101', first_name: Jana}]")
    response = client.delete("/api/v1/extensions/101")
    assert response.status_code == 200
    body = response.json()
    assert body["deleted"]["number"] == "101"
    assert body["deleted"]["first_name"] == "Jana"
    assert body["removed_references"] == []
    assert client.get("/api/v1/extensions/101").status_code == 404


# --- numbers are unique across extensions, ring groups, queues, emergency numbers ------------


def test_a_number_used_by_an_extension_is_refused_for_a_second_extension(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101'}]")
    response = client.post("/api/v1/extensions", json={"number": "101"})
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "message": "number 101 is already used by an extension",
        "path": "number",
        "places": [],
    }


def test_a_ring_group_number_is_refused_for_an_extension_and_the_other_way_round(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions: [{number: "101"}]
ring_groups: [{number: "6300", members: ["101"]}]
queues: [{number: "6400", members: ["101"]}]
""")
    for url, number, owner in (
        ("/api/v1/extensions", "6300", "a ring group"),
        ("/api/v1/extensions", "6400", "a queue"),
        ("/api/v1/ring-groups", "101", "an extension"),
        ("/api/v1/ring-groups", "6400", "a queue"),
        ("/api/v1/queues", "6300", "a ring group"),
        ("/api/v1/queues", "101", "an extension"),
    ):
        response = client.post(url, json={"number": number})
        assert response.status_code == 409, (url, number)
        assert response.json()["message"] == f"number {number} is already used by {owner}"


def test_an_emergency_number_cannot_be_an_extension(client: TestClient) -> None:
    check(client.patch("/api/v1/system", json={"emergency_numbers": ["112", "150"]}))
    response = client.post("/api/v1/extensions", json={"number": "150"})
    assert response.status_code == 409
    assert response.json()["message"] == "number 150 is an emergency number"
    assert response.json()["path"] == "number"


def test_an_email_address_belongs_to_one_extension(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101', email: jana@example.com}]")
    response = client.post(
        "/api/v1/extensions", json={"number": "102", "email": "JANA@example.com"}
    )
    assert response.status_code == 409
    assert response.json()["path"] == "email"


# --- bad input: the field, the rule, and nothing changed ----------------------------------


def test_unknown_fields_and_wrong_types_are_named_each_with_its_rule(client: TestClient) -> None:
    response = client.post(
        "/api/v1/extensions",
        json={
            "number": "101",
            "nickname": "J",
            "concurrent_registrations": "two",
            "enabled": "maybe",
        },
    )
    assert sorted(problems(response)) == [
        "concurrent_registrations: must be a whole number",
        "enabled: must be true or false",
        "nickname: unknown field",
    ]
    assert client.get("/api/v1/extensions/101").status_code == 404


def test_out_of_range_and_malformed_values_are_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/extensions",
        json={
            "number": "1",
            "concurrent_registrations": 9,
            "email": "not-an-email",
            "presence_settings": {"away": {"ring_timeout": 3}},
        },
    )
    assert sorted(problems(response)) == [
        "concurrent_registrations: must be 1..5",
        "email: must be an email address like name@example.com",
        "number: must be 2-8 digits",
        "presence_settings.away.ring_timeout: must be 5..300",
    ]


def test_a_forward_to_a_nonexistent_extension_is_refused(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("extensions: [{number: '101'}]")
    before = check(client.get("/api/v1/extensions/101"))
    response = client.patch(
        "/api/v1/extensions/101",
        json={"presence_settings": {"available": {"internal": {"busy": {"extension": "199"}}}}},
    )
    assert problems(response) == [
        "presence_settings.available.internal.busy: extension 199 does not exist"
    ]
    assert check(client.get("/api/v1/extensions/101")) == before


def test_a_refused_replace_leaves_the_extension_as_it_was(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions:
  - {number: "101", first_name: Jana, presence_settings: {away: {ring_timeout: 20}}}
""")
    before = check(client.get("/api/v1/extensions/101?include_secrets=true"))
    response = client.put(
        "/api/v1/extensions/101",
        json={"first_name": "Eva", "presence_settings": {"away": {"ring_timeout": 301}}},
    )
    assert response.status_code == 422
    assert check(client.get("/api/v1/extensions/101?include_secrets=true")) == before


def test_a_body_that_is_not_json_is_refused_as_malformed(client: TestClient) -> None:
    response = client.post(
        "/api/v1/extensions",
        content=b'{"number": "101",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "body"
    assert response.json()["problems"][0]["rule"].startswith("malformed JSON")


def test_a_body_that_is_not_an_object_is_refused(client: TestClient) -> None:
    assert problems(client.post("/api/v1/extensions", json=["101"])) == ["must be a JSON object"]


def test_a_body_in_another_format_is_refused_as_unsupported(client: TestClient) -> None:
    response = client.post(
        "/api/v1/extensions", content=b"number=101", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
