"""The welcome email and the app login it leads to, through the REST API, with a real SMTP
server: the portal link, an app login link with its QR code (attached and inline), a token
that works once and expires, and never the SIP password."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from api_clients import check
from fastapi.testclient import TestClient
from smtp_sink import (
    PORTAL,
    SENDER,
    Mailbox,
    decoded,
    free_port,
    start,
    texts,
    use_mailbox,
)
from typer.testing import CliRunner

from klapka.cli import app as cli_app
from klapka.domain.references import Kind
from klapka.services.audit_log import AuditLog
from klapka.services.directory.objects import Objects
from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx
from klapka.services.welcome import QR_CONTENT_ID, QR_FILENAME, Welcome, qr_png

SIP_PASSWORD = "Sip-Secret-4711x"
PIN = "80357"
LINK = re.compile(re.escape(PORTAL) + r"/app-login#token=([A-Za-z0-9_\-]{40,})")


@pytest.fixture
def jana(pbx: Pbx, mailbox: Mailbox) -> str:
    use_mailbox(pbx, mailbox)
    Objects(pbx).create(
        Kind.EXTENSION,
        {
            "number": "101",
            "first_name": "Jana",
            "last_name": "Nováková",
            "email": "jana@example.com",
            "sip_password": SIP_PASSWORD,
            "voicemail": {"pin": PIN},
        },
    )
    return "101"


def welcome_of(mailbox: Mailbox, address: str) -> EmailMessage:
    [delivery] = mailbox.to(address)
    return delivery.message


def link_in(message: EmailMessage) -> tuple[str, str]:
    match = LINK.search(texts(message)["text/plain"])
    assert match, texts(message)["text/plain"]
    return match.group(0), match.group(1)


def test_the_welcome_email_has_the_portal_link_and_an_app_login_link(
    client: TestClient, mailbox: Mailbox, jana: str
) -> None:
    result = check(client.post("/api/v1/extensions/101/welcome-email"))
    assert result["sent"] is True
    assert result["email"] == "jana@example.com"
    assert result["expires_at"]
    message = welcome_of(mailbox, "jana@example.com")
    assert "101" in message["Subject"]
    plain, html = texts(message)["text/plain"], texts(message)["text/html"]
    assert "Hello Jana Nováková" in plain
    assert f"Web portal: {PORTAL}" in plain
    link, _token = link_in(message)
    assert f'href="{link}"' in html
    assert "works once" in plain


def test_the_qr_code_is_attached_and_shown_inline_and_encodes_the_link(
    client: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions/101/welcome-email"))
    message = welcome_of(mailbox, "jana@example.com")
    link, _token = link_in(message)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == QR_FILENAME
    assert attachment.get_content_type() == "image/png"
    [inline] = [p for p in message.walk() if p["Content-ID"] == f"<{QR_CONTENT_ID}>"]
    assert inline.get_content_type() == "image/png"
    assert f'src="cid:{QR_CONTENT_ID}"' in texts(message)["text/html"]
    png = attachment.get_payload(decode=True)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    # The same picture as the QR code of the link and nothing else.
    assert png == inline.get_payload(decode=True) == qr_png(link)


def test_no_password_or_pin_is_in_the_email_the_link_or_the_qr_code(
    client: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions/101/welcome-email"))
    [delivery] = mailbox.received
    everything = decoded(delivery.message)
    for secret in (SIP_PASSWORD, PIN):
        assert secret not in everything
        assert secret.encode() not in delivery.raw
    link, _token = link_in(delivery.message)
    assert SIP_PASSWORD not in link
    # The QR code holds exactly the link (see above), so it holds no password either.
    assert qr_png(link) in [p.get_payload(decode=True) for p in delivery.message.walk()]


def test_the_app_login_link_signs_an_app_in_once_with_its_sip_account(
    client: TestClient, anonymous: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions/101/welcome-email"))
    _link, token = link_in(welcome_of(mailbox, "jana@example.com"))
    response = anonymous.post("/api/v1/auth/app-login", json={"token": token})
    login = check(response)
    assert response.headers["cache-control"] == "no-store"
    assert login == {
        "extension": "101",
        "display_name": "Jana Nováková",
        "email": "jana@example.com",
        "portal_url": PORTAL,
        "sip": {
            "username": "101",
            "password": SIP_PASSWORD,
            "domain": login["sip"]["domain"],
            "server": "pbx.example.com",
            "port": login["sip"]["port"],
            "transport": "udp",
        },
    }
    assert login["sip"]["domain"]
    again = anonymous.post("/api/v1/auth/app-login", json={"token": token})
    assert again.status_code == 401
    assert again.json()["error"] == "unauthorized"
    assert "already used or expired" in again.json()["message"]


def test_an_app_login_link_expires(
    pbx: Pbx, anonymous: TestClient, mailbox: Mailbox, jana: str
) -> None:
    Welcome(pbx, ttl=timedelta(seconds=-1)).send("101")
    _link, token = link_in(welcome_of(mailbox, "jana@example.com"))
    assert anonymous.post("/api/v1/auth/app-login", json={"token": token}).status_code == 401


def test_a_new_welcome_email_makes_the_previous_link_useless(
    client: TestClient, anonymous: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions/101/welcome-email"))
    check(client.post("/api/v1/extensions/101/welcome-email"))
    first, second = (link_in(d.message)[1] for d in mailbox.to("jana@example.com"))
    assert anonymous.post("/api/v1/auth/app-login", json={"token": first}).status_code == 401
    check(anonymous.post("/api/v1/auth/app-login", json={"token": second}))


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 42}, []])
def test_the_app_login_needs_a_token(anonymous: TestClient, body: object) -> None:
    assert anonymous.post("/api/v1/auth/app-login", json=body).status_code == 422


def test_an_unknown_app_login_token_is_refused(anonymous: TestClient) -> None:
    response = anonymous.post("/api/v1/auth/app-login", json={"token": "guessed"})
    assert response.status_code == 401


def test_the_app_login_of_a_disabled_extension_is_refused(
    pbx: Pbx, client: TestClient, anonymous: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions/101/welcome-email"))
    _link, token = link_in(welcome_of(mailbox, "jana@example.com"))
    check(client.patch("/api/v1/extensions/101", json={"enabled": False}))
    response = anonymous.post("/api/v1/auth/app-login", json={"token": token})
    assert response.status_code == 401  # disabling voided the link (docs/accounts.md)
    assert SIP_PASSWORD not in response.text


def test_an_extension_without_the_apps_gets_only_the_portal_link(
    client: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(
        client.patch(
            "/api/v1/extensions/101",
            json={"clients": {"mobile_client": False, "desktop_client": False}},
        )
    )
    result = check(client.post("/api/v1/extensions/101/welcome-email"))
    assert result["expires_at"] is None
    message = welcome_of(mailbox, "jana@example.com")
    assert PORTAL in texts(message)["text/plain"]
    assert "app-login" not in decoded(message)
    assert list(message.iter_attachments()) == []


def test_welcoming_an_extension_without_email_is_a_conflict(
    client: TestClient, mailbox: Mailbox, pbx: Pbx
) -> None:
    use_mailbox(pbx, mailbox)
    check(client.post("/api/v1/extensions", json={"number": "102"}), 201)
    response = client.post("/api/v1/extensions/102/welcome-email")
    assert response.status_code == 409
    assert response.json()["path"] == "email"
    assert "no email address" in response.json()["message"]
    assert client.post("/api/v1/extensions/999/welcome-email").status_code == 404
    assert mailbox.received == []


def test_welcoming_without_smtp_settings_is_a_conflict(client: TestClient) -> None:
    check(client.post("/api/v1/extensions", json={"number": "101", "email": "a@example.com"}), 201)
    response = client.post("/api/v1/extensions/101/welcome-email")
    assert response.status_code == 409
    assert "system.smtp.host" in response.json()["message"]
    bulk = client.post("/api/v1/extensions/welcome-email", json={"all": True})
    assert bulk.status_code == 409


# --- many at once ------------------------------------------------------------------------


def test_bulk_welcome_reports_each_extension_no_email_included(
    client: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions", json={"number": "102"}), 201)
    check(
        client.post(
            "/api/v1/extensions",
            json={"number": "103", "email": "off@example.com", "enabled": False},
        ),
        201,
    )
    check(client.post("/api/v1/extensions", json={"number": "104", "email": "p@example.com"}), 201)
    result = check(client.post("/api/v1/extensions/welcome-email", json={"all": True}))
    assert result["sent"] == 2
    assert result["failed"] == 2
    by_number = {r["number"]: r for r in result["results"]}
    assert list(by_number) == ["101", "102", "103", "104"]
    assert by_number["101"]["sent"] and by_number["104"]["sent"]
    assert by_number["102"] == {
        "number": "102",
        "sent": False,
        "email": None,
        "error": "no email",
        "expires_at": None,
    }
    assert by_number["103"]["error"] == "disabled"
    assert {d.rcpt_tos[0] for d in mailbox.received} == {"jana@example.com", "p@example.com"}


def test_bulk_welcome_of_named_extensions_reports_unknown_ones_and_refusals(
    client: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions", json={"number": "104", "email": "p@example.com"}), 201)
    mailbox.refuse.add("p@example.com")
    result = check(
        client.post("/api/v1/extensions/welcome-email", json={"numbers": ["101", "104", "999"]})
    )
    errors = {r["number"]: r["error"] for r in result["results"]}
    assert errors["101"] is None
    assert "refused the recipient p@example.com" in errors["104"]
    assert errors["999"] == "does not exist"
    assert result["sent"] == 1


@pytest.mark.parametrize(
    "body", [{}, {"numbers": ["101"], "all": True}, {"all": False}, {"numbers": ["x"]}]
)
def test_bulk_welcome_needs_numbers_or_all(client: TestClient, body: object) -> None:
    assert client.post("/api/v1/extensions/welcome-email", json=body).status_code == 422


def test_every_welcome_email_and_app_login_is_in_the_audit_log(
    pbx: Pbx, client: TestClient, anonymous: TestClient, mailbox: Mailbox, jana: str
) -> None:
    check(client.post("/api/v1/extensions/101/welcome-email"))
    _link, token = link_in(welcome_of(mailbox, "jana@example.com"))
    check(anonymous.post("/api/v1/auth/app-login", json={"token": token}))
    [sent] = AuditLog(pbx).list(action="welcome_email").items
    assert sent["key"] == "101"
    assert sent["actor"] == "token admin"
    assert {"path": "to", "before": None, "after": "jana@example.com"} in sent["changes"]
    [login] = AuditLog(pbx).list(action="app_login").items
    assert login["actor_extension"] == "101"
    assert login["source_ip"] == "testclient"
    assert token not in str(AuditLog(pbx).list(limit=500).items)


# --- the command line ---------------------------------------------------------------------


def test_the_cli_sends_welcome_emails_and_reports_each(
    pbx: Pbx, mailbox: Mailbox, jana: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLAPKA_DATABASE_URL", database_url)
    Objects(pbx).create(Kind.EXTENSION, {"number": "102"})
    runner = CliRunner()
    result = runner.invoke(cli_app, ["extensions", "welcome", "101"])
    assert result.exit_code == 0, result.output
    assert "101: sent to jana@example.com" in result.stdout
    result = runner.invoke(cli_app, ["extensions", "welcome", "--all"])
    assert result.exit_code == 1
    assert "102: not sent: no email" in result.stderr
    assert "1 of 2 welcome email(s) sent." in result.stdout
    assert len(mailbox.to("jana@example.com")) == 2
    result = runner.invoke(cli_app, ["extensions", "welcome"])
    assert result.exit_code == 2
    assert "--all" in result.stderr


# --- when the SMTP server cannot be used --------------------------------------------------


def closed_smtp_port(pbx: Pbx) -> int:
    """Point the SMTP settings at a port where nothing listens; returns the port."""
    port = free_port()
    SystemSettings(pbx).patch(
        {
            "portal_url": PORTAL,
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "from_address": SENDER},
        }
    )
    return port


def test_the_cli_reports_each_extension_when_the_smtp_server_is_down(
    pbx: Pbx, mailbox: Mailbox, jana: str, database_url: str, tmp_path: Path
) -> None:
    Objects(pbx).create(Kind.EXTENSION, {"number": "102"})
    Objects(pbx).create(Kind.EXTENSION, {"number": "103", "email": "petr@example.com"})
    port = closed_smtp_port(pbx)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAPKA_")}
    env |= {"KLAPKA_DATABASE_URL": database_url, "KLAPKA_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "klapka.cli", "extensions", "welcome", "101", "102", "103", "999"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    refused = f"not sent: cannot connect to the SMTP server 127.0.0.1:{port} (connection refused)"
    assert run.stderr.splitlines() == [
        f"101: {refused}",
        "102: not sent: no email",
        f"103: {refused}",
        "999: not sent: does not exist",
    ]
    assert run.stdout == "0 of 4 welcome email(s) sent.\n"
    assert mailbox.received == []
    assert AuditLog(pbx).list(action="welcome_email").items == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_cli_reports_a_refused_smtp_login_for_each_extension(
    pbx: Pbx, jana: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLAPKA_DATABASE_URL", database_url)
    box = Mailbox()
    controller = start(box, password="right-one")
    try:
        use_mailbox(pbx, box, username="pbx", password="wrong-one")
        result = CliRunner().invoke(cli_app, ["extensions", "welcome", "--all"])
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(
        f"101: not sent: the SMTP server 127.0.0.1:{box.port} refused the login of pbx: 535"
    )
    assert "wrong-one" not in result.output
    assert "0 of 1 welcome email(s) sent." in result.stdout
    assert box.received == []


def test_the_api_answers_502_with_the_reason_when_the_smtp_server_is_down(
    client: TestClient, pbx: Pbx, jana: str
) -> None:
    port = closed_smtp_port(pbx)
    reason = f"cannot connect to the SMTP server 127.0.0.1:{port} (connection refused)"
    response = client.post("/api/v1/extensions/101/welcome-email")
    assert response.status_code == 502
    assert response.json() == {"error": "mail_failed", "message": reason}
    bulk = check(client.post("/api/v1/extensions/welcome-email", json={"all": True}))
    assert bulk["results"] == [
        {"number": "101", "sent": False, "email": "jana@example.com", "error": reason,
         "expires_at": None}
    ]  # fmt: skip
