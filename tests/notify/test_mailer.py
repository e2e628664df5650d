"""Email through the SMTP server of the system settings, checked against a real SMTP server:
what arrives is parsed as a mail client would."""

from __future__ import annotations

import socket

import pytest
from api_clients import check
from fastapi.testclient import TestClient
from smtp_sink import SENDER, Mailbox, decoded, free_port, start, texts, use_mailbox

from klapka.notify.email import Mailer, MailFailed, MailNotConfigured
from klapka.services.audit_log import AuditLog
from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx

PNG = b"\x89PNG\r\n\x1a\nnot really an image"


def test_without_an_smtp_host_or_sender_no_email_can_be_sent(pbx: Pbx) -> None:
    with pytest.raises(MailNotConfigured, match=r"system\.smtp\.host"):
        Mailer(pbx).send("jana@example.com", "Hi", "text")
    SystemSettings(pbx).patch({"smtp": {"host": "127.0.0.1"}})
    with pytest.raises(MailNotConfigured):
        Mailer(pbx).send("jana@example.com", "Hi", "text")


def test_a_message_arrives_with_text_html_inline_image_and_attachment(
    pbx: Pbx, mailbox: Mailbox
) -> None:
    use_mailbox(pbx, mailbox)
    Mailer(pbx).send(
        "jana@example.com",
        "Příliš žluťoučký kůň",
        "Plain text.\n",
        '<p>HTML <img src="cid:logo"></p>',
        attachments=[("report.pdf", b"%PDF-1.4 data", "application/pdf")],
        inline=[("logo", PNG, "image/png")],
    )
    [delivery] = mailbox.received
    assert delivery.mail_from == SENDER
    assert delivery.rcpt_tos == ["jana@example.com"]
    message = delivery.message
    assert message["Subject"] == "Příliš žluťoučký kůň"
    assert message["From"] == SENDER
    assert message["To"] == "jana@example.com"
    assert message["Message-ID"]
    assert texts(message)["text/plain"] == "Plain text.\n"
    assert '<p>HTML <img src="cid:logo"></p>' in texts(message)["text/html"]
    [inline] = [p for p in message.walk() if p["Content-ID"] == "<logo>"]
    assert inline.get_content_type() == "image/png"
    assert inline.get_payload(decode=True) == PNG
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_payload(decode=True) == b"%PDF-1.4 data"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_mailer_logs_in_with_the_stored_user_name_and_password(pbx: Pbx) -> None:
    box = Mailbox()
    controller = start(box, password="s3cret-smtp")
    try:
        use_mailbox(pbx, box, username="pbx", password="s3cret-smtp")
        Mailer(pbx).send("jana@example.com", "Hi", "text")
        assert box.logins == [("pbx", "s3cret-smtp")]
        assert len(box.received) == 1
        SystemSettings(pbx).patch({"smtp": {"password": "wrong"}})
        with pytest.raises(MailFailed, match="refused the login of pbx") as refused:
            Mailer(pbx).send("jana@example.com", "Hi", "text")
        assert "wrong" not in str(refused.value)
    finally:
        controller.stop()


def test_a_refused_recipient_is_a_mail_failure_naming_it(pbx: Pbx, mailbox: Mailbox) -> None:
    use_mailbox(pbx, mailbox)
    mailbox.refuse.add("nobody@example.com")
    with pytest.raises(MailFailed, match=r"refused the recipient nobody@example\.com"):
        Mailer(pbx).send("nobody@example.com", "Hi", "text")
    assert mailbox.received == []


def test_an_unreachable_server_is_a_mail_failure_naming_it(pbx: Pbx) -> None:
    port = free_port()  # nobody listens there
    SystemSettings(pbx).patch(
        {"smtp": {"host": "127.0.0.1", "port": port, "security": "none", "from_address": SENDER}}
    )
    with pytest.raises(MailFailed) as failed:
        Mailer(pbx).send("jana@example.com", "Hi", "text")
    assert str(failed.value) == (
        f"cannot connect to the SMTP server 127.0.0.1:{port} (connection refused)"
    )


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_a_server_that_never_answers_is_a_mail_failure_saying_so(pbx: Pbx, security: str) -> None:
    with socket.socket() as silent:  # takes connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        SystemSettings(pbx).patch(
            {
                "smtp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": security,
                    "from_address": SENDER,
                }
            }
        )
        with pytest.raises(MailFailed) as failed:
            Mailer(pbx, timeout=0.2).send("jana@example.com", "Hi", "text")
    assert str(failed.value) == (
        f"cannot connect to the SMTP server 127.0.0.1:{port} (no answer within 0.2 s)"
    )


def test_one_session_sends_many_messages_over_one_connection(pbx: Pbx, mailbox: Mailbox) -> None:
    use_mailbox(pbx, mailbox)
    mailer = Mailer(pbx)
    with mailer.session():
        for n in range(3):
            mailer.send(f"user{n}@example.com", f"Message {n}", "text")
    assert [d.rcpt_tos for d in mailbox.received] == [
        ["user0@example.com"],
        ["user1@example.com"],
        ["user2@example.com"],
    ]


# --- the test email of the API ----------------------------------------------------------


def test_the_smtp_test_endpoint_sends_a_test_email_and_logs_it(
    client: TestClient, pbx: Pbx, mailbox: Mailbox
) -> None:
    use_mailbox(pbx, mailbox)
    assert check(client.post("/api/v1/system/smtp/test", json={"to": "admin@example.com"})) == {
        "sent": True,
        "to": "admin@example.com",
    }
    [delivery] = mailbox.to("admin@example.com")
    assert "test email" in delivery.message["Subject"]
    assert "set up correctly" in decoded(delivery.message)
    [entry] = AuditLog(pbx).list(action="test_email").items
    assert entry["changes"] == [{"path": "to", "before": None, "after": "admin@example.com"}]


def test_the_smtp_test_without_settings_is_a_conflict_naming_them(client: TestClient) -> None:
    response = client.post("/api/v1/system/smtp/test", json={"to": "admin@example.com"})
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert "system.smtp.host" in response.json()["message"]


def test_the_smtp_test_reports_a_refusing_server_as_502(
    client: TestClient, pbx: Pbx, mailbox: Mailbox
) -> None:
    use_mailbox(pbx, mailbox)
    mailbox.refuse.add("admin@example.com")
    response = client.post("/api/v1/system/smtp/test", json={"to": "admin@example.com"})
    assert response.status_code == 502
    assert response.json() == {
        "error": "mail_failed",
        "message": "the SMTP server refused the recipient admin@example.com",
    }


def test_the_smtp_test_needs_an_email_address(client: TestClient) -> None:
    response = client.post("/api/v1/system/smtp/test", json={"to": "not an address"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "to"
