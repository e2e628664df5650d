"""Hardening: what the API does with input that is too big, too deep or out of range.

Bodies over a route's limit get 413 before they are read (docs/operations.md, "Limits");
documents that nest too deep or expand too far get 422; integers beyond 64 bits in the URL
get 422 naming the parameter; a duplicate gets 409 naming the field; a full disk gets 507.
The body limits are checked against a real server over a socket: the point is what the
server does before it has read the body.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_checks import check, problems
from served import served

from klapka.api.limits import DEFAULT_BODY_LIMIT, DOCUMENT_LIMIT, GREETING_LIMIT, MiB
from klapka.services.pbx import Pbx

BIG = "99999999999999999999"  # beyond 64 bits


# --- a real server ------------------------------------------------------------------------


@pytest.fixture
def server(pbx: Pbx) -> Iterator[tuple[str, int]]:
    with served(pbx) as address:
        yield address


def raw_request(
    address: tuple[str, int], head: str, body_chunks: Iterator[bytes] = iter(())
) -> tuple[int, Any]:
    """Send ``head`` (request line and headers) and as many of ``body_chunks`` as the
    server takes before it answers; the status and the JSON body of the answer.

    The socket waits at most 30 s for the answer: a server that waits for a body it was
    never sent fails the test instead of hanging it."""
    with socket.create_connection(address, timeout=30) as conn:
        conn.sendall(head.encode() + b"\r\n")
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what is read below
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < _expected_length(answer):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ")[1])
    return status, json.loads(body) if body else None


def _expected_length(answer: bytes) -> int:
    head, _, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return 1 << 62  # read until the server closes


def chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes of a JSON string as a chunked body, then its end."""
    yield b'%x\r\n"\r\n' % 1
    sent = 1
    while sent < total:
        chunk = b"x" * min(size, total - sent)
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        sent += len(chunk)
    yield b"0\r\n\r\n"


def assert_too_large(status: int, body: Any, limit: int) -> None:
    assert status == 413, body
    assert body["error"] == "too_large"
    assert body["limit"] == limit
    assert body["problems"] == [
        {"path": "body", "rule": f"at most {limit // MiB} MiB ({limit} bytes)"}
    ]


# --- body size --------------------------------------------------------------------------


def test_a_body_declared_bigger_than_the_limit_is_refused_before_it_is_sent(
    server: tuple[str, int],
) -> None:
    # 400 MB announced, not one byte of it sent: the answer comes anyway.
    status, body = raw_request(
        server,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: pbx\r\nContent-Type: application/json\r\n"
        f"Content-Length: {400 * 1000 * 1000}\r\n",
    )
    assert_too_large(status, body, DEFAULT_BODY_LIMIT)


def test_a_streamed_body_is_stopped_once_it_passes_the_limit(server: tuple[str, int]) -> None:
    status, body = raw_request(
        server,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: pbx\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n",
        chunked(50 * MiB),
    )
    assert_too_large(status, body, DEFAULT_BODY_LIMIT)


@pytest.mark.parametrize(
    ("method", "path", "limit"),
    [
        ("PUT", "/api/v1/config?dry_run=true", DOCUMENT_LIMIT),
        ("POST", "/api/v1/extensions/import", DOCUMENT_LIMIT),
        ("POST", "/api/v1/contacts/import", DOCUMENT_LIMIT),
        ("PUT", "/api/v1/me/voicemail/greetings/default", GREETING_LIMIT),
        ("PUT", "/api/v1/extensions/101/voicemail/greetings/away", GREETING_LIMIT),
        ("PATCH", "/api/v1/extensions/101", DEFAULT_BODY_LIMIT),
    ],
)
def test_documents_and_greetings_have_larger_limits(
    server: tuple[str, int], method: str, path: str, limit: int
) -> None:
    status, body = raw_request(
        server, f"{method} {path} HTTP/1.1\r\nHost: pbx\r\nContent-Length: {limit + 1}\r\n"
    )
    assert_too_large(status, body, limit)


def test_a_greeting_is_checked_as_it_streams(
    server: tuple[str, int], given: Callable[[str], None], admin_token: str
) -> None:
    given("extensions: [{number: '101', first_name: Jana, last_name: Nováková}]")
    status, body = raw_request(
        server,
        "PUT /api/v1/extensions/101/voicemail/greetings/default HTTP/1.1\r\nHost: pbx\r\n"
        f"Authorization: Bearer {admin_token}\r\n"
        "Content-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n",
        chunked(GREETING_LIMIT + MiB),
    )
    assert_too_large(status, body, GREETING_LIMIT)


def test_a_body_within_the_limit_is_read(server: tuple[str, int]) -> None:
    # Unsigned: past the size check, the body is read and sign-in says what is wrong.
    status, body = raw_request(
        server,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: pbx\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n",
        chunked(DEFAULT_BODY_LIMIT - 100),
    )
    assert status == 422, body


def test_a_configuration_document_over_a_mebibyte_is_accepted(client: TestClient) -> None:
    # Over the JSON limit, within the document's: a dry run of a valid document (the
    # padding is a YAML comment).
    document = "version: 1\nextensions: []\n" + ("# padding\n" * (DEFAULT_BODY_LIMIT // 10 + 1))
    response = client.put(
        "/api/v1/config?dry_run=true",
        content=document,
        headers={"Content-Type": "application/yaml"},
    )
    assert check(response)["dry_run"] is True


# --- documents: depth and aliases ----------------------------------------------------------


def test_deeply_nested_json_is_refused(anonymous: TestClient) -> None:
    for deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000):
        response = anonymous.post(
            "/api/v1/auth/login", content=deep, headers={"Content-Type": "application/json"}
        )
        assert problems(response) == ["body: nested at most 64 levels deep"]


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]"
            for i in range(8)
        ),
        "extensions: [{number: '100', first_name: *i}]",
    ]
)


def test_a_yaml_alias_bomb_is_refused(client: TestClient) -> None:
    response = client.put(
        "/api/v1/config?dry_run=true",
        content=BILLION_LAUGHS,
        headers={"Content-Type": "application/yaml"},
    )
    assert problems(response) == ["document: at most 2000000 values with its aliases expanded"]


def test_a_yaml_value_containing_itself_is_refused(client: TestClient) -> None:
    response = client.put(
        "/api/v1/config?dry_run=true",
        content="extensions: &loop [*loop]\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert problems(response) == ["document: an alias must not refer to a value containing it"]


def test_yaml_aliases_within_the_limit_still_work(client: TestClient) -> None:
    document = """
version: 1
extensions:
  - {number: "101", first_name: Jana, last_name: &family Nováková}
  - {number: "102", first_name: Eva, last_name: *family}
"""
    response = client.put(
        "/api/v1/config?dry_run=true",
        content=document,
        headers={"Content-Type": "application/yaml"},
    )
    assert check(response)["summary"]["created"] == 2


# --- integers beyond 64 bits -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/extensions?offset={BIG}",
        f"/api/v1/groups?offset={BIG}",
        f"/api/v1/contacts?offset={BIG}",
        f"/api/v1/phonebooks?offset={BIG}",
        f"/api/v1/audit?offset={BIG}",
        f"/api/v1/me/contacts?offset={BIG}",
        f"/api/v1/contacts/{BIG}",
        f"/api/v1/me/contacts/{BIG}",
        f"DELETE /api/v1/auth/tokens/{BIG}",
        f"DELETE /api/v1/auth/sessions/{BIG}",
        f"/api/v1/me/voicemail/messages/{BIG}",
        f"/api/v1/extensions/101/voicemail/messages/{BIG}",
    ],
)
def test_integers_beyond_64_bits_in_the_url_are_refused(client: TestClient, url: str) -> None:
    method, _, url = url.rpartition(" ")
    response = client.request(method or "GET", url)
    where = "query.offset" if "offset" in url else "path."
    [problem] = problems(response)
    assert problem.startswith(where), problem
    assert problem.endswith("must be less than or equal to 9223372036854775807")


def test_the_largest_offset_is_an_empty_page(client: TestClient) -> None:
    page = check(client.get(f"/api/v1/extensions?offset={2**63 - 1}"))
    assert page["items"] == []


# --- duplicates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/client-permissions", {"name": "Everyone", "target": {"all": True}}),
        ("/api/v1/phonebooks", {"name": "Suppliers"}),
    ],
)
def test_creating_the_same_name_twice_is_a_conflict(
    client: TestClient, url: str, body: dict[str, Any]
) -> None:
    check(client.post(url, json=body), 201)
    again = client.post(url, json=body)
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "conflict"
    assert again.json()["path"] == "name"


# --- a full disk ------------------------------------------------------------------------


def test_a_full_database_is_507_and_changes_nothing(
    pbx: Pbx, client: TestClient, db_backend: str
) -> None:
    if db_backend != "sqlite":
        pytest.skip("fills the disk with SQLite's max_page_count")
    from sqlalchemy import event

    with pbx.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(pbx.engine, "connect", cap)
    pbx.engine.dispose()  # every connection from now on has the cap
    response = None
    for n in range(200):
        response = client.post(
            "/api/v1/extensions",
            json={"number": f"{100 + n}", "first_name": "A" * 60, "last_name": "B" * 60},
        )
        if response.status_code != 201:
            break
    assert response is not None
    assert response.status_code == 507, response.text
    assert response.json()["error"] == "insufficient_storage"
    assert "disk is full" in response.json()["message"]
    assert client.get("/api/v1/health").status_code == 200
