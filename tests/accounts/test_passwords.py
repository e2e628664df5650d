"""Changing the password with the old one; resetting it through an emailed link."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from accounts_world import API, EMAILS, PASSWORDS, Clock, Inbox, SignedIn, check, problems
from fastapi.testclient import TestClient

NEW = "Stribrny-Potok-88"


def can_sign_in(client: TestClient, number: str, password: str) -> bool:
    response = client.post(
        f"{API}/auth/login", json={"email": EMAILS[number], "password": password}
    )
    return response.status_code == 200


def change(client: TestClient, current: str, new: str) -> Any:
    return client.post(
        f"{API}/auth/password", json={"current_password": current, "new_password": new}
    )


def test_a_user_changes_their_password_with_the_current_one(
    jana: TestClient, anonymous: TestClient
) -> None:
    check(change(jana, PASSWORDS["101"], NEW), 204)
    assert can_sign_in(anonymous, "101", NEW)
    assert not can_sign_in(anonymous, "101", PASSWORDS["101"])


def test_a_wrong_current_password_is_refused_by_name(jana: TestClient) -> None:
    assert problems(change(jana, "Not-The-Pass-1", NEW)) == [
        "current_password: is not your current password"
    ]


@pytest.mark.parametrize(
    ("new", "rule"),
    [
        ("Short1a", "must be 10-63 characters"),
        ("alllowercase123", "must contain digits, upper-case and lower-case letters"),
        ("Extension-101-x", "must not contain the extension number"),
        ("Jana-Heslo-2027", "must not contain the user's name"),
        ("Novakova-99-X", None),  # the name as written (Nováková) is not in it: allowed
    ],
)
def test_the_password_policy_names_the_field_and_the_rule(
    jana: TestClient, new: str, rule: str | None
) -> None:
    response = change(jana, PASSWORDS["101"], new)
    if rule is None:
        check(response, 204)
    else:
        assert problems(response) == [f"new_password: {rule}"]


def test_the_new_password_must_differ_from_the_current_one(jana: TestClient) -> None:
    assert problems(change(jana, PASSWORDS["101"], PASSWORDS["101"])) == [
        "new_password: must differ from the current password"
    ]


def test_changing_the_password_signs_out_every_other_browser(
    sign_in: Callable[..., SignedIn],
) -> None:
    laptop, phone = sign_in("101"), sign_in("101")
    check(change(laptop.client, PASSWORDS["101"], NEW), 204)
    assert laptop.client.get(f"{API}/auth/session").status_code == 200
    assert phone.client.get(f"{API}/auth/session").status_code == 401


def test_a_changed_password_is_announced_by_email(jana: TestClient, inbox: Inbox) -> None:
    check(change(jana, PASSWORDS["101"], NEW), 204)
    [msg] = inbox.wait_for(1)
    assert msg["To"] == "jana@example.com"
    assert msg["Subject"] == "Your klapka password was changed"
    text = inbox.text(msg)
    assert "Jana Nováková" in text
    assert NEW not in text and PASSWORDS["101"] not in text


def test_no_email_when_the_user_turned_the_notice_off(
    admin: TestClient, jana: TestClient, inbox: Inbox
) -> None:
    check(admin.patch(f"{API}/extensions/101/features", json={"notify_password_change": False}))
    check(change(jana, PASSWORDS["101"], NEW), 204)
    assert inbox.wait_for(1, seconds=0.5) == []


def test_without_email_set_up_the_password_still_changes(
    jana: TestClient, anonymous: TestClient
) -> None:
    check(change(jana, PASSWORDS["101"], NEW), 204)
    assert can_sign_in(anonymous, "101", NEW)


# --- reset ------------------------------------------------------------------------------


def reset_token(inbox: Inbox, count: int = 1) -> str:
    messages = inbox.wait_for(count)
    assert len(messages) == count
    text = inbox.text(messages[-1])
    match = re.search(r"/reset-password#token=([A-Za-z0-9_\-]+)", text)
    assert match, text
    return match.group(1)


def ask_reset(client: TestClient, email: str) -> Any:
    return client.post(f"{API}/auth/password-reset", json={"email": email})


def confirm(client: TestClient, token: str, new: str = NEW) -> Any:
    return client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": new}
    )


def test_a_reset_link_arrives_by_email_and_sets_a_new_password(
    anonymous: TestClient, people: None, inbox: Inbox
) -> None:
    answer = check(ask_reset(anonymous, "Jana@example.com"), 202)
    assert "if an account has this email" in answer["message"]
    [msg] = inbox.wait_for(1)
    assert msg["To"] == "jana@example.com"
    assert msg["Subject"] == "Reset your klapka password"
    assert "http://127.0.0.1:8080/reset-password#token=" in inbox.text(msg)
    token = reset_token(inbox)
    check(confirm(anonymous, token), 204)
    assert can_sign_in(anonymous, "101", NEW)
    # The password-changed notice follows.
    assert inbox.wait_for(2)[-1]["Subject"] == "Your klapka password was changed"


def test_an_unknown_email_gets_the_same_answer_and_no_email(
    anonymous: TestClient, people: None, inbox: Inbox
) -> None:
    known = ask_reset(anonymous, "jana@example.com")
    unknown = ask_reset(anonymous, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(inbox.wait_for(2, seconds=0.5)) == 1


def test_a_reset_link_works_once(anonymous: TestClient, people: None, inbox: Inbox) -> None:
    check(ask_reset(anonymous, "jana@example.com"), 202)
    token = reset_token(inbox)
    check(confirm(anonymous, token), 204)
    assert problems(confirm(anonymous, token, "Jine-Heslo-Uplne-7")) == [
        "token: is unknown, used or expired: ask for a new link"
    ]


def test_a_reset_link_expires_after_an_hour(
    anonymous: TestClient, people: None, inbox: Inbox, clock: Clock
) -> None:
    check(ask_reset(anonymous, "jana@example.com"), 202)
    token = reset_token(inbox)
    clock.advance(minutes=61)
    assert problems(confirm(anonymous, token)) == [
        "token: is unknown, used or expired: ask for a new link"
    ]


def test_a_password_that_breaks_the_policy_leaves_the_link_usable(
    anonymous: TestClient, people: None, inbox: Inbox
) -> None:
    check(ask_reset(anonymous, "jana@example.com"), 202)
    token = reset_token(inbox)
    assert problems(confirm(anonymous, token, "short")) == [
        "new_password: must be 10-63 characters"
    ]
    check(confirm(anonymous, token), 204)


def test_a_reset_signs_the_user_out_everywhere_and_voids_older_links(
    anonymous: TestClient, sign_in: Callable[..., SignedIn], inbox: Inbox
) -> None:
    session = sign_in("101")
    check(ask_reset(anonymous, "jana@example.com"), 202)
    first = reset_token(inbox, 1)
    check(ask_reset(anonymous, "jana@example.com"), 202)
    second = reset_token(inbox, 2)
    check(confirm(anonymous, second), 204)
    assert session.client.get(f"{API}/auth/session").status_code == 401
    assert confirm(anonymous, first, "Jine-Heslo-Uplne-7").status_code == 422


def test_at_most_three_reset_emails_an_hour_per_account(
    anonymous: TestClient, people: None, inbox: Inbox, clock: Clock
) -> None:
    for _ in range(5):
        check(ask_reset(anonymous, "jana@example.com"), 202)
    assert len(inbox.wait_for(5, seconds=1)) == 3
    clock.advance(minutes=61)
    check(ask_reset(anonymous, "jana@example.com"), 202)
    assert len(inbox.wait_for(4)) == 4


def test_a_user_without_a_password_sets_their_first_one_through_a_reset(
    anonymous: TestClient, given: Callable[[str], None], inbox: Inbox
) -> None:
    given('extensions: [{number: "105", first_name: Eva, email: eva@example.com}]')
    check(ask_reset(anonymous, "eva@example.com"), 202)
    check(confirm(anonymous, reset_token(inbox)), 204)
    response = anonymous.post(
        f"{API}/auth/login", json={"email": "eva@example.com", "password": NEW}
    )
    assert check(response)["extension"] == "105"


def test_the_reset_token_path_works_without_email(
    pbx: Any, anonymous: TestClient, people: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no SMTP server, the token is made all the same (what the email would carry)."""
    from klapka.services.accounts import user_passwords

    sent: list[str] = []
    monkeypatch.setattr(
        user_passwords, "send_notice", lambda _pbx, to, subject, text: sent.append(text) or True
    )
    check(ask_reset(anonymous, "jana@example.com"), 202)
    token = re.search(r"#token=(\S+)", sent[0])
    assert token
    check(confirm(anonymous, token.group(1)), 204)
    assert can_sign_in(anonymous, "101", NEW)
