"""Secrets never leave through logs, the audit log, exports or the database's plain columns.

One test walks every flow that handles a secret (sign-in, a wrong password, lockout, a
password change and reset, two-factor enrolment and recovery, personal tokens, a voicemail
PIN) while capturing every log record, then greps what was produced for each secret.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from accounts_world import API, EMAILS, PASSWORDS, Clock, Inbox, check
from fastapi.testclient import TestClient
from sqlalchemy import select

from klapka.services.accounts import totp
from klapka.services.pbx import Pbx
from klapka.store import tables as t

NEW_PASSWORD = "Stribrny-Potok-88"
RESET_PASSWORD = "Zlaty-Klic-Brana-5"
WRONG_PASSWORD = "Spatne-Heslo-Jednou-7"
PIN = "80417263"
# Columns whose job is to hold a secret (hashed where it can be): not searched.
SECRET_COLUMNS = {("extensions", "secrets"), ("two_factor", "secret")}


def login(client: TestClient, number: str, password: str) -> Any:
    return client.post(f"{API}/auth/login", json={"email": EMAILS[number], "password": password})


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy's own debug echo shows bound parameters by design; klapka never enables it.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    return caplog


def test_no_secret_reaches_a_log_the_audit_log_an_export_or_a_plain_column(
    app: Any,
    pbx: Pbx,
    admin: TestClient,
    anonymous: TestClient,
    people: None,
    inbox: Inbox,
    clock: Clock,
    logs: pytest.LogCaptureFixture,
) -> None:
    secrets: dict[str, str] = {
        "password": PASSWORDS["101"],
        "new password": NEW_PASSWORD,
        "reset password": RESET_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "pin": PIN,
    }
    # A wrong password, then a lockout of another account.
    assert login(anonymous, "101", WRONG_PASSWORD).status_code == 401
    for _ in range(5):
        login(anonymous, "102", WRONG_PASSWORD)
    # Signing in; the session cookie and the CSRF token are secrets too.
    answer = check(login(anonymous, "101", PASSWORDS["101"]))
    jana = anonymous
    jana.headers["X-CSRF-Token"] = answer["csrf_token"]
    secrets["session"] = jana.cookies["klapka_session"]
    secrets["csrf token"] = answer["csrf_token"]
    # A voicemail PIN, a personal token.
    check(jana.patch(f"{API}/me/voicemail", json={"pin": PIN}))
    made = check(jana.post(f"{API}/auth/tokens", json={"name": "crm"}), 201)
    secrets["personal token"] = made["token"]
    with TestClient(app, headers={"Authorization": f"Bearer {made['token']}"}) as script:
        check(script.get(f"{API}/me"))
    # Two-factor: the secret and the recovery codes.
    started = check(jana.post(f"{API}/auth/two-factor/enrolment"))
    secrets["totp secret"] = started["secret"]
    codes = check(
        jana.post(
            f"{API}/auth/two-factor/enrolment/confirm",
            json={"code": totp.code_at(started["secret"], clock())},
        )
    )["recovery_codes"]
    secrets |= {f"recovery code {i}": c for i, c in enumerate(codes)}
    with TestClient(app) as browser:
        challenge = check(login(browser, "101", PASSWORDS["101"]))["challenge"]
        secrets["challenge"] = challenge
        check(
            browser.post(
                f"{API}/auth/login/second-factor", json={"challenge": challenge, "code": codes[0]}
            )
        )
    # Changing the password, then resetting it by email.
    check(
        jana.post(
            f"{API}/auth/password",
            json={"current_password": PASSWORDS["101"], "new_password": NEW_PASSWORD},
        ),
        204,
    )
    check(anonymous.post(f"{API}/auth/password-reset", json={"email": EMAILS["101"]}), 202)
    text = "".join(Inbox.text(m) for m in inbox.wait_for(2) if "Reset" in str(m["Subject"]))
    match = re.search(r"#token=([A-Za-z0-9_\-]+)", text)
    assert match, text
    secrets["reset token"] = match.group(1)
    check(
        anonymous.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": match.group(1), "new_password": RESET_PASSWORD},
        ),
        204,
    )

    produced = {
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in logs.records),
        "audit log": json.dumps(check(admin.get(f"{API}/audit", params={"limit": 500}))),
        "export": json.dumps(check(admin.get(f"{API}/config"))),
        "extension": json.dumps(check(admin.get(f"{API}/extensions/101"))),
        "database": database_text(pbx),
    }
    assert "lockout" in produced["audit log"] and "sign_in" in produced["audit log"]
    assert logs.records, "the flows should have logged something"
    leaks = [
        f"{what} in the {where}"
        for what, secret in secrets.items()
        for where, text in produced.items()
        if secret in text
    ]
    assert not leaks, leaks


def database_text(pbx: Pbx) -> str:
    """Every value of every table, but the columns meant for secrets."""
    parts = []
    with pbx.tx() as repo:
        for table in t.metadata.sorted_tables:
            columns = [c for c in table.c if (table.name, c.name) not in SECRET_COLUMNS]
            for row in repo.conn.execute(select(*columns)):
                parts.append(json.dumps([str(v) for v in row]))
    return "\n".join(parts)
