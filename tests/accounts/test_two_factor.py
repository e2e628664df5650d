"""Two-factor authentication with TOTP (RFC 6238): enrol, sign in, recovery codes, reset."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from accounts_world import API, EMAILS, PASSWORDS, Clock, check, problems
from fastapi.testclient import TestClient

from klapka.services.accounts import totp


def test_totp_matches_the_rfc_6238_test_vectors() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    for unix, code in (
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ):
        at = datetime.fromtimestamp(unix, UTC)
        assert totp.hotp(secret, totp.step_at(at), digits=8) == code


def test_a_code_from_the_step_before_or_after_is_accepted_but_not_two_steps_away() -> None:
    secret = totp.new_secret()
    now = datetime(2027, 3, 1, 10, 0, 15, tzinfo=UTC)
    step = totp.step_at(now)
    for delta, ok in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = totp.hotp(secret, step + delta)
        assert (totp.matching_step(secret, code, now) is not None) is ok, delta


def enrol(client: TestClient, clock: Clock) -> tuple[str, list[str]]:
    started = check(client.post(f"{API}/auth/two-factor/enrolment"))
    secret = started["secret"]
    assert started["otpauth_uri"].startswith("otpauth://totp/klapka:")
    assert f"secret={secret}" in started["otpauth_uri"]
    assert base64.b64decode(started["qr_code_png"]).startswith(b"\x89PNG")
    codes = check(
        client.post(
            f"{API}/auth/two-factor/enrolment/confirm",
            json={"code": totp.code_at(secret, clock())},
        )
    )["recovery_codes"]
    return secret, codes


def password_step(client: TestClient, number: str = "101") -> dict[str, Any]:
    return check(
        client.post(
            f"{API}/auth/login", json={"email": EMAILS[number], "password": PASSWORDS[number]}
        )
    )


def second_step(client: TestClient, challenge: str, code: str) -> Any:
    return client.post(
        f"{API}/auth/login/second-factor", json={"challenge": challenge, "code": code}
    )


def test_a_user_enrols_and_then_signs_in_with_a_code(
    jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    secret, codes = enrol(jana, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert check(jana.get(f"{API}/auth/two-factor")) == {
        "enrolled": True,
        "enrolling": False,
        "required": False,
        "recovery_codes_left": 10,
    }
    first = password_step(anonymous)
    assert first["status"] == "second_factor_required"
    assert first["methods"] == ["totp", "recovery_code"]
    assert "extension" not in first or first["extension"] is None
    assert "klapka_session" not in anonymous.cookies
    clock.advance(seconds=30)
    answer = check(second_step(anonymous, first["challenge"], totp.code_at(secret, clock())))
    assert answer["status"] == "signed_in"
    assert check(anonymous.get(f"{API}/auth/session"))["extension"] == "101"


def test_the_qr_code_of_the_enrolment_is_a_png(jana: TestClient) -> None:
    assert jana.get(f"{API}/auth/two-factor/enrolment/qr.png").status_code == 404
    check(jana.post(f"{API}/auth/two-factor/enrolment"))
    response = jana.get(f"{API}/auth/two-factor/enrolment/qr.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_enrolment_needs_a_matching_code(jana: TestClient) -> None:
    check(jana.post(f"{API}/auth/two-factor/enrolment"))
    assert problems(
        jana.post(f"{API}/auth/two-factor/enrolment/confirm", json={"code": "000000"})
    ) == ["code: does not match: type the 6 digits the app shows now"]
    assert check(jana.get(f"{API}/auth/two-factor"))["enrolled"] is False


def test_a_code_works_only_once(jana: TestClient, anonymous: TestClient, clock: Clock) -> None:
    secret, _ = enrol(jana, clock)
    clock.advance(seconds=30)
    code = totp.code_at(secret, clock())
    check(second_step(anonymous, password_step(anonymous)["challenge"], code))
    replay = second_step(anonymous, password_step(anonymous)["challenge"], code)
    assert replay.status_code == 401
    assert replay.json()["message"] == "the code is wrong"


def test_a_recovery_code_signs_in_once(
    jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    _, codes = enrol(jana, clock)
    challenge = password_step(anonymous)["challenge"]
    check(second_step(anonymous, challenge, codes[3].upper().replace("-", " ")))
    assert check(jana.get(f"{API}/auth/two-factor"))["recovery_codes_left"] == 9
    again = second_step(anonymous, password_step(anonymous)["challenge"], codes[3])
    assert again.status_code == 401


def test_a_challenge_expires_and_dies_after_five_wrong_codes(
    jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    secret, _ = enrol(jana, clock)
    challenge = password_step(anonymous)["challenge"]
    clock.advance(minutes=6)
    expired = second_step(anonymous, challenge, totp.code_at(secret, clock()))
    assert expired.json()["message"] == "the sign-in is unknown or has expired: sign in again"
    clock.advance(seconds=30)
    challenge = password_step(anonymous)["challenge"]
    for _ in range(5):
        assert second_step(anonymous, challenge, "123456").status_code == 401
    dead = second_step(anonymous, challenge, totp.code_at(secret, clock()))
    assert dead.json()["message"] == "the sign-in is unknown or has expired: sign in again"


def test_disabling_needs_the_password(
    jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    enrol(jana, clock)
    assert problems(jana.post(f"{API}/auth/two-factor/disable", json={"password": "nope"})) == [
        "password: is not your current password"
    ]
    check(jana.post(f"{API}/auth/two-factor/disable", json={"password": PASSWORDS["101"]}), 204)
    assert password_step(anonymous)["status"] == "signed_in"


def test_new_recovery_codes_replace_the_old_ones(
    jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    _, old = enrol(jana, clock)
    new = check(
        jana.post(f"{API}/auth/two-factor/recovery-codes", json={"password": PASSWORDS["101"]})
    )["recovery_codes"]
    assert set(new).isdisjoint(old)
    assert second_step(anonymous, password_step(anonymous)["challenge"], old[0]).status_code == 401
    check(second_step(anonymous, password_step(anonymous)["challenge"], new[0]))


def test_enrolling_twice_is_a_conflict(jana: TestClient, clock: Clock) -> None:
    enrol(jana, clock)
    assert jana.post(f"{API}/auth/two-factor/enrolment").status_code == 409


def test_an_admin_resets_a_users_two_factor(
    admin: TestClient, jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    enrol(jana, clock)
    assert check(admin.get(f"{API}/extensions/101/account"))["two_factor"]["enrolled"] is True
    status = check(admin.delete(f"{API}/extensions/101/two-factor"))
    assert status["enrolled"] is False
    assert password_step(anonymous)["status"] == "signed_in"


@pytest.mark.parametrize(
    "requirement",
    [
        "system: {sign_in: {require_2fa: true}}",
        'groups: [{name: Finance, members: ["101"], require_2fa: true}]',
        'extensions: [{number: "109", email: x@example.com}]',  # and 101's security below
    ],
)
def test_a_user_required_to_use_two_factor_must_enrol_before_anything_else(
    admin: TestClient,
    anonymous: TestClient,
    people: None,
    given: Callable[[str], None],
    clock: Clock,
    requirement: str,
) -> None:
    given(requirement)
    if "109" in requirement:
        check(admin.patch(f"{API}/extensions/101/security", json={"require_2fa": True}))
    first = password_step(anonymous)
    assert first["status"] == "enrolment_required"
    anonymous.headers["X-CSRF-Token"] = first["csrf_token"]
    refused = anonymous.get(f"{API}/me")
    assert refused.status_code == 403
    assert "enrol first" in refused.json()["message"]
    assert check(anonymous.get(f"{API}/auth/session"))["state"] == "enrolment"
    assert check(anonymous.get(f"{API}/auth/two-factor"))["required"] is True
    secret, _ = enrol(anonymous, clock)
    # Enrolled: the same session is now a full one.
    assert check(anonymous.get(f"{API}/me"))["number"] == "101"
    # And it cannot be turned off while required.
    response = anonymous.post(f"{API}/auth/two-factor/disable", json={"password": PASSWORDS["101"]})
    assert response.status_code == 403
    assert secret


def test_an_admin_who_must_enrol_has_no_admin_rights_until_then(
    admin: TestClient, anonymous: TestClient, people: None
) -> None:
    check(admin.patch(f"{API}/system", json={"sign_in": {"require_2fa": True}}))
    first = password_step(anonymous, "100")
    assert first["status"] == "enrolment_required"
    anonymous.headers["X-CSRF-Token"] = first["csrf_token"]
    assert anonymous.get(f"{API}/system").status_code == 403
    assert anonymous.get(f"{API}/extensions").status_code == 403


def test_signing_in_with_two_factor_is_audited_without_the_code(
    admin: TestClient, jana: TestClient, anonymous: TestClient, clock: Clock
) -> None:
    secret, _ = enrol(jana, clock)
    clock.advance(seconds=30)
    code = totp.code_at(secret, clock())
    check(second_step(anonymous, password_step(anonymous)["challenge"], code))
    log = check(admin.get(f"{API}/audit", params={"action": "sign_in"}))
    assert any(e["changes"] and "totp" in str(e["changes"]) for e in log["items"])
    assert code not in str(log) and secret not in str(log)
